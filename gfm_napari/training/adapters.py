"""The "adapter" preset: train encoder adapters (LoRA, AdaptFormer, bottleneck) from a user's own labels.

Data: labelled volumes or 2D images (image + label map on its grid). Their planes that hold the chosen labels are
split into training and validation, never mixing: by volume when there are several, else by blocks of
consecutive slices (:func:`split_planes`). A raster or photo larger than the model's input is cut into native
input-sized tiles, the click path's first working windows (:mod:`..engine.zoom`), and its tiles count as its planes:
shrunk whole, its objects would be trained at a scale the clicks never see.

Speed on a CPU: adapters sit in the encoder's last attention blocks, so everything before the first adapted
block is a fixed function of the plane (:func:`~gfm_napari.models.adapters.frozen_prefix_blocks`). Each plane
goes through that prefix once, for the original and each augmented copy (a horizontal flip, an intensity
jitter), and is cached as float16; a step runs only the adapted tail with gradients, then the prompt simulation
and losses of the clicks preset (:func:`~gfm_napari.training.clicks.click_step`: jittered boxes, clicks and
RITM corrections with logits fed back; Dice + BCE + IoU-head MSE) through the shared loop (AdamW, warmup + cosine,
validation with the best kept, checkpoints, resume).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..engine.predictor import Predictor
from ..engine.tiles import TileGrid, intersects
from ..engine.zoom import ZoomLevels, zoom_above
from ..errors import GfmError
from ..images import Image, Normalization, Plane, axial_axis, fit_normalization
from ..images.atomic import atomic_write_text
from ..images.windowed import Window
from ..jobs import Job, Progress
from ..models import AdapterConfig, LoadedModel, apply_adapters
from ..models.adapter_files import save_adapter
from ..models.adapters import frozen_prefix_blocks
from ..models.encoder_split import forward_prefix, forward_tail
from ..models.registry import on_prompt_path, shared_prompt_path
from .clicks import ClickMix, click_step, validate_clicks
from .loop import LoopConfig, finished_run, train_loop
from .objects import TrainingObject, plane_targets
from .run_files import BEST, DATA, DONE, LOG

ADAPTER_MIX = ClickMix(single_click=0.2, click_corrections=0.3, box_only=0.3)
"""Boxes and clicks alike: a user corrects slices with both (the rest, 20 %: a box then corrections)."""


@dataclass(frozen=True, eq=False)
class LabelledImage:
    """An image and its label map on the image's spatial grid (uint, 0 = background)."""

    image: Image
    labels: np.ndarray
    normalization: Normalization | None = None  # default: the modality's (fit_normalization)

    def __post_init__(self) -> None:
        if self.labels.shape != self.image.spatial_shape:
            raise GfmError(f"labels {self.labels.shape} are not on the image's grid {self.image.spatial_shape}")


@dataclass(frozen=True)
class PlaneRef:
    """Plane ``index`` along ``axis`` (None, None for a 2D image) of item ``item`` of the training data."""

    item: int
    axis: int | None
    index: int | None
    tile: Window | None = None  # a native tile of a large 2D raster or photo (its pixels), else the whole plane


@dataclass(frozen=True)
class AdapterTraining:
    """What to train and how (the CLI's ``train-adapter --preset adapter`` options)."""

    adapter: AdapterConfig = AdapterConfig(kind="lora", rank=8, last_n_blocks=2)
    label_ids: tuple[int, ...] | None = None  # default: every label present
    axis: int | None = None  # slice axis of volumes (default: the axial one)
    batch_size: int = 4
    block: int = 8  # a single volume is split by blocks of this many consecutive slices
    augmentations: int = 2  # augmented copies per training plane: a horizontal flip, an intensity jitter
    max_planes: int = 48  # training planes, spread evenly over those available (validation: a quarter as many)
    min_pixels: int = 30  # smallest cross-section kept, in the decoder frame
    instances: bool = False  # each connected component is an object (e.g. buildings); else a label's whole section
    loop: LoopConfig = LoopConfig(steps=300, lr=1e-3, warmup=20, val_every=50, checkpoint_every=25)
    mix: ClickMix = field(default=ADAPTER_MIX)


