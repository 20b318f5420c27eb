"""A run whose training steps never beat the untouched model on validation says so: its export changes nothing."""

import itertools
import json

import torch

from gfm_napari.cli.training_runs import say_finished
from gfm_napari.jobs import run
from gfm_napari.training.loop import LoopConfig, train_loop
from gfm_napari.training.run_files import LOG
from gfm_napari.training.runs import NOTHING_LEARNT, read_progress


def _run(out, scores):
    weight = torch.nn.Parameter(torch.zeros(2))
    score = iter(scores)
    return run(train_loop({"w": weight}, lambda rng: {"loss": ((weight - 1) ** 2).sum()},
                          lambda: {"score": next(score)}, out, LoopConfig(steps=4, val_every=2, checkpoint_every=4)))


def test_a_run_that_never_beat_step_0_says_its_export_changes_nothing(tmp_path, capsys):
    result = _run(tmp_path, [0.7, 0.5, 0.7])  # steps 0, 2, 4: a tie with the untouched model is no gain
    progress = read_progress(tmp_path)
    assert result["best_step"] == progress.best_step == 0 and progress.learnt_nothing
    say_finished(result, tmp_path, 4)
    assert NOTHING_LEARNT in capsys.readouterr().out


def test_a_run_that_improved_names_its_best_step_only(tmp_path, capsys):
    result = _run(tmp_path, itertools.count(0.5, 0.1))
    progress = read_progress(tmp_path)
    assert result["best_step"] == progress.best_step == 4 and not progress.learnt_nothing
    say_finished(result, tmp_path, 4)
    assert capsys.readouterr().out.splitlines() == [f"best validation score 0.7000 at step 4 in {tmp_path}"]


def test_a_run_stopped_before_its_first_step_has_learnt_nothing_to_report(tmp_path):
    (tmp_path / LOG).write_text(json.dumps({"step": 0, "val": {"score": 0.7}}) + "\n")
    progress = read_progress(tmp_path)
    assert progress.best_step == 0 and not progress.learnt_nothing
