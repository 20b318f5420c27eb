"""Autosave: atomic recovery files keyed by the image, written at every accepted change; a crashed session's labels
come back exactly."""

import numpy as np
import pytest
from ui_helpers import AXIAL, draw_box, largest_slice, press, wait_idle

from gfm_napari.ui.autosave import (
    RECOVERY_ENV,
    Autosaver,
    load_recovery,
    recovery_dir,
    save_recovery,
)

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


def test_every_change_is_saved_at_once_and_changes_during_a_write_are_coalesced(qtbot, tmp_path, monkeypatch):
    import threading

    import gfm_napari.ui.autosave as module

    labels = np.zeros((8, 8), np.uint16)
    saver = Autosaver(tmp_path / "r.npz", lambda: labels)
    labels[1, 1] = 1
    saver.changed()  # saved at once: no throttle
    qtbot.waitUntil(lambda: saver.idle, timeout=5000)
    assert load_recovery(saver.path)[1, 1] == 1
    labels[2, 2] = 2
    saver.changed()  # the next change too, however soon after
    qtbot.waitUntil(lambda: saver.idle, timeout=5000)
    assert load_recovery(saver.path)[2, 2] == 2

    release, writes, save = threading.Event(), [], module.save_recovery

    def slow_save(path, snapshot):
        writes.append(snapshot.copy())
        release.wait(5)
        save(path, snapshot)

    monkeypatch.setattr(module, "save_recovery", slow_save)
    for value in (3, 4, 5):  # three changes while the first of them is being written
        labels[3, 3] = value
        saver.changed()
    assert not saver.idle
    release.set()
    qtbot.waitUntil(lambda: saver.idle, timeout=5000)
    assert [w[3, 3] for w in writes] == [3, 5]  # the latest right after the write under way, nothing in between
    np.testing.assert_array_equal(load_recovery(saver.path), labels)
    labels[4, 4] = 6
    saver.changed()
    saver.flush()  # flush waits for what is pending
    assert load_recovery(saver.path)[4, 4] == 6
    saver.close()


def test_a_failing_autosave_is_reported_once_and_retried(qtbot, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the recovery folder should be")
    labels = np.ones((4, 4), np.uint16)
    messages = []
    saver = Autosaver(blocked / "r.npz", lambda: labels, on_error=messages.append)
    for _ in range(3):
        saver.changed()
        qtbot.waitUntil(lambda: saver.idle, timeout=5000)
    assert len(messages) == 1 and "autosave" in messages[0] and "\n" not in messages[0]
    blocked.unlink()
    saver.changed()  # the folder can be made now: saved, and a later failure is reported again
    qtbot.waitUntil(lambda: saver.idle, timeout=5000)
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
