"""Segment everything in the session: the objects found become new objects after the ones already drawn, on free
pixels only, as one undoable step (no model needed to check the bookkeeping)."""

import numpy as np
import pytest

from gfm_napari.engine.session import SegmentationSession
from gfm_napari.errors import PromptError

AXIAL, SLICE = 2, 15


@pytest.fixture
def session(shared_predictor, ct, ct_labels):
    labels = np.zeros(ct.spatial_shape, np.uint16)
    labels[ct_labels == 5] = 1  # the user has drawn the liver as object 1
    return SegmentationSession(shared_predictor, ct, labels=labels)


def _found(ct_labels):
    """An automatic pass's ids on the slice: spleen 1, liver 2 (overlaps the drawn liver), stomach 3."""
    plane = ct_labels[:, :, SLICE]
    return np.select([plane == 1, plane == 5, plane == 6], [1, 2, 3], 0).astype(np.int32)


def test_found_objects_are_numbered_after_the_drawn_ones_and_never_paint_over_them(session, ct_labels):
    before = session.labels.copy()
    added = session.apply_auto(AXIAL, SLICE, _found(ct_labels))
    plane = session.labels[:, :, SLICE]
    assert added == 2  # the liver found again has no free pixel left: only spleen and stomach are new (2, 3)
    assert np.array_equal(plane == 2, ct_labels[:, :, SLICE] == 1)
    assert np.array_equal(plane == 3, ct_labels[:, :, SLICE] == 6)
    assert np.array_equal(session.labels == 1, before == 1)
    assert np.array_equal(np.delete(session.labels, SLICE, axis=AXIAL), np.delete(before, SLICE, axis=AXIAL))
    assert session.object_id == 4


def test_one_undo_removes_every_found_object(session, ct_labels):
    before = session.labels.copy()
    session.apply_auto(AXIAL, SLICE, _found(ct_labels))
    assert session.undo()
    assert np.array_equal(session.labels, before)
    assert session.object_id == 2


def test_a_slice_outside_the_volume_is_refused(session, ct_labels):
    with pytest.raises(PromptError):
        session.apply_auto(AXIAL, 99, _found(ct_labels))


def test_the_pass_reports_each_decoder_call_so_a_cancel_lands_within_a_window(shared_predictor, ct):
    from gfm_napari.engine.auto import segment_everything
    from gfm_napari.images import fit_normalization

    calls = []
    decoder_for = shared_predictor.decoder_for

    def counted(embedding):
        calls.append(1)
        return decoder_for(embedding)

    shared_predictor.decoder_for = counted
    try:
        job = segment_everything(shared_predictor, ct, AXIAL, SLICE, normalization=fit_normalization(ct))
        reports = [next(job) for _ in range(4)]
        job.close()  # what the dock's Cancel does to the worker's generator
    finally:
        del shared_predictor.decoder_for
    assert [r.message for r in reports[1:]] == [f"segmenting everything: window 1 of 1, click {n} of 256"
                                                for n in (1, 9, 17)]  # a 16 x 16 grid, 8 clicks a call
    assert [r.done for r in reports] == [0, 0, 8, 16] and {r.total for r in reports} == {256}  # one bar, no restart
    assert len(calls) == 2  # closed after two of the window's 32 decoder calls
