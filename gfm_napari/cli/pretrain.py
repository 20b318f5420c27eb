"""``gfm-napari pretrain``: continual pretraining of the image encoder on unlabelled images, in one process, in
--nproc processes on this machine, or under torchrun."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GfmError
from . import models
from .parser import EXIT_CANCELLED, quiet_option
from .progress import ProgressBar, steps
from .training_runs import check_run_out


def add_parser(commands: argparse._SubParsersAction) -> None:
    pretrain = commands.add_parser(
        "pretrain", parents=[quiet_option()],
        help="continual pretraining of the image encoder on unlabelled images (GFM: masked image modelling + "
        "feature distillation from a frozen teacher); one process, --nproc on this machine, or under torchrun",
    )
    pretrain.add_argument("--data", type=Path, nargs="+", action="extend", required=True, metavar="PATH",
                          help="folders (searched recursively) or files: NIfTI, DICOM series, GeoTIFF, PNG/JPEG")
    pretrain.add_argument("--out", type=Path, required=True,
                          help="run folder: run.json, log.jsonl, checkpoint.pt, encoder.safetensors + encoder.json")
    pretrain.add_argument("--steps", type=int, default=500)
    pretrain.add_argument("--nproc", type=int, default=1,
                          help="processes on this machine (torchrun --standalone; gloo on CPUs, nccl on GPUs)")
    pretrain.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    pretrain.add_argument("--batch-size", type=int, default=8, help="crops per process and micro-batch")
    pretrain.add_argument("--accumulate", type=int, default=1, help="micro-batches per optimiser step")
    pretrain.add_argument("--lr", type=float, default=5e-5)
    pretrain.add_argument("--warmup", type=int, default=25, help="steps of linear warmup before the cosine decay")
    pretrain.add_argument("--mask-ratio", type=float, default=0.6)
    pretrain.add_argument("--mask-patch", type=int, default=32, help="side of the masked squares, input pixels")
    pretrain.add_argument("--mim-weight", type=float, default=1.0)
    pretrain.add_argument("--feat-weight", type=float, default=1.0, help="0: masked image modelling alone")
    pretrain.add_argument("--stage", default="neck",
                          help="where the feature loss compares student and teacher: neck (the image embedding) or "
                          "a stage index (TinyViT 1-3, ViT block, timm feature index)")
    pretrain.add_argument("--freeze-stages", type=int, default=0, metavar="K",
                          help="leave the first K stages after the stem untrained (TinyViT 1-3, ViT blocks): the "
                          "CPU-feasible mode, fewer gradients per step; the feature loss must read a later stage")
    pretrain.add_argument("--teacher", metavar="timm:NAME",
                          help="a timm model as teacher (default: a frozen copy of the encoder)")
    pretrain.add_argument("--teacher-weights", type=Path, help="the timm teacher's local weight file")
    pretrain.add_argument("--checkpoint-every", type=int, default=50)
    pretrain.add_argument("--seed", type=int, default=0)
    models.add_model_options(pretrain, views=False)
    pretrain.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    from ..training import pretrain_launch

    if args.nproc < 1:
        raise GfmError("--nproc must be at least 1")
    import torch

    from ..models.device import pick_device

    device = pick_device(args.device)
    if device.type == "cuda" and args.nproc > torch.cuda.device_count():
        raise GfmError(f"--nproc {args.nproc} on the GPU needs one GPU per process; this machine has "
                       f"{torch.cuda.device_count()} (--device cpu runs CPU processes)")
    if args.nproc > 1 and not pretrain_launch.under_torchrun():
        return pretrain_launch.launch(args.argv, args.nproc)
    from ..jobs import run as run_job
    from ..training.pretrain import Distributed, PretrainConfig, StopRequest, check_run_folder, pretrain
    from ..training.pretrain_data import UnlabelledPlanes

    check_run_out(args)
    check_run_folder(args.out, resume=args.resume)  # before minutes of reading images
    dist = Distributed.from_environment(device)
    say = print if dist.is_main else (lambda *a, **k: None)
    if args.resume:
        from ..training.runs import read_pretrain_progress

        last = read_pretrain_progress(args.out)
        losses = f": L_MIM {last.l_mim[-1]:.4f}, L_feat {last.l_feat[-1]:.4f}" if last.steps else ""
        say(f"resuming {args.out} after step {last.step} of {args.steps}{losses}", flush=True)
    config = PretrainConfig(
        steps=args.steps, batch_size=args.batch_size, accumulate=args.accumulate, lr=args.lr, warmup=args.warmup,
        mask_patch=args.mask_patch, mask_ratio=args.mask_ratio, mim_weight=args.mim_weight,
        feat_weight=args.feat_weight, stage=args.stage, frozen_stages=args.freeze_stages, teacher=args.teacher,
        teacher_weights=None if args.teacher_weights is None else str(args.teacher_weights),
        checkpoint_every=args.checkpoint_every, seed=args.seed,
    )
    data = UnlabelledPlanes.from_paths(args.data, log=say)
    say(f"{len(data)} planes from {len(data.sources)} images; {dist.world_size} process(es)", flush=True)
    model = models.load(args, fast=False)
    with StopRequest() as stop, ProgressBar("pretrain", quiet=args.quiet or not dist.is_main) as bar:
        result = run_job(pretrain(model, data, args.out, config, resume=args.resume, dist=dist, stop=stop),
                         steps(args, bar, say))
    if result["stopped"]:
        say(f"stopped at step {result['step']}: --resume continues the run in {args.out}", flush=True)
        return EXIT_CANCELLED
    say(f"wrote {result['encoder']}", flush=True)
    return 0
