"""The command line's parser: one module per command, built without torch (help is fast), and the values its help
shows taken from where they live (the model registry, the training and automatic-pass dataclasses)."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gfm_napari.cli import COMMANDS, build_parser
from gfm_napari.cli.arguments import box, ints, point, slice_range, window
from gfm_napari.cli.auto import settings


def _help(command: str) -> str:
    return " ".join(build_parser()._subparsers._group_actions[0].choices[command].format_help().split())


def test_the_parser_and_the_top_level_help_import_neither_torch_nor_the_models():
    code = ("import sys, contextlib, io\nfrom gfm_napari.cli import build_parser, main\nbuild_parser()\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])\n"
            "print(' '.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                 .stdout.split())
    assert not {m for m in loaded if m == "torch" or m.startswith(("gfm_napari.models", "gfm_napari.engine"))}


def test_each_command_module_adds_its_parser_and_runs_it():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert list(commands) == ["segment", "auto", "info", "evaluate", "train-adapter", "pretrain", "bench"]
    for module in COMMANDS:
        assert callable(module.add_parser) and callable(module.run)
    assert {commands[name].get_default("command").__module__ for name in commands} == {m.__name__ for m in COMMANDS}


def test_the_model_help_lists_the_registry_models():
    from gfm_napari.models import DEFAULT_MODEL, available_models

    text = _help("segment")
    assert f"{DEFAULT_MODEL} (default)" in text
    assert all(name in text for name in available_models())


def test_the_training_help_shows_the_presets_dataclass_defaults():
    from gfm_napari.training.adapters import AdapterTraining
    from gfm_napari.training.run_clicks import ClickRun

    adapter, clicks = AdapterTraining(), ClickRun(Path("recipe.json"), Path("data"), Path("run"))
    text = _help("train-adapter")
    assert f"--steps STEPS default: {adapter.loop.steps} (adapter), {clicks.loop.steps} (clicks)" in text
    assert f"default: {adapter.batch_size} (adapter), {clicks.batch_size} (clicks)" in text
    mix = ", ".join(f"{value:g}" for value in dataclasses.astuple(clicks.mix))
    assert f"(unnamed keys keep their defaults: {mix})" in text
    lrs = re.search(r"--lr LR default: (\S+) \(adapter\), (\S+) \(clicks\)", text)
    assert lrs is not None and (float(lrs[1]), float(lrs[2])) == (adapter.loop.lr, clicks.loop.lr)
    assert f"default: {adapter.loop.val_every} (adapter), {clicks.loop.val_every} (clicks)" in text


def test_pretrain_defaults_are_the_config_defaults():
    from gfm_napari.training.pretrain import PretrainConfig

    args = build_parser().parse_args(["pretrain", "--data", "images", "--out", "run"])
    config = PretrainConfig()
    for name in ("steps", "batch_size", "accumulate", "lr", "warmup", "mask_patch", "mask_ratio", "mim_weight",
                 "feat_weight", "stage", "teacher", "teacher_weights", "checkpoint_every", "seed"):
        assert getattr(args, name) == getattr(config, name), name


def test_unset_automatic_pass_options_are_the_settings_defaults_and_the_help_shows_them():
    from gfm_napari.engine.auto_window import AutoSettings

    defaults = AutoSettings()
    args = build_parser().parse_args(["auto", "ct.nii.gz", "-o", "labels.nii.gz"])
    assert settings(args) == defaults
    args = build_parser().parse_args(["auto", "ct.nii.gz", "--min-area", "40", "-o", "labels.nii.gz"])
    assert settings(args).min_area == 40
    text = " ".join(_help("auto").split())
    assert "(default automatic: clicks at most 16 px apart, at least 16 per side)" in text
    assert f"(default {defaults.min_stability})" in text


def test_option_types_parse_and_refuse():
    assert box("1,2,3,4") == (1.0, 2.0, 3.0, 4.0)
    assert point("5,6,-") == (5.0, 6.0, 0) and point("5,6") == (5.0, 6.0, 1)
    assert window("-600,1500") == (-600.0, 1500.0)
    assert ints("1,5") == [1, 5] and slice_range("2:5") == range(2, 5)
    for parse, text in ((box, "1,2,3"), (window, "40,0"), (ints, "a"), (slice_range, "5:2"), (point, "1,inf")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)
