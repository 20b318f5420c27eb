"""Segment everything from the dock: a cancellable job on the slice on screen, its objects one undoable step."""

import numpy as np
import pytest
from napari.utils.notifications import notification_manager
from ui_helpers import AXIAL, wait_idle

from gfm_napari.engine.predictor import Predictor
from gfm_napari.evaluation.automatic import match_objects, truth_objects

pytestmark = pytest.mark.gui
SLICE = 12


def test_segment_everything_adds_the_organs_of_the_slice_as_objects_and_one_undo_removes_them(
    open_ct, make_widget, litemedsam_clicks, ct_labels, qtbot
):
    viewer = open_ct()
    widget = make_widget(viewer, Predictor(litemedsam_clicks))
    viewer.dims.set_current_step(AXIAL, SLICE)
    wait_idle(qtbot, widget)
    widget.auto_button.click()
    qtbot.waitUntil(lambda: not widget.queue.running_job, timeout=300_000)
    wait_idle(qtbot, widget)
    labels = np.asarray(widget.labels_layer.data)
    assert not np.delete(labels, SLICE, axis=AXIAL).any()  # only the slice on screen
    counts = match_objects(truth_objects(ct_labels[:, :, SLICE], 50, instances=False), labels[:, :, SLICE])
    assert counts["matched"] >= 7, counts  # measured 9 of the 15 reference structures at IoU >= 0.5
    assert "Segment everything added" in notification_manager.records[-1].message
    widget.undo()
    wait_idle(qtbot, widget)
    assert not np.asarray(widget.labels_layer.data).any()
