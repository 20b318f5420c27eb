"""The dock's Pretrain tab: continual pretraining of the image encoder runs in a subprocess on the open images,
shows its progress and both loss terms, can be cancelled (keeping its checkpoint and encoder) and resumed, and "Use
this encoder" segments with the result."""

import json
from pathlib import Path

import pytest
from ui_helpers import WAIT_MS, wait_idle

from gfm_napari.training.runs import exported_encoder, read_pretrain_progress

pytestmark = pytest.mark.gui


@pytest.fixture
def dock(open_ct, make_widget):
    """A dock on the CT showing its Pretrain tab, set for short runs (one crop per step: ~3.5 s on a CPU)."""
    widget = make_widget(open_ct())
    widget.tabs.setCurrentIndex(1)
    widget.pretrain_panel.crops.setValue(1)
    return widget


def test_a_pretrained_encoder_is_used_for_the_next_prompts(dock, ct_path, open_ct, make_widget, qtbot):
    widget, panel = dock, dock.pretrain_panel
    assert panel.paths() == [Path(ct_path)]  # the open image, filled in by the dock
    panel.steps.setValue(2)
    panel.frozen_stages.setValue(2)  # the CPU-feasible mode
    panel.pretrain_button.click()
    assert panel.running and not panel.pretrain_button.isEnabled()  # the viewer goes on meanwhile
    qtbot.waitUntil(lambda: not panel.running, timeout=5 * WAIT_MS)
    assert exported_encoder(panel.run_dir) is not None, panel.status.text()
    assert panel.progress.value() == 2 and panel.use_button.isEnabled()
    mim, feat = (line.get_ydata() for line in panel.plot.lines)
    assert len(mim) == len(feat) == 2  # both loss terms plotted against the step
    status = panel.status.text()
    assert "finished" in status and "step 2/2" in status and "L_MIM" in status and "L_feat" in status, status
    assert json.loads((panel.run_dir / "run.json").read_text())["config"]["frozen_stages"] == 2
    progress = read_pretrain_progress(panel.run_dir, 2)
    assert progress.processes == 1 and progress.l_mim[-1] > 0 and progress.l_feat[-1] > 0
    base_id = widget.models.active.model.model_id
    panel.use_button.click()
    qtbot.waitUntil(lambda: "+encoder-" in widget.models.active.model.model_id, timeout=WAIT_MS)
    wait_idle(qtbot, widget)
    assert widget.models.active.model.model_id.startswith(base_id + "+encoder-")
    assert f"pretrained encoder ({panel.run_dir.name})" in widget.model_combo.currentText()
    assert widget.session.predictor is widget.models.active  # the session segments with the new encoder now
    assert widget.models.base().model.model_id == base_id  # adapters and pretraining go on from the base
    later = make_widget(open_ct())  # another dock, the same recovery folder: the encoder is offered
    items = [later.model_combo.itemText(i) for i in range(later.model_combo.count())]
    assert any(f"pretrained encoder ({panel.run_dir.name})" in item for item in items), items


def test_cancel_keeps_the_checkpoint_and_the_encoder_and_pretraining_again_resumes(dock, qtbot, monkeypatch):
    panel = dock.pretrain_panel
    errors = []
    monkeypatch.setattr(panel, "_report", errors.append)
    panel.steps.setValue(1000)
    panel.pretrain_button.click()
    qtbot.waitUntil(lambda: read_pretrain_progress(panel.run_dir).step >= 1, timeout=5 * WAIT_MS)
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    assert not errors  # exit code 130: a stop, not a failure
    assert (panel.run_dir / "checkpoint.pt").exists() and exported_encoder(panel.run_dir) is not None
    assert "stopped" in panel.status.text() and panel.use_button.isEnabled()
    first_run, stopped_at = panel.run_dir, read_pretrain_progress(panel.run_dir).step
    panel.pretrain_button.click()
    assert panel.run_dir == first_run  # resumed, not started anew

    def started_at() -> int:
        return json.loads((first_run / "run.json").read_text())["started_at_step"]

    qtbot.waitUntil(lambda: started_at() > 0, timeout=5 * WAIT_MS)
    assert started_at() == stopped_at
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    assert not errors


def test_pretraining_without_images_is_a_notification(dock, monkeypatch):
    panel = dock.pretrain_panel
    errors = []
    monkeypatch.setattr(panel, "_report", errors.append)
    panel.data_list.selectAll()
    panel.remove_button.click()
    assert panel.paths() == []
    panel.pretrain_button.click()
    assert errors and "nothing to pretrain on" in str(errors[0]) and not panel.running
