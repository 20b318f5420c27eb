"""Autosave: throttled atomic recovery files keyed by the image; a crashed session's labels come back exactly."""

import numpy as np
import pytest
from ui_helpers import AXIAL, draw_box, largest_slice, press, wait_idle

from gfm_napari.ui.autosave import RECOVERY_ENV, Autosaver, load_recovery, recovery_dir, save_recovery

LIVER = 5


def test_a_recovery_file_holds_the_labels_bounding_box_and_gives_them_back_exactly(tmp_path, ct_labels):
    labels = np.zeros((122, 101, 30), np.uint16)
    labels[40:60, 30:50, 10:12] = ct_labels[40:60, 30:50, 10:12]
    path = tmp_path / "r.npz"
    save_recovery(path, labels)
    np.testing.assert_array_equal(load_recovery(path), labels)
    assert path.stat().st_size < labels.nbytes / 10
    assert load_recovery(tmp_path / "missing.npz") is None
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]  # no temporary file left behind


def test_the_recovery_folder_can_be_moved_by_an_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(RECOVERY_ENV, str(tmp_path))
    assert recovery_dir() == tmp_path
    assert recovery_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv(RECOVERY_ENV)
    assert recovery_dir().parts[-2:] == ("gfm-napari", "recovery")


def test_saves_are_throttled_and_flushed(qtbot, tmp_path):
    labels = np.zeros((8, 8), np.uint16)
    saver = Autosaver(tmp_path / "r.npz", lambda: labels, interval_s=60)
    labels[1, 1] = 1
    saver.changed()  # the first change of a quiet period is saved at once
    qtbot.waitUntil(lambda: load_recovery(saver.path) is not None)
    labels[2, 2] = 2
    saver.changed()  # the next waits for the interval ...
    assert load_recovery(saver.path)[2, 2] == 0
    saver.flush()  # ... or a flush
    np.testing.assert_array_equal(load_recovery(saver.path), labels)
    saver.close()


@pytest.mark.gui
def test_labels_of_a_crashed_session_are_restored_exactly(open_ct, make_widget, ct_labels, tmp_path, qtbot):
    folder = tmp_path / "recovery"
    viewer = open_ct()
    widget = make_widget(viewer, recovery_folder=folder)
    liver = ct_labels == LIVER
    draw_box(viewer, widget, liver, AXIAL, largest_slice(liver))
    press(viewer, "a")
    wait_idle(qtbot, widget)
    accepted = widget.labels_layer.data.copy()
    assert accepted.any()
    qtbot.waitUntil(lambda: any(folder.glob("*.npz")))
    # the crash: that widget is dropped without closing; the same image is opened again elsewhere
    again = make_widget(open_ct(), recovery_folder=folder)
    assert not again.restore_button.isHidden() and not again.labels_layer.data.any()
    again.restore_recovery()
    wait_idle(qtbot, again)
    np.testing.assert_array_equal(again.labels_layer.data, accepted)
    again.undo()  # restoring is one undoable step
    wait_idle(qtbot, again)
    assert not again.labels_layer.data.any()
