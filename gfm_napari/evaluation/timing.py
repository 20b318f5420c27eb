"""Small timing helpers shared by the benchmarks: repeated wall-clock samples, their summary, and waiting for a
GPU's queued work so that a sample covers it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np
import torch


def interleaved_ms(
    works: Mapping[str, Callable[[], object]], rounds: int, *, warmup: int = 1, limits: Mapping[str, int] = {},
    wait: Callable[[], None] = lambda: None,
) -> dict[str, list[float]]:
    """Wall-clock milliseconds of each work, called in turn within each of ``rounds`` rounds (after ``warmup``
    untimed rounds), so that a slow spell of a shared machine falls on all of them alike. ``limits[name]`` caps
    the rounds of an expensive work; ``wait`` runs inside each timed span, after the work (a GPU's: until its
    kernels are done)."""
    for _ in range(warmup):
        for work in works.values():
            work()
    times: dict[str, list[float]] = {name: [] for name in works}
    for round_index in range(rounds):
        for name, work in works.items():
            if round_index < limits.get(name, rounds):
                start = time.perf_counter()
                work()
                wait()
                times[name].append(1000.0 * (time.perf_counter() - start))
    return times


def summary(times_ms: list[float]) -> dict:
    """Median, p50/p95 and the number of samples, rounded for a JSON report."""
    return {
        "median_ms": round(float(np.median(times_ms)), 2),
        "p50_ms": round(float(np.percentile(times_ms, 50)), 2),
        "p95_ms": round(float(np.percentile(times_ms, 95)), 2),
        "n": len(times_ms),
    }


def wait_for(device: torch.device) -> None:
    """Wait until the work queued on ``device`` is done (GPU calls return before their kernels finish)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
