"""``gfm-napari train-adapter --preset clicks``: the prompt path trained from a data recipe (its options and its run;
the command's parser is :mod:`.train_adapter`'s)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import GfmError
from . import models, progress
from .arguments import click_mix
from .outputs import check_output
from .training_runs import check_run_out, say_finished


def add_options(parser: argparse.ArgumentParser) -> None:
    clicks = parser.add_argument_group("--preset clicks: a data recipe")
    clicks.add_argument("--data", type=Path, help="root folder the recipe's paths are relative to")
    clicks.add_argument("--recipe", type=Path, help="data recipe JSON (default: the preset's own)")
    clicks.add_argument("--start-from", type=Path, metavar="WEIGHTS",
                        help="prompt-path weights (safetensors with a sidecar naming its base) loaded over --model's "
                        "before training, e.g. the raster path (docs/clicks/tree_crowns/raster_path_overlay.py)")
    clicks.add_argument("--no-distill", action="store_true", help="real labels only, no self-distillation")
    clicks.add_argument("--mix", type=click_mix, default=None, metavar="KEY=VALUE,...",
                        help="prompt sequences, e.g. single_click=0.25,click_corrections=0.45,box_only=0.15,"
                        "max_corrections=10,feed_logits=0.8 (unnamed keys keep their defaults: 0.4, 0.2, 0.2, 5, 0.5)")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from importlib.resources import files

    from ..jobs import run as run_job
    from ..training.run_clicks import ClickRun, export_clicks, train_clicks

    if args.data is None:
        raise GfmError("--preset clicks needs --data DIR (the root of the recipe's paths)")
    check_run_out(args)
    inputs = [("--recipe", args.recipe), ("--start-from", args.start_from), *models.model_inputs(args)]
    check_output(args.export, "--export", "the prompt-path weights", suffixes=(".safetensors",), inputs=inputs,
                 created=args.out)
    if args.export is not None:  # and its JSON sidecar
        check_output(args.export.with_suffix(".json"), "--export", "its sidecar", inputs=inputs, created=args.out)
    recipe = args.recipe or Path(str(files("gfm_napari") / "resources" / "presets" / f"{args.preset}.json"))
    defaults = ClickRun(recipe, args.data, args.out)
    loop = dataclasses.replace(defaults.loop, steps=args.steps or defaults.loop.steps, lr=args.lr or defaults.loop.lr,
                               seed=args.seed, val_every=args.val_every or defaults.loop.val_every)
    settings = dataclasses.replace(defaults, batch_size=args.batch_size or defaults.batch_size,
                                   distill=not args.no_distill, loop=loop, mix=args.mix or defaults.mix)
    args.model = args.model or "litemedsam"
    model = models.load(args, fast=False)  # the modules as in the checkpoint: the documented runs retrace exactly
    if args.start_from is not None:
        model = models.with_adapter(model, args.start_from)
    with progress.bar(args, "train") as bar:
        result = run_job(train_clicks(model, settings), progress.steps(args, bar))
    say_finished(result, args.out, loop.steps)
    if args.export:
        command = "gfm-napari " + " ".join(sys.argv[1:])
        export_clicks(args.out, args.export, model, {"command": command, "seed": args.seed, **result})
        print(f"wrote {args.export}")
    return 0
