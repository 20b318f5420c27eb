"""Train the clicks preset end to end: build objects from a recipe, run the loop, export the shipped file."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..engine.cache import EmbeddingCache
from ..engine.predictor import Predictor
from ..images.atomic import atomic_path, atomic_write_text
from ..jobs import Job, Progress
from ..models import LoadedModel
from .clicks import ClickMix, click_step, trainable_parameters, validate_clicks
from .loop import LoopConfig, finished_run, train_loop
from .recipe import build_objects, load_recipe
from .run_files import BEST


@dataclass(frozen=True)
class ClickRun:
    """A clicks-preset run; its defaults are those of ``gfm-napari train-adapter --preset clicks``."""

    recipe: Path
    data_root: Path
    out_dir: Path
    batch_size: int = 8
    distill: bool = True
    loop: LoopConfig = LoopConfig(steps=1500, lr=2e-4, val_every=150)
    mix: ClickMix = ClickMix()


def train_clicks(model: LoadedModel, run: ClickRun) -> Job[dict]:
    """Job: objects from the recipe (encoder once per plane, cached on disk), then the training loop. A run in
    ``run.out_dir`` that already reached its last step returns its summary at once (``"finished_before": True``)."""
    finished = finished_run(run.out_dir, run.loop)
    if finished is not None and (run.out_dir / "data.json").is_file():
        return {**json.loads((run.out_dir / "data.json").read_text()), **finished, "finished_before": True}
    recipe = load_recipe(run.recipe)
    predictor = Predictor(model, EmbeddingCache(max_mb=256, store=run.out_dir / "embeddings"))
    yield Progress(0, run.loop.steps, "encoding training planes")
    train = build_objects(predictor, recipe["train"], run.data_root, seed=run.loop.seed, distill=run.distill)
    yield Progress(0, run.loop.steps, "encoding validation planes")
    validation = build_objects(predictor, recipe["validation"], run.data_root, seed=run.loop.seed, distill=False)
    summary = {
        "train_objects": _count(train), "validation_objects": _count(validation),
        "run": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(run).items()},
    }
    atomic_write_text(run.out_dir / "data.json", json.dumps(summary, indent=2))
    segmenter = model.segmenter
    params = trainable_parameters(segmenter)
    weights = _domain_balanced(train)

    def step(rng: np.random.Generator) -> dict[str, torch.Tensor]:
        picks = rng.choice(len(train), run.batch_size, p=weights)
        return click_step(segmenter, [train[i] for i in picks], run.mix, rng)

    segmenter.train()
    try:
        result = yield from train_loop(params, step, lambda: validate_clicks(segmenter, validation), run.out_dir, run.loop)
    finally:
        segmenter.eval().requires_grad_(False)
    return {**summary, **result}


def export_clicks(out_dir: Path, destination: Path, base: LoadedModel, provenance: dict) -> Path:
    """The best parameters as float16 safetensors + a JSON sidecar naming data, command, seed, metrics, base hash."""
    from safetensors.torch import load_file, save_file

    best = load_file(str(out_dir / BEST))
    tensors = {name: tensor.to(torch.float16).contiguous() for name, tensor in best.items()}
    metadata = {
        "base_model": base.spec.name,
        "base_weights_sha256": hashlib.sha256(base.weights_path.read_bytes()).hexdigest(),
        "date": time.strftime("%Y-%m-%d"),
        **provenance,
    }
    with atomic_path(destination) as tmp:
        save_file(tensors, str(tmp), metadata={"provenance": json.dumps(metadata)})
    atomic_write_text(destination.with_suffix(".json"), json.dumps(metadata, indent=2) + "\n")
    return destination


def _count(objects) -> dict:
    counts: dict[str, int] = {}
    for obj in objects:
        key = f"{obj.domain}/{obj.origin}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _domain_balanced(objects) -> np.ndarray:
    """Sampling weights giving each domain the same share of the batches."""
    domains = [obj.domain for obj in objects]
    share = {d: domains.count(d) for d in set(domains)}
    weights = np.array([1.0 / (share[d] * len(share)) for d in domains])
    return weights / weights.sum()
