"""The dock's Adapter box: training runs in a subprocess from the labels drawn so far, shows its progress, can be
cancelled (keeping its checkpoint and best adapter) and resumed, and "Use adapter" segments with the result."""

import json

import numpy as np
import pytest
from ui_helpers import WAIT_MS, wait_idle

from gfm_napari.training.run_files import LOG
from gfm_napari.training.runs import NOTHING_LEARNT, exported_adapter, read_progress

pytestmark = pytest.mark.gui

LIVER, SLICES = 5, range(12, 18)


@pytest.fixture
def labelled_dock(open_ct, make_widget, ct_labels, qtbot):
    """The CT in the dock with the liver labelled on 6 axial slices (as if accepted there)."""
    viewer = open_ct()
    widget = make_widget(viewer)
    labels = np.zeros_like(widget.session.labels)
    labels[:, :, SLICES] = np.where(ct_labels[:, :, SLICES] == LIVER, 1, 0)
    widget.session.replace_labels(labels)
    return widget


def test_a_trained_adapter_is_used_for_the_next_prompts_and_offered_to_later_docks(
    labelled_dock, open_ct, make_widget, qtbot
):
    widget, panel = labelled_dock, labelled_dock.adapter_panel
    panel.steps.setValue(2)
    panel.train_button.click()
    assert panel.running and not panel.train_button.isEnabled()  # the viewer goes on meanwhile
    qtbot.waitUntil(lambda: not panel.running, timeout=5 * WAIT_MS)
    assert exported_adapter(panel.run_dir) is not None, panel.status.text()
    assert panel.progress.value() == 2 and panel.use_button.isEnabled()
    data = json.loads((panel.run_dir / "data.json").read_text())
    assert data["train_planes"] == 5 and data["validation_planes"] == 1  # 6 slices: 1-slice blocks, one validates
    base_id = widget.models.active.model.model_id
    panel.use_button.click()
    qtbot.waitUntil(lambda: "+adapter-" in widget.models.active.model.model_id, timeout=WAIT_MS)
    wait_idle(qtbot, widget)
    assert widget.models.active.model.model_id.startswith(base_id)
    assert "lora adapter" in widget.model_combo.currentText()
    assert widget.session.predictor is widget.models.active  # the session segments with the adapter now
    later = make_widget(open_ct())  # another dock, the same recovery folder
    items = [later.model_combo.itemText(i) for i in range(later.model_combo.count())]
    assert any(f"lora adapter ({panel.run_dir.name})" in item for item in items), items


def test_cancel_keeps_the_checkpoint_and_training_again_resumes(labelled_dock, qtbot):
    panel = labelled_dock.adapter_panel
    panel.steps.setValue(1000)
    panel.train_button.click()
    qtbot.waitUntil(lambda: read_progress(panel.run_dir).step >= 1, timeout=5 * WAIT_MS)
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    assert (panel.run_dir / "checkpoint.pt").exists() and exported_adapter(panel.run_dir) is not None
    assert "stopped" in panel.status.text()
    first_run = panel.run_dir
    panel.train_button.click()
    assert panel.run_dir == first_run  # resumed, not started anew
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)


def test_a_run_that_never_beat_the_untouched_model_says_so_instead_of_offering_a_gain(labelled_dock, tmp_path):
    panel = labelled_dock.adapter_panel
    panel.run_dir = tmp_path
    records = [{"step": 0, "val": {"score": 0.76}}, {"step": 1, "loss": 0.3}, {"step": 1, "val": {"score": 0.70}}]
    (tmp_path / LOG).write_text("".join(json.dumps(r) + "\n" for r in records))
    text = panel._ended_text(tmp_path / "adapter.safetensors")
    assert NOTHING_LEARNT in text and "Use adapter applies it" not in text


def test_training_without_labels_is_a_notification(open_ct, make_widget, monkeypatch):
    widget = make_widget(open_ct())
    errors = []
    monkeypatch.setattr(widget.adapter_panel, "_report", errors.append)
    widget.adapter_panel.train_button.click()
    assert errors and "label a few slices first" in str(errors[0]) and not widget.adapter_panel.running
