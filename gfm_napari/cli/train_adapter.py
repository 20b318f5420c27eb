"""``gfm-napari train-adapter``: encoder adapters trained from image/label pairs (``--preset adapter``), or the
prompt path from a data recipe (``--preset clicks``, :mod:`.train_clicks`). Resumable: the same command continues."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from ..errors import GfmError
from . import models, progress, train_clicks
from .arguments import ints, slice_range
from .outputs import check_output
from .parser import EXIT_CANCELLED, quiet_option
from .reading import read_image
from .training_runs import check_run_out, say_finished


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train-adapter", parents=[quiet_option()],
        help="train encoder adapters from your labels (--preset adapter), or the prompt path (--preset clicks); "
        "resumable: run the same command again to continue",
    )
    train.add_argument("--preset", choices=["adapter", "clicks"], default="adapter")
    train.add_argument("--out", type=Path, required=True, help="run folder: log, checkpoints, best weights")
    train.add_argument("--steps", type=int, help="default: 300 (adapter), 1500 (clicks)")
    train.add_argument("--batch-size", type=int, help="default: 4 (adapter), 8 (clicks)")
    train.add_argument("--lr", type=float, help="default: 1e-3 (adapter), 2e-4 (clicks)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--val-every", type=int, help="default: 50 (adapter), 150 (clicks)")
    train.add_argument("--export", type=Path,
                       help="write the best weights here (adapter: NAME.safetensors + NAME.json sidecar; clicks: "
                       "float16 safetensors + JSON)")
    adapter = train.add_argument_group("--preset adapter: image/label pairs, split by image or by slice blocks")
    adapter.add_argument("--image", type=Path, action="append", default=[], help="an image (repeatable)")
    adapter.add_argument("--label", type=Path, action="append", default=[],
                         help="its label map (repeatable, one per --image, same physical grid)")
    adapter.add_argument("--labels", type=ints, help="label ids to train on (default: all present)")
    adapter.add_argument("--axis", type=int, help="slice axis of volumes (default: the axial one)")
    adapter.add_argument("--slices", type=slice_range,
                         help="A:B: train and validate only on slices A..B-1 (keep the rest for evaluation)")
    adapter.add_argument("--kind", choices=["lora", "adaptformer", "bottleneck"], default="lora")
    adapter.add_argument("--rank", type=int, default=8, help="LoRA rank, or the adapter's bottleneck width")
    adapter.add_argument("--scale", type=float, default=1.0, help="the adapter branch's output factor")
    adapter.add_argument("--last-blocks", type=int, default=2,
                         help="adapt the encoder's last N attention blocks (LiteMedSAM has 10)")
    adapter.add_argument("--train-decoder", action="store_true", help="also train the mask decoder")
    train_clicks.add_options(train)
    models.add_model_options(train, default=None, views=False)
    train.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    if args.preset == "clicks":
        return train_clicks.run(args)
    import dataclasses

    from ..images.align import labels_on_grid
    from ..jobs import run as run_job
    from ..models import AdapterConfig
    from ..models.adapter_files import adapter_paths
    from ..training.adapters import (
        AdapterTraining,
        LabelledImage,
        export_adapter,
        finished_adapter_run,
        train_adapter,
    )

    if not args.image or len(args.image) != len(args.label):
        raise GfmError("give each --image its --label (the same number of each, at least one)")
    check_run_out(args)
    if args.export is not None:
        inputs = [*(("--image", p) for p in args.image), *(("--label", p) for p in args.label),
                  *models.model_inputs(args)]
        for path in adapter_paths(args.export):
            check_output(path, "--export", "an adapter", inputs=inputs, created=args.out)
    config = AdapterConfig(kind=args.kind, rank=args.rank, scale=args.scale, last_n_blocks=args.last_blocks,
                           train_decoder=args.train_decoder)
    defaults = AdapterTraining()
    loop = dataclasses.replace(defaults.loop, steps=args.steps or defaults.loop.steps, lr=args.lr or defaults.loop.lr,
                               seed=args.seed, val_every=args.val_every or defaults.loop.val_every)
    settings = AdapterTraining(adapter=config, label_ids=args.labels, axis=args.axis, loop=loop,
                               batch_size=args.batch_size or defaults.batch_size)
    finished = finished_adapter_run(args.out, settings)
    if finished is not None:  # the run reached its last step: nothing to read, cache or train
        say_finished(finished, args.out, loop.steps)
        if args.export:
            path = export_adapter(models.load(args, fast=False), settings, args.out, args.export)
            print(f"wrote {path} and {path.with_suffix('.json').name}")
        return 0
    data = []
    for image_path, label_path in zip(args.image, args.label):
        image = read_image(image_path)
        labels = labels_on_grid(image, read_image(label_path))
        if args.slices is not None:
            labels = _only_slices(image, labels, args.axis, args.slices)
        data.append(LabelledImage(image, labels))
    model = models.load(args, fast=False)
    signal.signal(signal.SIGTERM, _interrupt)  # a cancel from the dock: checkpoint, export the best, exit
    code = 0
    try:
        with progress.bar(args, "train") as bar:
            result = run_job(train_adapter(model, data, settings, args.out), progress.steps(args, bar))
        say_finished(result, args.out, loop.steps)
    except KeyboardInterrupt:
        print(f"cancelled: the checkpoint in {args.out} resumes the run (the same command again)", flush=True)
        code = EXIT_CANCELLED
    if args.export and (args.out / "best.safetensors").is_file():
        path = export_adapter(model, settings, args.out, args.export)
        print(f"wrote {path} and {path.with_suffix('.json').name}")
    return code


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _only_slices(image, labels, axis: int | None, slices: range):
    """``labels`` outside slices ``slices`` along ``axis`` (default: the axial one) set to 0."""
    from ..images import axial_axis
    from ..images.align import keep_slices

    if image.spatial_ndim != 3:
        raise GfmError("--slices applies to volumes")
    return keep_slices(labels, axial_axis(image) if axis is None else axis, slices)
