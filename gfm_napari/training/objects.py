"""Training objects: a cached plane embedding plus one target mask in the model's input frame.

Targets live in the decoder's low-resolution frame (for LiteMedSAM 256×256, the padded model input), so a
training step is decoder passes only. Objects come from real labels (each connected component of each label on
a plane), from self-distillation: the frozen base model's own masks for random boxes on unlabelled planes
(it is good with boxes, so it can teach clicks), or from boxes that people drew around objects (the base model's
masks for them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..engine.predictor import Predictor
from ..engine.prompts import ResizeLongestSide
from ..images import Image, Normalization, Plane
from ..images.plane import planes_holding


@dataclass(frozen=True, eq=False)
class TrainingObject:
    """``target`` bool (L, L) in the decoder's frame for the plane ``embedding`` (1, C, h, w), float16 on CPU."""

    embedding: torch.Tensor
    target: np.ndarray
    domain: str
    origin: str  # "labels", "self-distillation" or "drawn boxes"
    name: str  # where it came from, e.g. "example_ct_sm axis 2 slice 15 label 5"


def to_model_frame(mask: np.ndarray, input_size: int, frame: int) -> np.ndarray:
    """A plane-grid mask (rows, cols) → the decoder frame (frame × frame): resized like the image, padded."""
    resized = ResizeLongestSide(mask.shape, input_size).resized_shape
    scaled = F.interpolate(torch.from_numpy(mask[None, None].astype(np.float32)), size=resized, mode="bilinear")
    rows, cols = (round(r * frame / input_size) for r in resized)
    low = F.interpolate(scaled, size=(rows, cols), mode="bilinear")[0, 0] > 0.5
    out = np.zeros((frame, frame), bool)
    out[:rows, :cols] = low.numpy()
    return out


def planes_with_labels(labels: np.ndarray, axis: int | None, count: int) -> list[int | None]:
    """Up to ``count`` plane indices along ``axis``, spread evenly over the planes that hold any label."""
    if axis is None:
        return [None]
    return planes_holding(labels > 0, axis, count)


def labelled_objects(
    predictor: Predictor,
    image: Image,
    labels: np.ndarray,
    *,
    normalization: Normalization,
    domain: str,
    axes: Sequence[int | None],
    planes_per_axis: int,
    min_pixels: int = 30,
) -> Iterator[TrainingObject]:
    """Each connected component (≥ ``min_pixels`` in the decoder frame) of each label on the chosen planes."""
    spec = predictor.model.spec
    for axis in axes:
        for index in planes_with_labels(labels, axis, planes_per_axis):
            plane_labels = Plane(axis, index).take(labels)
            embedding = None
            for label_id, mask in plane_targets(plane_labels, spec.input_size, 4 * spec.embedding_size, min_pixels):
                if embedding is None:
                    embedding = _half(predictor.embed(image, axis, index, normalization=normalization).features)
                yield TrainingObject(
                    embedding, mask, domain, "labels", f"{image.source.name} axis {axis} slice {index} label {label_id}"
                )


def plane_targets(
    plane_labels: np.ndarray, input_size: int, frame: int, min_pixels: int = 30, *, components: bool = True
) -> Iterator[tuple[int, np.ndarray]]:
    """(label id, bool target in the decoder frame) for each connected component of each label on a plane (or,
    without ``components``, each label's whole cross-section) that keeps at least ``min_pixels`` there."""
    for label_id in np.unique(plane_labels[plane_labels > 0]):
        target = to_model_frame(plane_labels == label_id, input_size, frame)
        if not components:
            if target.sum() >= min_pixels:
                yield int(label_id), target
            continue
        components_map, count = ndimage.label(target)
        for component in range(1, count + 1):
            mask = components_map == component
            if mask.sum() >= min_pixels:
                yield int(label_id), mask


DISTILL_BOX_SIDES = (0.08, 0.5)
"""Default widths of the distillation boxes, as fractions of the plane's shorter side (a recipe's
``distill_box_sides``)."""


