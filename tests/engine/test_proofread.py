"""Proofreading a TotalSegmentator label map of the real CT: one object corrected with clicks, the rest untouched."""

import numpy as np
import pytest
from scipy import ndimage

from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.propagate import dice
from gfm_napari.engine.session import SegmentationSession
from gfm_napari.errors import PromptError
from gfm_napari.evaluation.clicker import next_click

LIVER, KIDNEY_RIGHT = 5, 2
AXIAL = 2


@pytest.fixture(scope="module")
def clicks_predictor(litemedsam_clicks):
    return Predictor(litemedsam_clicks)


@pytest.fixture(scope="module")
def liver_slice(ct_labels):
    return int(np.argmax((ct_labels == LIVER).sum(axis=(0, 1))))


@pytest.fixture
def imperfect(ct_labels, liver_slice):
    """TotalSegmentator's map with the liver eroded by 3 px on its largest slice (a model output to correct)."""
    labels = ct_labels.astype(np.uint16)
    plane = labels[:, :, liver_slice]
    liver = plane == LIVER
    plane[liver & ~ndimage.binary_erosion(liver, iterations=3)] = 0
    return labels


def test_a_mask_given_as_mask_input_comes_back_as_itself(clicks_predictor, ct_liver_plane):
    logits = clicks_predictor.mask_input(ct_liver_plane)
    assert logits.shape == (1, 1, 256, 256)
    back = clicks_predictor.upscale(logits, ct_liver_plane.shape)[0, 0].numpy() > 0
    assert dice(back, ct_liver_plane) > 0.97  # through 256 px and back: only the outline moves


def test_an_object_to_correct_starts_from_its_own_mask(clicks_predictor, ct, ct_labels, liver_slice):
    labels = ct_labels.astype(np.uint16)
    session = SegmentationSession(clicks_predictor, ct, labels=labels.copy())
    session.edit_object(AXIAL, liver_slice, LIVER)
    assert session.object_id == LIVER and session.stale_planes() == []
    np.testing.assert_array_equal(session.preview(AXIAL, liver_slice), labels[:, :, liver_slice] == LIVER)
    session.accept()
    np.testing.assert_array_equal(session.labels, labels)  # accepted without a click: nothing changes


def test_one_click_corrects_only_that_object_on_that_slice(clicks_predictor, ct, ct_labels, imperfect, liver_slice):
    before = imperfect.copy()
    session = SegmentationSession(clicks_predictor, ct, labels=imperfect)
    session.edit_object(AXIAL, liver_slice, LIVER)
    truth = ct_labels[:, :, liver_slice] == LIVER
    start = before[:, :, liver_slice] == LIVER
    x, y, sign = next_click(start, truth)
    session.add_point(AXIAL, liver_slice, x, y, positive=bool(sign))
    session.accept()
    after = session.labels
    corrected = after[:, :, liver_slice] == LIVER
    assert dice(corrected, truth) > dice(start, truth) + 0.03  # measured 0.847 -> 0.946
    changed = after != before
    assert changed.any() and not np.delete(changed, liver_slice, axis=AXIAL).any()
    # a changed voxel either left the liver (-> background) or joined it from the background
    left = (before[changed] == LIVER) & (after[changed] == 0)
    joined = (before[changed] == 0) & (after[changed] == LIVER)
    assert np.all(left | joined)


def test_undo_restores_the_object_and_the_current_id(clicks_predictor, ct, imperfect, liver_slice):
    before = imperfect.copy()
    session = SegmentationSession(clicks_predictor, ct, labels=imperfect)
    first_free = session.object_id
    session.edit_object(AXIAL, liver_slice, LIVER)
    session.add_point(AXIAL, liver_slice, 30.0, 40.0, positive=False)
    session.accept()
    assert session.undo() and session.undo()  # the accept, then the click: back to the object's own mask
    np.testing.assert_array_equal(session.labels, before)
    np.testing.assert_array_equal(session.preview(AXIAL, liver_slice), before[:, :, liver_slice] == LIVER)
    assert session.undo() and session.object_id == first_free and session.prompts() == {}


def test_an_object_absent_from_the_slice_is_refused(clicks_predictor, ct, ct_labels):
    session = SegmentationSession(clicks_predictor, ct, labels=ct_labels.astype(np.uint16))
    with pytest.raises(PromptError, match=r"object 2 is not on slice 25 along axis 2 \(it is on slices 0..18\)"):
        session.edit_object(AXIAL, 25, KIDNEY_RIGHT)
    with pytest.raises(PromptError, match=r"object 200 is not on slice 10 along axis 2 \(nor anywhere"):
        session.edit_object(AXIAL, 10, 200)
    assert not session.can_undo


def test_a_click_changes_the_object_only_in_the_region_it_was_put_on(clicks_predictor, ct, ct_labels, liver_slice):
    labels = ct_labels.astype(np.uint16)
    plane = labels[:, :, liver_slice]
    truth = plane == LIVER
    below = np.arange(plane.shape[0])[:, None] > np.percentile(np.nonzero(truth)[0], 70)
    plane[ndimage.binary_dilation(truth, iterations=8) & (plane == 0) & below] = LIVER  # a leak into its neighbours
    session = SegmentationSession(clicks_predictor, ct, labels=labels)
    session.edit_object(AXIAL, liver_slice, LIVER)
    start = session.preview(AXIAL, liver_slice).copy()
    x, y, sign = next_click(start, truth)
    assert sign == 0
    session.add_point(AXIAL, liver_slice, x, y, positive=False)
    changed = session.preview(AXIAL, liver_slice) != start
    regions, count = ndimage.label(changed, structure=np.ones((3, 3)))
    assert count == 1 and regions[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2].any()  # one region, at the click
    assert dice(session.preview(AXIAL, liver_slice), truth) > dice(start, truth) + 0.05
