"""The segmentation session on the real abdominal CT: prompts, previews, accept, objects, undo/redo, propagation."""

import numpy as np
import pytest

from gfm_napari.engine.prompts import box_from_mask
from gfm_napari.engine.session import SegmentationSession
from gfm_napari.errors import PromptError
from gfm_napari.evaluation.prompted import dice
from gfm_napari.images import Normalization
from gfm_napari.jobs import run

LIVER, SPLEEN, KIDNEY_RIGHT = 5, 1, 2
AXIAL = 2


def largest_slice(truth: np.ndarray) -> int:
    return int(np.argmax(truth.sum(axis=(0, 1))))


def box_on(truth: np.ndarray, index: int):
    return box_from_mask(truth[:, :, index])


@pytest.fixture
def session(shared_predictor, ct):
    return SegmentationSession(shared_predictor, ct)


def test_a_box_on_the_liver_previews_its_largest_cross_section(session, ct_labels):
    truth = ct_labels == LIVER
    index = largest_slice(truth)
    session.set_box(AXIAL, index, box_on(truth, index))
    assert session.stale_planes() == [(AXIAL, index)]
    mask = session.preview(AXIAL, index)
    assert dice(mask, truth[:, :, index]) >= 0.93  # measured 0.966
    assert session.stale_planes() == [] and not session.labels.any()  # a preview is not a label yet


def test_negative_clicks_alone_preview_nothing_until_a_positive_click(session, ct_labels):
    truth = ct_labels == LIVER
    index = largest_slice(truth)
    session.add_point(AXIAL, index, 5.0, 5.0, positive=False)  # outside the body
    assert not session.preview(AXIAL, index).any()  # was: a mask of something arbitrary
    rows, cols = np.nonzero(truth[:, :, index])
    middle = len(rows) // 2
    session.add_point(AXIAL, index, float(cols[middle]), float(rows[middle]))
    assert session.preview(AXIAL, index).any()  # the fixture's box-trained base: a click gives some mask


def test_accept_paints_the_current_id_and_never_overwrites_another_object(session, ct_labels):
    liver, spleen = ct_labels == LIVER, ct_labels == SPLEEN
    index = largest_slice(liver)
    session.set_box(AXIAL, index, box_on(liver, index))
    preview = session.preview(AXIAL, index).copy()
    assert session.accept()
    np.testing.assert_array_equal(session.labels[:, :, index] == 1, preview)
    assert not np.delete(session.labels, index, axis=AXIAL).any() and session.prompts() == {}
    assert session.new_object() == 2
    session.set_box(AXIAL, index, box_on(spleen, index))
    session.accept()
    np.testing.assert_array_equal(session.labels[:, :, index] == 1, preview)  # liver voxels kept
    assert (session.labels == 2).any()


def test_new_object_does_not_skip_ids_when_nothing_was_drawn(session):
    assert session.object_id == 1
    assert session.new_object() == 1
    assert not session.can_undo


def test_undo_and_redo_walk_through_prompts_objects_and_labels_exactly(session, ct_labels):
    liver, spleen = ct_labels == LIVER, ct_labels == SPLEEN
    index = largest_slice(liver)
    snapshots = [(session.labels.copy(), session.prompts(), session.object_id)]

    def snap():
        snapshots.append((session.labels.copy(), session.prompts(), session.object_id))

    session.set_box(AXIAL, index, box_on(liver, index))
    snap()
    session.add_point(AXIAL, index, 60, 40, positive=False)
    snap()
    session.accept()
    snap()
    session.new_object()
    snap()
    session.set_box(AXIAL, index, box_on(spleen, index))
    snap()
    session.accept()
    snap()
    session.clear_object()
    snap()

    def assert_state(expected):
        labels, prompts, object_id = expected
        np.testing.assert_array_equal(session.labels, labels)
        assert session.object_id == object_id
        assert prompts.keys() == session.prompts().keys()
        for key, value in prompts.items():
            np.testing.assert_array_equal(session.prompts()[key].points, value.points)
            assert session.prompts()[key].box == value.box

    for expected in reversed(snapshots[:-1]):
        assert session.undo()
        assert_state(expected)
    assert not session.undo()
    for expected in snapshots[1:]:
        assert session.redo()
        assert_state(expected)
    assert not session.redo()


def test_history_keeps_bounding_box_patches_and_a_memory_bound(shared_predictor, ct, ct_labels):
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    session = SegmentationSession(shared_predictor, ct, max_undo_mb=0.5)
    for _ in range(6):
        session.set_box(AXIAL, index, box_on(liver, index))
        session.accept()
        session.clear_object()
    assert session.history_nbytes <= 0.5 * 2**20 + 300_000  # one step may exceed the bound on its own
    assert session.can_undo
    fresh = SegmentationSession(shared_predictor, ct)
    fresh.set_box(AXIAL, index, box_on(liver, index))
    fresh.accept()
    before = fresh.history_nbytes
    fresh.clear_object()  # a step holding only a labels patch
    rows, cols, _ = ct.spatial_shape
    assert 0 < fresh.history_nbytes - before <= rows * cols * 2  # at most one uint16 slice, not the volume


