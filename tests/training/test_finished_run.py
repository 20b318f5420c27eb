"""A run that already reached its last step is not prepared again: train_adapter returns its summary at once."""

import json

import torch

from gfm_napari.jobs import run
from gfm_napari.training import adapters
from gfm_napari.training.adapters import AdapterTraining, finished_adapter_run, train_adapter
from gfm_napari.training.loop import LoopConfig, train_loop


def _finished_run(out, steps):
    weight = torch.nn.Parameter(torch.zeros(2))
    run(train_loop({"w": weight}, lambda rng: {"loss": ((weight - 1) ** 2).sum()}, lambda: {"score": 0.5}, out,
                   LoopConfig(steps=steps, val_every=steps, checkpoint_every=steps)))
    (out / "data.json").write_text(json.dumps({"train_planes": 3, "validation_planes": 1}))


def test_a_finished_run_returns_its_summary_without_caching(tmp_path, monkeypatch):
    _finished_run(tmp_path, 2)
    monkeypatch.setattr(adapters, "_plane_objects", lambda *a, **k: (_ for _ in ()).throw(AssertionError("cached")))
    reports = []
    settings = AdapterTraining(loop=LoopConfig(steps=2))
    result = run(train_adapter(None, [], settings, tmp_path), reports.append)
    assert reports == [] and result["finished_before"] and result["step"] == 2 and result["train_planes"] == 3


def test_a_run_asked_for_more_steps_is_not_finished(tmp_path):
    _finished_run(tmp_path, 2)
    assert finished_adapter_run(tmp_path, AdapterTraining(loop=LoopConfig(steps=3))) is None
    assert finished_adapter_run(tmp_path / "none", AdapterTraining(loop=LoopConfig(steps=2))) is None
