"""Label-map edits alone: an object painted, removed, propagated, and an automatic pass added, never over others."""

from __future__ import annotations

import numpy as np
import pytest

from gfm_napari.engine.label_edits import added, merged, painted, propagated, removed, slices_reached
from gfm_napari.errors import PromptError
from gfm_napari.images import Plane


def _apply(labels: np.ndarray, edit) -> np.ndarray:
    out = labels.copy()
    region, values = edit
    out[region] = values
    return out


def test_merged_replaces_the_object_and_keeps_the_others():
    block = np.array([[0, 3, 3, 5]], np.uint16)
    mask = np.array([[True, True, False, True]])
    np.testing.assert_array_equal(merged(block, mask, 3), [[3, 3, 0, 5]])


def test_painted_touches_only_the_box_around_the_mask_and_the_object_on_that_plane():
    labels = np.zeros((3, 6, 6), np.uint16)
    labels[1, 0, 0] = 2  # the object elsewhere on the plane: removed there
    labels[0, 3, 3] = 2  # on another plane: kept
    labels[1, 4, 4] = 9  # another object: kept
    mask = np.zeros((6, 6), bool)
    mask[3:5, 3:5] = True
    region, values = painted(labels, Plane(0, 1), mask, 2)
    assert region == (slice(1, 2), slice(0, 5), slice(0, 5))
    out = _apply(labels, (region, values))
    assert out[1, 0, 0] == 0 and out[0, 3, 3] == 2 and out[1, 4, 4] == 9 and (out[1] == 2).sum() == 3
    assert painted(labels, Plane(0, 2), np.zeros((6, 6), bool), 2) is None


def test_removed_clears_every_voxel_of_the_object():
    labels = np.zeros((4, 4), np.uint16)
    labels[1, 1] = labels[2, 3] = 4
    labels[2, 2] = 1
    out = _apply(labels, removed(labels, 4))
    assert not (out == 4).any() and out[2, 2] == 1
    assert removed(labels, 7) is None


def test_propagated_replaces_the_object_only_on_the_slices_reached():
    labels = np.zeros((3, 3, 5), np.uint16)
    labels[:, :, 0] = 1  # object 1 on a slice the propagation does not reach: kept
    labels[0, 0, 2] = 1
    volume = np.zeros(labels.shape, bool)
    volume[1, 1, 1:3] = True
    reached = slices_reached(volume, 2)
    np.testing.assert_array_equal(reached, [1, 2])
    region, values = propagated(labels, 2, volume, reached, 1)
    assert region[2] == slice(1, 3)
    out = _apply(labels, (region, values))
    assert (out[:, :, 0] == 1).all() and out[0, 0, 2] == 0 and out[1, 1, 1] == out[1, 1, 2] == 1
    assert propagated(labels, 2, np.zeros_like(volume), np.array([], int), 1) is None


def test_added_numbers_new_objects_after_the_largest_id_on_free_pixels_only():
    labels = np.zeros((2, 4, 4), np.uint16)
    labels[1, 0, :] = 7
    found = np.zeros((4, 4), np.int32)
    found[0, :] = 1  # only on object 7's pixels: left out
    found[2:, 2:] = 2
    (region, values), count = added(labels, Plane(0, 1), found)
    out = _apply(labels, (region, values))
    assert count == 1 and (out[1, 2:, 2:] == 8).all() and (out[1, 0] == 7).all() and not out[0].any()
    full = np.full((3, 3), 65535, np.uint16)
    full[0, 0] = 0
    with pytest.raises(PromptError, match="no room for 1 more objects"):
        added(full, Plane(), np.ones((3, 3), np.int32))