def split_planes(
    data: Sequence[LabelledImage], settings: AdapterTraining, tile: int | None = None
) -> tuple[list[PlaneRef], list[PlaneRef]]:
    """(training planes, validation planes) holding the chosen labels. Several items: the last fifth of them (at
    least one) validates. One volume: its labelled slices in blocks of ``settings.block`` consecutive slices (fewer
    when there are fewer than 5 blocks' worth), every fifth block (the third of each five) validating. With
    ``tile`` (the model's input size), a 2D raster or photo larger than it is split the same way by its ``tile``-px
    native tiles in reading order (a tile overlapping a validation tile does not train). Raises GfmError when a part
    would be empty (fewer than 3 labelled slices or tiles)."""
    planes = [_labelled_planes(item, i, settings, tile) for i, item in enumerate(data)]
    if len(data) > 1:
        n_val = max(1, round(len(data) / 5))
        train = [p for ps in planes[:-n_val] for p in ps]
        validation = [p for ps in planes[-n_val:] for p in ps]
    else:  # blocks shrink for a few labelled slices, so that 3 or more still give both parts
        ordered = planes[0]
        block = max(1, min(settings.block, len(ordered) // 5))
        blocks = [ordered[i : i + block] for i in range(0, len(ordered), block)]
        train = [p for b, ps in enumerate(blocks) if b % 5 != 2 for p in ps]
        validation = [p for b, ps in enumerate(blocks) if b % 5 == 2 for p in ps]
        train = [p for p in train if not (p.tile and any(intersects(p.tile, v.tile) for v in validation))]
    if not train or not validation:
        raise GfmError(
            f"too few labelled planes to split into training and validation ({len(train)} / {len(validation)}): "
            "label more slices, or give a second image"
        )
    return _spread(train, settings.max_planes), _spread(validation, max(4, settings.max_planes // 4))


def train_adapter(
    model: LoadedModel, data: Sequence[LabelledImage], settings: AdapterTraining, out_dir: Path
) -> Job[dict]:
    """Job: cache the frozen prefix of every plane, train the adapters (resuming from ``out_dir``), return a
    summary; the best adapters are in ``out_dir`` for :func:`export_adapter`. ``model`` is not changed. They are
    trained over the prompt path that answers the images (rasters and photos: the raster one; scans, or a mix of
    scans and rasters: the main one), and loaded over it.

    A run in ``out_dir`` that already reached ``settings.loop.steps`` returns its summary at once, without caching
    anything (``"finished_before": True``)."""
    finished = finished_adapter_run(out_dir, settings)
    if finished is not None:
        return finished
    prompt_path = shared_prompt_path(model, (item.image.modality for item in data))
    model = on_prompt_path(model, prompt_path)  # rasters and photos: over the raster path, which answers them
    segmenter = _trainable_copy(model, settings.adapter)
    encoder, start = segmenter.image_encoder, frozen_prefix_blocks(segmenter)
    predictor = Predictor(dataclasses.replace(model, segmenter=segmenter))
    train_planes, val_planes = split_planes(data, settings, tile=model.spec.input_size)
    rng = np.random.default_rng(settings.loop.seed)
    train, validation = [], []
    total = len(train_planes) + len(val_planes)
    for done, (plane, is_train) in enumerate(
        [(p, True) for p in train_planes] + [(p, False) for p in val_planes], start=1
    ):
        objects = _plane_objects(predictor, encoder, start, data[plane.item], plane, settings,
                                 settings.augmentations if is_train else 0, rng)
        (train if is_train else validation).extend(objects)
        yield Progress(0, settings.loop.steps, f"caching the encoder prefix: plane {done} of {total}")
    if not train or not validation:
        raise GfmError("no labelled object is large enough to train on (see min_pixels)")
    summary = {
        "train_planes": len(train_planes), "validation_planes": len(val_planes),
        "train_objects": len(train), "validation_objects": len(validation),
        "prefix_blocks": start, "data_digest": data_digest(data, train_planes, val_planes),
        "adapter": settings.adapter.to_dict(), "base_model_id": model.model_id, "prompt_path": prompt_path,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / DATA, json.dumps(summary, indent=2))
    params = {n: p for n, p in segmenter.named_parameters() if p.requires_grad}

    def tail(cached: torch.Tensor) -> torch.Tensor:
        return forward_tail(encoder, cached.float(), start)

    def step(step_rng: np.random.Generator) -> dict[str, torch.Tensor]:
        picks = step_rng.choice(len(train), settings.batch_size, replace=len(train) < settings.batch_size)
        return click_step(segmenter, [train[i] for i in picks], settings.mix, step_rng, encode=tail)

    # The segmenter stays in eval mode: the frozen encoder's batch norms (in PatchMerging) must keep their running
    # statistics, and nothing trainable here behaves differently in training mode.
    try:
        result = yield from train_loop(
            params, step, lambda: validate_clicks(segmenter, validation, encode=tail), out_dir, settings.loop
        )
    finally:
        segmenter.requires_grad_(False)
    atomic_write_text(out_dir / DONE, f"{result['step']}\n")  # a run that reached its end is not resumed
    return {**summary, **result}


def finished_adapter_run(out_dir: Path, settings: AdapterTraining) -> dict | None:
    """The summary :func:`train_adapter` returns for a run in ``out_dir`` that already reached
    ``settings.loop.steps`` (with ``"finished_before": True``), read from its files without caching anything; None
    when there is no such run (none yet, or one to continue)."""
    finished = finished_run(out_dir, settings.loop)
    if finished is None or not (out_dir / DATA).is_file():
        return None
    return {**json.loads((out_dir / DATA).read_text()), **finished, "finished_before": True}


def export_adapter(model: LoadedModel, settings: AdapterTraining, out_dir: Path, destination: Path) -> Path:
    """The best adapters of the run in ``out_dir`` as an adapter file (+ JSON sidecar) for ``model``."""
    summary = json.loads((out_dir / DATA).read_text())
    model = on_prompt_path(model, summary.get("prompt_path"))
    segmenter = _trainable_copy(model, settings.adapter)
    segmenter.load_state_dict(load_file(str(out_dir / BEST)), strict=False)
    metrics = _best_metrics(out_dir)
    tensors, _ = save_adapter(
        dataclasses.replace(model, segmenter=segmenter.eval().requires_grad_(False)), destination,
        data_digest=summary["data_digest"], metrics={**metrics, "planes": {
            "train": summary["train_planes"], "validation": summary["validation_planes"]}},
        prompt_path=summary.get("prompt_path"),
    )
    return tensors


def data_digest(data: Sequence[LabelledImage], train: Sequence[PlaneRef], validation: Sequence[PlaneRef]) -> str:
    """What the adapter was trained and validated on: each item's source name and label content, the split."""
    hasher = hashlib.blake2b(digest_size=16)
    for item in data:
        hasher.update(item.image.source.name.encode())
        hasher.update(np.ascontiguousarray(item.labels).tobytes())
    for planes in (train, validation):  # a whole plane keeps the digest it had before tiles existed
        hasher.update(repr([(p.item, p.axis, p.index, *([p.tile] if p.tile else [])) for p in planes]).encode())
    return hasher.hexdigest()


def _spread(planes: list[PlaneRef], count: int) -> list[PlaneRef]:
    """At most ``count`` of ``planes``, evenly spaced (neighbouring slices look alike)."""
    if len(planes) <= count:
        return planes
    return [planes[i] for i in np.unique(np.linspace(0, len(planes) - 1, count).round().astype(int))]


def _trainable_copy(model: LoadedModel, config: AdapterConfig):
    """A PyTorch copy of the model's segmenter (no ONNX runtime) with fresh zero-initialised adapters."""
    segmenter = copy.deepcopy(model.segmenter)
    segmenter.encoder_runtime = None
    apply_adapters(segmenter, config)
    return segmenter


def _labelled_planes(item: LabelledImage, number: int, settings: AdapterTraining, tile: int | None) -> list[PlaneRef]:
    chosen = item.labels if settings.label_ids is None else np.isin(item.labels, settings.label_ids) * item.labels
    if item.image.spatial_ndim == 2:
        shape = item.image.spatial_shape
        if tile and ZoomLevels(shape, tile, zoom_above(item.image.modality)).active:
            windows = TileGrid(shape, tile, overlap=0).windows()
            return [PlaneRef(number, None, None, w) for w in windows if chosen[w.slices].any()]
        return [PlaneRef(number, None, None)] if chosen.any() else []
    axis = axial_axis(item.image) if settings.axis is None else settings.axis
    other = Plane(axis).in_plane_axes
    return [PlaneRef(number, axis, int(i)) for i in np.flatnonzero(chosen.any(axis=other))]


def _plane_objects(
    predictor: Predictor, encoder, start: int, item: LabelledImage, plane: PlaneRef, settings: AdapterTraining,
    augmentations: int, rng: np.random.Generator,
) -> list[TrainingObject]:
    """The plane's objects for the original and ``augmentations`` augmented copies, each with its cached prefix."""
    spec = predictor.model.spec
    where = Plane(plane.axis, plane.index)
    image_plane, labels = where.take(item.image.array), where.take(item.labels)
    if plane.tile is not None:
        image_plane, labels = image_plane[plane.tile.slices], labels[plane.tile.slices]
    if settings.label_ids is not None:
        labels = np.where(np.isin(labels, settings.label_ids), labels, 0)
    normalization = item.normalization or fit_normalization(item.image)
    normalised = normalization.apply(np.asarray(image_plane))
    objects = []
    for variant in range(augmentations + 1):
        pixels, targets_on = _augmented(normalised, labels, variant, rng)
        targets = list(plane_targets(targets_on, spec.input_size, 4 * spec.embedding_size, settings.min_pixels,
                                     components=settings.instances))
        if not targets:
            continue
        with torch.no_grad():
            pixels_in = predictor.preprocess(pixels).to(predictor.model.device)
            prefix = forward_prefix(encoder, pixels_in, start).to(torch.float16)
        name = f"{item.image.source.name} axis {plane.axis} slice {plane.index} variant {variant}"
        objects += [TrainingObject(prefix, mask, item.image.modality, "labels", f"{name} label {label_id}")
                    for label_id, mask in targets]
    return objects


def _augmented(
    plane: np.ndarray, labels: np.ndarray, variant: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Variant 0: as is; 1: flipped left-right; 2 and more: an intensity jitter (gamma 0.6–1.6, contrast 0.8–1.2)
    on a plane flipped half the time. ``plane`` is normalised to [0, 1]."""
    if variant == 0:
        return plane, labels
    flip = variant == 1 or rng.random() < 0.5
    if flip:
        plane, labels = plane[:, ::-1], labels[:, ::-1]
    if variant >= 2:
        gamma, contrast = rng.uniform(0.6, 1.6), rng.uniform(0.8, 1.2)
        plane = np.clip((np.clip(plane, 0, 1) ** gamma - 0.5) * contrast + 0.5, 0, 1)
    return np.ascontiguousarray(plane, dtype=np.float32), np.ascontiguousarray(labels)


def _best_metrics(out_dir: Path) -> dict:
    """The validation metrics of the best step, from the run's log."""
    best: dict = {}
    for line in (out_dir / LOG).read_text().splitlines():
        record = json.loads(line)
        if "val" in record and record["val"]["score"] > best.get("score", -np.inf):
            best = {**record["val"], "step": record["step"]}
    return best
