"""What the training commands share about their run folder: --out checked, and the lines a finished run prints."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GfmError


def check_run_out(args: argparse.Namespace) -> None:
    """--out is a run folder (it may not exist yet), not a file."""
    if args.out.exists() and not args.out.is_dir():
        raise GfmError(f"--out {args.out} is a file: give a run folder")


def say_finished(result: dict, out: Path, steps: int) -> None:
    """The run's result, and first, when it had already reached its last step, that nothing was trained."""
    if result.get("finished_before"):
        print(f"the run in {out} already reached step {result['step']} of {steps}: nothing to train "
              "(a larger --steps continues it)", flush=True)
    print(f"best validation score {result['best_score']:.4f} at step {result['best_step']} in {out}")
    from ..training.runs import NOTHING_LEARNT, learnt_nothing  # here: the parser stays free of torch

    if learnt_nothing(result["step"], result["best_step"]):
        print(f"{NOTHING_LEARNT}; a lower --lr or more labelled planes may help")