def distilled_objects(
    predictor: Predictor,
    image: Image,
    *,
    normalization: Normalization,
    domain: str,
    axis: int | None,
    indices: Sequence[int | None],
    boxes_per_plane: int,
    rng: np.random.Generator,
    box_sides: tuple[float, float] = DISTILL_BOX_SIDES,
    min_score: float = 0.75,
) -> Iterator[TrainingObject]:
    """The base model's masks for random boxes (sides drawn from ``box_sides``, fractions of the plane's shorter
    side), kept when confident, compact and well inside the box."""
    spec = predictor.model.spec
    for index in indices:
        embedding = predictor.embed(image, axis, index, normalization=normalization)
        rows, cols = ResizeLongestSide(embedding.plane_shape, spec.input_size).resized_shape
        boxes = _random_boxes(rng, boxes_per_plane, rows, cols, box_sides)
        name = f"{image.source.name} axis {axis} slice {index}"
        yield from _box_targets(predictor, embedding.features, boxes, domain, "self-distillation", name, min_score)


def drawn_box_objects(
    predictor: Predictor,
    image: Image,
    boxes: np.ndarray,
    *,
    normalization: Normalization,
    domain: str,
    min_score: float = 0.75,
) -> Iterator[TrainingObject]:
    """The base model's masks for boxes that people drew around objects of a 2D ``image`` (x0, y0, x1, y1 in its
    pixels), kept by the same rules as :func:`distilled_objects`: real objects as lone-click targets, outlined by
    the box path (issue 19: the click path has not learnt what the box path knows)."""
    if len(boxes) == 0:
        return
    spec = predictor.model.spec
    embedding = predictor.embed(image, None, None, normalization=normalization)
    transform = ResizeLongestSide(embedding.plane_shape, spec.input_size)
    scaled = np.stack([transform.box(box) for box in boxes])
    yield from _box_targets(predictor, embedding.features, scaled, domain, "drawn boxes", image.source.name,
                            min_score)


def _box_targets(
    predictor: Predictor, features: torch.Tensor, boxes: np.ndarray, domain: str, origin: str, name: str,
    min_score: float,
) -> Iterator[TrainingObject]:
    """Objects from the base model's answers to ``boxes`` (model-input pixels) on one plane's ``features``."""
    frame = 4 * predictor.model.spec.embedding_size
    with torch.inference_mode():
        logits, scores = predictor.model.segmenter.decode(features, boxes=torch.as_tensor(boxes, dtype=torch.float32))
    half = _half(features)
    scale = frame / predictor.model.spec.input_size
    for box, logit, score in zip(boxes, logits[:, 0], scores[:, 0]):
        mask = _largest_component(logit.cpu().numpy() > 0)
        x0, y0, x1, y1 = (box * scale).round().astype(int)
        box_area = max((x1 - x0) * (y1 - y0), 1)
        if float(score) < min_score or mask is None or not 0.15 <= mask.sum() / box_area <= 0.95:
            continue
        yield TrainingObject(half, mask, domain, origin, name)


def _random_boxes(
    rng: np.random.Generator, count: int, rows: int, cols: int, sides: tuple[float, float]
) -> np.ndarray:
    """Boxes whose width is a fraction in ``sides`` of the plane's shorter side (uniform, as the shipped click path
    was trained), anywhere inside (rows, cols) of the model input."""
    side = min(rows, cols)
    width = rng.uniform(sides[0], sides[1], count) * side
    height = width * np.exp(rng.uniform(-0.5, 0.5, count))
    x0 = rng.uniform(0, np.maximum(cols - width, 1))
    y0 = rng.uniform(0, np.maximum(rows - height, 1))
    return np.stack([x0, y0, np.minimum(x0 + width, cols - 1), np.minimum(y0 + height, rows - 1)], axis=1)


def _largest_component(mask: np.ndarray) -> np.ndarray | None:
    components, count = ndimage.label(mask)
    if count == 0:
        return None
    sizes = ndimage.sum(mask, components, range(1, count + 1))
    best = int(np.argmax(sizes))
    if sizes[best] < 0.7 * mask.sum() or sizes[best] < 30:
        return None
    return components == best + 1


def _half(features: torch.Tensor) -> torch.Tensor:
    return features.detach().to("cpu", torch.float16)
