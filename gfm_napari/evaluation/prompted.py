"""Dice of one-shot prompts (box, single click, click + box) against real labels, slice by slice.

For each labelled structure, up to ``max_slices`` cross-sections (spread evenly over the slices where it covers
at least ``min_pixels``) are prompted from the label itself: its tight bounding box, and/or its interior point
farthest from the border. Each plane is encoded once and shared by every structure and prompt kind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..engine.predictor import Predictor
from ..engine.prompts import POSITIVE, Prompts, box_from_mask, interior_point
from ..engine.segment_file import DEFAULT_CT_WINDOW, resolve_plane
from ..images import Image, fit_normalization, take_plane
from ..images.align import labels_on_grid
from ..models import LoadedModel

PROMPT_KINDS = ("box", "click", "click+box")


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    total = int(prediction.sum()) + int(truth.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(prediction, truth).sum()) / total


def prompts_from_mask(mask: np.ndarray, kind: str) -> Prompts:
    """The prompt a careful user would give for ``mask``: its tight box, its most interior point, or both."""
    box = box_from_mask(mask) if kind in ("box", "click+box") else None
    if kind == "box":
        return Prompts(box=box)
    x, y = interior_point(mask)
    return Prompts(np.array([[x, y]]), np.array([POSITIVE]), box)


def evaluate_prompts(
    image: Image,
    label_image: Image,
    model: LoadedModel,
    *,
    label_ids: Sequence[int] | None = None,
    prompt_kinds: Sequence[str] = PROMPT_KINDS,
    axis: int | None = None,
    max_slices: int = 8,
    min_pixels: int = 50,
    instances: bool = False,
    window: tuple[float, float] | None = None,
    predictor: Predictor | None = None,
) -> dict:
    """Per-structure mean Dice for each prompt kind, as a JSON-serialisable report."""
    labels = labels_on_grid(image, label_image)
    names = _label_names(label_image.source)
    normalization = fit_normalization(image, ct_window=window or DEFAULT_CT_WINDOW)
    predictor = predictor or Predictor(model)
    axis = resolve_plane(image, axis, None)[0]
    ids = [int(i) for i in np.unique(labels) if i != 0] if label_ids is None else list(label_ids)
    structures = {}
    for label_id in ids:
        scores: dict[str, list[float]] = {kind: [] for kind in prompt_kinds}
        planes = _planes_with(labels == label_id, axis, max_slices, min_pixels)
        for index in planes:
            embedding = predictor.embed(image, axis, index, normalization=normalization)
            truth_plane = take_plane_of(labels, axis, index) == label_id
            objects = _instances(truth_plane, min_pixels) if instances else [truth_plane]
            for truth in objects:
                for kind in prompt_kinds:
                    prediction = predictor.predict_prompts(embedding, prompts_from_mask(truth, kind))
                    scores[kind].append(dice(prediction.mask, truth))
        if planes:
            structures[names.get(label_id, str(label_id))] = {
                "label": label_id,
                "slices": len(planes),
                "objects": len(scores[prompt_kinds[0]]),
                "dice": {kind: round(float(np.mean(v)), 4) for kind, v in scores.items()},
            }
    overall = {
        kind: round(float(np.mean([s["dice"][kind] for s in structures.values()])), 4) if structures else None
        for kind in prompt_kinds
    }
    return {
        "image": image.source.name,
        "model": model.model_id,
        "axis": axis,
        "normalization": normalization.describe(),
        "structures": structures,
        "mean_dice": overall,
    }


def take_plane_of(array: np.ndarray, axis: int | None, index: int | None) -> np.ndarray:
    return array if axis is None else np.take(array, index, axis=axis)


def _planes_with(mask: np.ndarray, axis: int | None, count: int, min_pixels: int) -> list[int | None]:
    if axis is None:
        return [None] if mask.sum() >= min_pixels else []
    other = tuple(a for a in range(mask.ndim) if a != axis)
    areas = mask.sum(axis=other)
    candidates = np.flatnonzero(areas >= min_pixels)
    if candidates.size <= count:
        return [int(i) for i in candidates]
    picks = np.linspace(0, candidates.size - 1, count).round().astype(int)
    return [int(candidates[i]) for i in np.unique(picks)]


def _instances(mask: np.ndarray, min_pixels: int) -> list[np.ndarray]:
    components, count = ndimage.label(mask)
    return [components == i for i in range(1, count + 1) if (components == i).sum() >= min_pixels]


def _label_names(label_path: Path) -> dict[int, str]:
    """Names from a ``labels.json`` beside the label file ({"id": "name"}, or under "labels_present")."""
    path = Path(label_path).parent / "labels.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {int(k): str(v) for k, v in data.get("labels_present", data).items()}
    except (ValueError, AttributeError):
        return {}
