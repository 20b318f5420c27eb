"""The plane: which (axis, index) pairs exist, a volume's defaults, its pixels as a view, its point coordinates."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gfm_napari.errors import PromptError
from gfm_napari.images import Geometry, Image, Plane, axial_axis, read_image


def _volume(shape=(4, 5, 6)) -> Image:
    return Image(array=np.arange(np.prod(shape)).reshape(shape), geometry=Geometry(spacing=(1.0, 1.0, 1.0)),
                 modality="MR", source=Path("synthetic.nii"))  # fmt: skip


def _flat(shape=(5, 6)) -> Image:
    return Image(array=np.zeros(shape), geometry=Geometry(spacing=(1.0, 1.0)), modality="photo",
                 source=Path("synthetic.png"))  # fmt: skip


def test_the_axial_axis_of_the_ras_ct_is_its_third_array_axis(ct):
    assert axial_axis(ct) == 2


def test_a_volume_without_an_affine_slices_along_its_last_axis():
    assert axial_axis(_volume()) == 2 and axial_axis(_flat()) == 1


def test_of_defaults_to_the_middle_axial_slice_and_keeps_what_is_given():
    volume = _volume()
    assert Plane.of(volume) == Plane(2, 3)
    assert Plane.of(volume, 0) == Plane(0, 2)
    assert Plane.of(volume, 1, 4) == Plane(1, 4)
    assert Plane.of(_flat()) == Plane() and Plane.of(_flat(), 0, 0).key == (None, None)


def test_at_takes_no_defaults():
    assert Plane.at(_volume(), 1, np.int64(0)) == Plane(1, 0)
    assert type(Plane.at(_volume(), np.int64(1), 0).axis) is int
    assert Plane.at(_flat(), None, None) == Plane()


@pytest.mark.parametrize(
    ("axis", "index", "text"),
    [
        (2, 6, "slice 6 along axis 2 is out of range: axis 2 has slices 0..5"),
        (2, -1, "slice -1 along axis 2 is out of range: axis 2 has slices 0..5"),
        (3, 0, "slice 0 along axis 3 is out of range: a 3D image has axes 0..2"),
        (None, 0, "slice 0 along axis None is out of range: a 3D image has axes 0..2"),
        (0, None, "slice None along axis 0 is out of range: axis 0 has slices 0..3"),
        (True, 0, "slice 0 along axis True is out of range: a 3D image has axes 0..2"),
        (0, 1.0, "slice 1.0 along axis 0 is out of range: axis 0 has slices 0..3"),
    ],
)
def test_a_plane_that_does_not_exist_is_one_prompt_error_naming_axis_slice_and_range(axis, index, text):
    with pytest.raises(PromptError, match=f"^{re.escape(text)}$"):
        Plane.at(_volume(), axis, index)


def test_of_checks_what_is_given():
    with pytest.raises(PromptError, match="slice 9 along axis 1 is out of range"):
        Plane.of(_volume(), 1, 9)
    with pytest.raises(PromptError, match="a 2D image has no slices"):
        Plane.of(_flat(), None, 3)
    with pytest.raises(PromptError, match="a 2D image has no slices"):
        Plane.at(_flat(), 2, None)
    with pytest.raises(PromptError, match="2D image"):
        Plane.at(_flat(), 0, 1)


def test_take_is_numpy_take_as_a_view(sample):
    ct = read_image(sample("ct"))
    for axis in range(3):
        np.testing.assert_array_equal(Plane(axis, 7).take(ct.array), np.take(ct.array, 7, axis))
    assert Plane.at(ct, 2, 29).take(ct.array).shape == (122, 101)
    volume = np.zeros((3, 4, 5), bool)
    Plane(1, 2).take(volume)[...] = True
    assert volume[:, 2, :].all() and volume.sum() == 15


def test_take_of_a_2d_image_is_the_image(sample):
    image = read_image(sample("ct_small"))
    assert Plane.of(image).take(image.array) is image.array


def test_in_plane_axes_region_and_block_agree_with_take():
    volume = np.arange(60).reshape(3, 4, 5)
    for axis in range(3):
        plane = Plane(axis, 1)
        rows, cols = plane.in_plane_axes
        assert plane.take(volume).shape == (volume.shape[rows], volume.shape[cols])
        np.testing.assert_array_equal(volume[plane.region(volume.shape)], plane.as_block(plane.take(volume)))
    assert Plane().in_plane_axes == (0, 1) and Plane().region((4, 5)) == (slice(0, 4), slice(0, 5))


def test_plane_coordinates_follow_numpy_take_with_x_as_column():
    assert Plane.to_plane([7.0, 3.2, 11.6], axis=2) == (12, 3.2, 7.0)
    assert Plane.to_plane([7.0, 3.2, 11.6], axis=0) == (7, 11.6, 3.2)
    assert Plane.to_plane([4.0, 9.0], axis=None) == (None, 9.0, 4.0)
    np.testing.assert_array_equal(Plane(1, 5).from_plane(x=2.0, y=8.0), [8.0, 5.0, 2.0])
    np.testing.assert_array_equal(Plane().from_plane(x=2.0, y=8.0), [8.0, 2.0])


def test_planes_holding_spreads_picks_over_the_planes_that_hold_the_mask():
    from gfm_napari.images.plane import planes_holding

    mask = np.zeros((10, 4, 4), bool)
    mask[2:9, :2, :2] = True  # 4 pixels on planes 2..8
    mask[5, 0, 0] = False  # plane 5 holds 3
    assert planes_holding(mask, 0, 20) == [2, 3, 4, 5, 6, 7, 8]
    assert planes_holding(mask, 0, 3) == [2, 5, 8]  # first to last
    assert planes_holding(mask, 0, 3, min_pixels=4) == [2, 4, 8]  # of 2, 3, 4, 6, 7, 8
    assert planes_holding(mask, 0, 1, centres=True) == [5]  # the middle one
    assert planes_holding(mask, 0, 2, centres=True, min_pixels=4) == [3, 7]
    assert planes_holding(mask, 1, 5) == [0, 1]