def test_prompts_outside_the_plane_are_refused_and_boxes_are_clipped(session):
    with pytest.raises(PromptError):
        session.add_point(AXIAL, 5, 500, 3)
    with pytest.raises(PromptError):
        session.set_box(AXIAL, 5, (200, 200, 300, 300))
    with pytest.raises(PromptError):
        session.add_point(AXIAL, 30, 5, 5)
    assert not session.can_undo
    session.set_box(AXIAL, 5, (-10, -4, 50, 500))
    assert session.prompts()[(AXIAL, 5)].box == (0.0, 0.0, 50.0, 121.0)
    assert session.remove_point(AXIAL, 5, 1, 1) is False


def test_a_dragged_click_moves_with_its_sign_as_one_undo_step(session, ct_labels):
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    session.add_point(AXIAL, index, 40.0, 50.0, positive=False)
    assert session.move_point(AXIAL, index, (40.2, 49.7), (45.0, 55.0))
    moved = session.prompts()[(AXIAL, index)]
    np.testing.assert_array_equal(moved.points, [[45.0, 55.0]])
    np.testing.assert_array_equal(moved.labels, [0])
    assert session.move_point(AXIAL, index, (10.0, 10.0), (12.0, 12.0)) is False  # no click there
    with pytest.raises(PromptError):
        session.move_point(AXIAL, index, (45.0, 55.0), (500.0, 3.0))
    session.undo()
    np.testing.assert_array_equal(session.prompts()[(AXIAL, index)].points, [[40.0, 50.0]])


def test_logits_are_fed_back_only_when_switched_on(shared_predictor, ct, ct_labels):
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    seen = []

    class Spy:
        model = shared_predictor.model

        def __getattr__(self, name):
            return getattr(shared_predictor, name)

        def predict_prompts(self, embedding, prompts, mask_input=None):
            seen.append(mask_input)
            return shared_predictor.predict_prompts(embedding, prompts, mask_input)

    for feedback in (None, True):
        session = SegmentationSession(Spy(), ct, feedback_logits=feedback)
        session.set_box(AXIAL, index, box_on(liver, index))
        first = session.preview(AXIAL, index)
        assert first is not None
        session.add_point(AXIAL, index, *box_on(liver, index)[:2], positive=True)
        session.preview(AXIAL, index)
    assert seen[0] is None and seen[1] is None  # litemedsam (box-trained): off by default
    assert seen[2] is None and seen[3] is not None and tuple(seen[3].shape) == (1, 1, 256, 256)


def test_a_new_ct_window_makes_previews_stale_without_touching_labels(session, ct_labels):
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    session.set_box(AXIAL, index, box_on(liver, index))
    session.preview(AXIAL, index)
    session.set_normalization(Normalization.ct_window(400.0, 1800.0))
    assert session.stale_planes() == [(AXIAL, index)] and session.previews() == {}
    assert session.needs_embedding(AXIAL, index)  # a new window is a new cache key: nothing stale is reused


def test_propagation_is_one_undo_step_and_restarts_from_a_corrected_slice(session, ct_labels):
    truth = ct_labels == KIDNEY_RIGHT
    index = largest_slice(truth)
    session.set_box(AXIAL, index, box_on(truth, index))
    volume = run(session.propagate_job(AXIAL, index))
    assert not session.labels.any()  # the job alone changes nothing
    session.apply_propagation(AXIAL, index, volume)
    assert dice(session.labels == 1, truth) >= 0.80  # measured 0.838
    assert session.prompts() == {}
    first = session.labels.copy()

    corrected = index + 3
    session.set_box(AXIAL, corrected, box_on(truth, corrected))
    fix = session.preview(AXIAL, corrected).copy()
    session.apply_propagation(AXIAL, corrected, run(session.propagate_job(AXIAL, corrected)))
    np.testing.assert_array_equal(session.labels[:, :, corrected] == 1, fix)

    assert session.undo()
    np.testing.assert_array_equal(session.labels, first)
    assert session.undo() and session.undo()  # the propagation, then the box
    assert not session.labels.any()
    session.redo()
    session.redo()
    np.testing.assert_array_equal(session.labels, first)


def test_propagation_needs_something_on_its_start_slice(session):
    with pytest.raises(PromptError, match="empty on slice 3"):
        run(session.propagate_job(AXIAL, 3))
