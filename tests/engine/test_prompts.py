"""Prompt validation and the plane ↔ model-input coordinate maths."""

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from gfm_napari.engine.prompts import Prompts, ResizeLongestSide, box_from_mask, interior_point
from gfm_napari.errors import PromptError


def test_resize_keeps_aspect_and_maps_corners_to_the_resized_frame():
    resize = ResizeLongestSide((122, 101), 256)
    assert resize.resized_shape == (256, 212)
    np.testing.assert_allclose(resize.points([[101, 122]]), [[212, 256]])
    np.testing.assert_allclose(resize.box((0, 0, 101, 122)), [0, 0, 212, 256])


def test_point_outside_the_plane_is_refused_with_its_coordinates():
    with pytest.raises(PromptError, match=r"point \(120, 5\) is outside the 101x122"):
        Prompts(np.array([[120, 5]]), np.array([1])).check((122, 101))


@pytest.mark.parametrize("box", [(10, 10, 10, 30), (30, 10, 20, 30)])
def test_empty_or_inverted_box_is_refused(box):
    with pytest.raises(PromptError, match="is empty"):
        Prompts(box=box).check((122, 101))


def test_box_outside_the_plane_is_refused():
    with pytest.raises(PromptError, match="outside"):
        Prompts(box=(-5, 0, 50, 50)).check((122, 101))


def test_no_prompt_at_all_is_refused():
    with pytest.raises(PromptError, match="no prompt"):
        Prompts().check((10, 10))


def test_labels_other_than_positive_or_negative_are_refused():
    with pytest.raises(PromptError, match="1 \\(positive\\) or 0"):
        Prompts(np.array([[1, 1]]), np.array([2]))


def test_box_from_mask_is_tight_then_grown_and_clipped(ct_liver_plane):
    rows, cols = np.nonzero(ct_liver_plane)
    assert box_from_mask(ct_liver_plane) == (cols.min(), rows.min(), cols.max(), rows.max())
    x0, y0, x1, y1 = box_from_mask(ct_liver_plane, margin=1000)
    assert (x0, y0, x1, y1) == (0, 0, ct_liver_plane.shape[1] - 1, ct_liver_plane.shape[0] - 1)
    assert box_from_mask(np.zeros((4, 4), bool)) is None


def test_interior_point_is_the_pixel_farthest_from_the_border(ct_liver_plane):
    x, y = interior_point(ct_liver_plane)
    distance = distance_transform_edt(np.pad(ct_liver_plane, 1))[1:-1, 1:-1]
    assert ct_liver_plane[int(y), int(x)]
    assert distance[int(y), int(x)] == distance.max()
