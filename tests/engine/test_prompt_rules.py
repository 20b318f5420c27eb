"""Prompt rules shared by the CLI and the dock: finite numbers, an object to segment, boxes clipped to the plane."""

import numpy as np
import pytest

from gfm_napari.engine.prompts import Prompts, clip_box
from gfm_napari.errors import PromptError


def test_a_box_covering_a_1x1_image_is_valid():
    assert clip_box((0, 0, 1, 1), (1, 1)) == (0.0, 0.0, 1.0, 1.0)
    Prompts(box=(0, 0, 1, 1)).check((1, 1))  # no error


def test_a_box_overlapping_the_plane_is_clipped_to_it():
    assert clip_box((-5, 10, 500, 50), (122, 101)) == (0.0, 10.0, 101.0, 50.0)


def test_a_box_entirely_outside_names_the_plane_size():
    with pytest.raises(PromptError, match=r"^box \(200, 10, 500, 50\) is outside the 101x122 \(x by y\) image$"):
        clip_box((200, 10, 500, 50), (122, 101))


def test_an_inverted_box_is_empty_even_when_clipping():
    with pytest.raises(PromptError, match="is empty"):
        clip_box((30, 10, 20, 50), (122, 101))


@pytest.mark.parametrize("box", [(np.nan, 0, 5, 5), (0, 0, np.inf, 5)])
def test_a_box_with_non_finite_numbers_is_refused(box):
    with pytest.raises(PromptError, match="is not 4 finite numbers"):
        Prompts(box=box)


def test_a_point_with_non_finite_numbers_is_refused():
    with pytest.raises(PromptError, match=r"point \(nan, 5\) is not a pair of finite numbers"):
        Prompts(np.array([[np.nan, 5.0]]), np.array([1]))


def test_negative_clicks_alone_cannot_start_a_segmentation():
    prompts = Prompts(np.array([[5.0, 5.0]]), np.array([0]))
    prompts.check((10, 10))  # a valid prompt (the dock adds clicks one by one) ...
    assert not prompts.has_object
    with pytest.raises(PromptError, match="needs at least one positive click or a box"):
        prompts.require_object()  # ... but not one to segment from


@pytest.mark.parametrize("prompts", [Prompts(box=(1, 1, 5, 5)), Prompts(np.array([[2.0, 2.0], [5.0, 5.0]]),
                                                                         np.array([0, 1]))])
def test_a_box_or_a_positive_click_is_an_object(prompts):
    assert prompts.has_object
    prompts.require_object()
