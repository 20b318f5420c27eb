"""A resumable training loop over a few trainable tensors, as a job (yields Progress, returns a summary).

Shared by every preset (clicks, adapters): AdamW with warmup + cosine decay, gradient clipping, a JSON-lines log
(``log.jsonl``), validation every ``val_every`` steps with the best parameters kept (``best.safetensors``), and a
full checkpoint (parameters, optimiser, schedule, step, RNG states) written atomically every
``checkpoint_every`` steps and when the job is cancelled, from which a new run resumes exactly.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..images.atomic import atomic_path
from ..jobs import Job, Progress
from .run_files import BEST, CHECKPOINT, LOG


@dataclass(frozen=True)
class LoopConfig:
    steps: int = 2000
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: int = 50
    grad_clip: float = 1.0
    val_every: int = 100
    checkpoint_every: int = 50
    seed: int = 0


StepFn = Callable[[np.random.Generator], dict[str, torch.Tensor]]  # returns {"loss": ..., other terms}
ValidateFn = Callable[[], dict[str, float]]  # returns {"score": higher is better, other metrics}


def train_loop(
    params: dict[str, torch.nn.Parameter],
    step_fn: StepFn,
    validate_fn: ValidateFn,
    out_dir: Path,
    config: LoopConfig = LoopConfig(),
) -> Job[dict]:
    """Train ``params`` with ``step_fn`` until ``config.steps``; resume from ``out_dir`` when it holds a checkpoint."""
    out_dir.mkdir(parents=True, exist_ok=True)
    decay = [p for n, p in params.items() if p.ndim > 1]
    no_decay = [p for n, p in params.items() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, config.warmup, config.steps)
    )
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    state = {"step": 0, "best_score": -math.inf, "best_step": None}
    if (out_dir / CHECKPOINT).exists():
        state = _restore(out_dir / CHECKPOINT, params, optimizer, schedule, rng)
    log = (out_dir / LOG).open("a")
    first_step, step_seconds = state["step"], 0.0  # steps/s counts training steps only, not validation
    try:
        if state["step"] == 0:
            _validate(validate_fn, params, out_dir, state, log)
        while state["step"] < config.steps:
            started = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            terms = step_fn(rng)
            terms["loss"].backward()
            torch.nn.utils.clip_grad_norm_(list(params.values()), config.grad_clip)
            optimizer.step()
            schedule.step()
            state["step"] += 1
            step_seconds += time.perf_counter() - started
            rate = (state["step"] - first_step) / step_seconds
            record = {"step": state["step"], "lr": schedule.get_last_lr()[0], "steps_per_s": round(rate, 3)}
            record.update({k: round(float(v.detach()), 5) for k, v in terms.items()})
            log.write(json.dumps(record) + "\n")
            log.flush()
            if state["step"] % config.val_every == 0 or state["step"] == config.steps:
                _validate(validate_fn, params, out_dir, state, log)
            if state["step"] % config.checkpoint_every == 0:
                _save(out_dir / CHECKPOINT, params, optimizer, schedule, rng, state, config)
            yield Progress(state["step"], config.steps, f"loss {float(terms['loss'].detach()):.4f}")
    finally:  # also on cancel (GeneratorExit): nothing trained is lost
        _save(out_dir / CHECKPOINT, params, optimizer, schedule, rng, state, config)
        log.close()
    return {**state, "config": asdict(config), "out_dir": str(out_dir)}


def finished_run(out_dir: Path, config: LoopConfig) -> dict | None:
    """What :func:`train_loop` would return at once for a run in ``out_dir`` whose checkpoint already reached
    ``config.steps`` (so a caller can skip its data preparation), else None (no run, or one to continue)."""
    path = out_dir / CHECKPOINT
    if not path.is_file():
        return None
    try:
        state = json.loads(torch.load(path, map_location="cpu", weights_only=True)["state"])
    except Exception:  # an unreadable checkpoint: train_loop's resume reports it
        return None
    if state["step"] < config.steps:
        return None
    return {**state, "config": asdict(config), "out_dir": str(out_dir)}


def warmup_cosine(step: int, warmup: int, steps: int) -> float:
    """The learning-rate factor at ``step``: linear warmup over ``warmup`` steps, then cosine decay to 0 at
    ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _validate(validate_fn: ValidateFn, params, out_dir: Path, state: dict, log) -> None:
    metrics = validate_fn()
    log.write(json.dumps({"step": state["step"], "val": metrics}) + "\n")
    log.flush()
    if metrics["score"] > state["best_score"]:
        from safetensors.torch import save_file

        state["best_score"], state["best_step"] = metrics["score"], state["step"]
        with atomic_path(out_dir / BEST) as tmp:
            save_file({n: p.detach().cpu().contiguous() for n, p in params.items()}, str(tmp),
                      metadata={"step": str(state["step"]), "metrics": json.dumps(metrics)})


def _save(path: Path, params, optimizer, schedule, rng: np.random.Generator, state: dict, config: LoopConfig) -> None:
    checkpoint = {
        "params": {n: p.detach().cpu() for n, p in params.items()},
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
        "state": json.dumps(state),
        "config": json.dumps(asdict(config)),
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def _restore(path: Path, params, optimizer, schedule, rng: np.random.Generator) -> dict:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    with torch.no_grad():
        for name, tensor in checkpoint["params"].items():
            params[name].copy_(tensor)
    optimizer.load_state_dict(checkpoint["optimizer"])
    schedule.load_state_dict(checkpoint["schedule"])
    rng.bit_generator.state = json.loads(checkpoint["numpy_rng"])
    torch.set_rng_state(checkpoint["torch_rng"])
    return json.loads(checkpoint["state"])
