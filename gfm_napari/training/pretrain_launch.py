"""Starting ``gfm-napari pretrain``: in this process for one process, else through torchrun on this machine.

``--nproc P`` (P > 1) runs ``torchrun --standalone --nproc-per-node P -m gfm_napari pretrain ...`` in this process
(the launcher passes a SIGTERM on to its workers, which checkpoint and stop). Under torchrun (``WORLD_SIZE`` set,
e.g. started by hand on several nodes) the command is a worker and ``--nproc`` is ignored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


def under_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def worker_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` of ``gfm-napari pretrain ...`` without ``--nproc P`` (the workers' own command line)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def launch(argv: Sequence[str], nproc: int) -> int:
    """Run ``gfm-napari`` + ``worker_argv(argv)`` in ``nproc`` local processes; 0, or 130 after a stop signal."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    torchrun = get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={nproc}", "-m", "gfm_napari", *worker_argv(argv)]
    )
    try:
        run(torchrun)
    except SignalException:
        return 130
    except ChildFailedError as error:
        failures = error.failures
        codes = {failure.exitcode for failure in failures.values()}
        if codes == {130}:
            return 130
        return next(iter(codes), 1) or 1
    return 0
