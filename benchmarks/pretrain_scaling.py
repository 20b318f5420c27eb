"""Pretraining throughput on this machine: 1 process (1 thread, then all threads) against N processes under
torchrun (gloo, 1 thread each), on a real CT volume. Prints JSON.

    python benchmarks/pretrain_scaling.py [--steps 6] [--batch-size 2] [--nproc 2] [--data FILE_OR_FOLDER]

Each configuration is a real ``gfm-napari pretrain`` run in a subprocess; images/s is the median over its steps
after the first (which pays for warm-up), read from the run's log. Scaling efficiency = images/s of N processes /
(N x images/s of one single-threaded process): 1.0 is perfect data-parallel scaling on N cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ct_totalseg" / "example_ct_sm.nii.gz"


def images_per_s(data: Path, out: Path, *, steps: int, batch: int, nproc: int, threads: int | None) -> dict:
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    command = [sys.executable, "-m", "gfm_napari", "pretrain", "--data", str(data), "--out", str(out),
               "--steps", str(steps), "--batch-size", str(batch), "--nproc", str(nproc), "--device", "cpu"]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    rates = [r["images_per_s"] for r in records[1:]]
    return {"processes": nproc, "threads_per_process": threads or os.cpu_count(), "crops_per_step": batch * nproc,
            "images_per_s": statistics.median(rates), "l_mim_last": records[-1]["l_mim"],
            "l_feat_last": records[-1]["l_feat"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CT)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--nproc", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gfm-pretrain-bench-") as folder:
        runs = {}
        for name, nproc, threads in (("1 process, 1 thread", 1, 1), ("1 process, all threads", 1, None),
                                     (f"{args.nproc} processes, 1 thread each", args.nproc, 1)):
            runs[name] = images_per_s(args.data, Path(folder) / name.replace(" ", "_").replace(",", ""),
                                      steps=args.steps, batch=args.batch_size, nproc=nproc, threads=threads)
    single, parallel = runs["1 process, 1 thread"], runs[f"{args.nproc} processes, 1 thread each"]
    report = {
        "cpu_count": os.cpu_count(), "data": str(args.data), "steps": args.steps, "runs": runs,
        "scaling_efficiency": round(parallel["images_per_s"] / (args.nproc * single["images_per_s"]), 3),
        "speedup_over_one_multithreaded_process": round(
            parallel["images_per_s"] / runs["1 process, all threads"]["images_per_s"], 3),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
