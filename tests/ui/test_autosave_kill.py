"""Autosave holds under ``kill -9``: a viewer process killed right after an Accept loses nothing it accepted."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from autosave_child import digest
from ui_helpers import wait_idle

CHILD = Path(__file__).with_name("autosave_child.py")


@pytest.mark.gui
def test_accepted_labels_of_a_killed_viewer_are_restored_exactly(
    open_ct, make_widget, ct_path, shared_data, tmp_path, qtbot
):
    folder = tmp_path / "recovery"
    seg = shared_data / "ct_totalseg" / "example_seg.nii.gz"
    # the child runs on the same X display as this test (DISPLAY is inherited from xvfb-run)
    child = subprocess.Popen(
        [sys.executable, str(CHILD), ct_path, str(seg), str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ.copy(),
    )
    accepted = []
    try:
        for line in child.stdout:
            if line.startswith("ACCEPTED"):
                accepted.append(line.split())
                if len(accepted) == 2:  # the second Accept came well within any throttle of the first
                    child.send_signal(signal.SIGKILL)  # at once: no waiting for a later save
                    break
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL and len(accepted) == 2, "the viewer process ended before both Accepts"
    *_, expected_digest, expected_count = accepted[-1]
    assert int(expected_count) > 0

    again = make_widget(open_ct(), recovery_folder=folder)
    assert not again.restore_button.isHidden()
    again.restore_recovery()
    wait_idle(qtbot, again)
    restored = again.labels_layer.data
    assert set(np.unique(restored)) == {0, 1, 2}  # liver and spleen
    assert np.count_nonzero(restored) == int(expected_count) and digest(restored) == expected_digest
    assert [p.name for p in folder.iterdir()] == [f"{again.autosaver.path.name}"]  # nothing else left there
