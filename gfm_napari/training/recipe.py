"""A data recipe (JSON): which image/label files train and which, never trained on, validate.

Entry keys: ``image`` (path relative to the data root), optional ``labels``, ``domain`` (CT, MR, raster),
``axes`` (ints or "axial") and ``planes_per_axis`` for volumes, ``tile`` (pixel size) for large 2D rasters,
``distill_boxes`` (random boxes per plane whose base-model masks become extra targets) and ``distill_box_sides``
(their widths' range, as fractions of the plane's shorter side; default 0.08-0.5), ``boxes`` (a Pascal VOC XML
file of boxes people drew around objects of a 2D image, e.g. DeepForest's tree crowns: the base model's masks for
them become targets). A raster cut into ``tile``: 256 tiles is seen at native resolution, as the click path's first
working window sees it (:mod:`..engine.zoom`); a drawn box joins each tile that holds it whole.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..engine.predictor import Predictor
from ..errors import GfmError
from ..images import Image, axial_axis, fit_normalization, read_image
from ..images.align import labels_on_grid
from ..images.geometry import Geometry
from .objects import (
    DISTILL_BOX_SIDES, TrainingObject, distilled_objects, drawn_box_objects, labelled_objects, planes_with_labels,
)


def load_recipe(path: Path) -> dict:
    try:
        recipe = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise GfmError(f"cannot read the recipe {path}: {error}") from None
    if not recipe.get("train") or not recipe.get("validation"):
        raise GfmError(f"recipe {path} needs non-empty 'train' and 'validation' lists")
    return recipe


def build_objects(
    predictor: Predictor, entries: list[dict], data_root: Path, *, seed: int, distill: bool
) -> list[TrainingObject]:
    """All training objects of ``entries`` (labels, plus self-distillation when ``distill``)."""
    rng = np.random.default_rng(seed)
    objects: list[TrainingObject] = []
    for entry in entries:
        image = read_image(data_root / entry["image"])
        labels = labels_on_grid(image, read_image(data_root / entry["labels"])) if "labels" in entry else None
        normalization = fit_normalization(image)  # whole image, as the user sees it
        drawn = read_drawn_boxes(data_root / entry["boxes"]) if "boxes" in entry else None
        for part, part_labels, (top, left) in _parts(image, labels, entry.get("tile")):
            axes = [_axis(part, a) for a in entry.get("axes", [None])] if part.spatial_ndim == 3 else [None]
            count = int(entry.get("planes_per_axis", 1))
            if part_labels is not None:
                objects += labelled_objects(
                    predictor, part, part_labels, normalization=normalization, domain=entry["domain"],
                    axes=axes, planes_per_axis=count,
                )
            if drawn is not None:
                objects += drawn_box_objects(predictor, part, _boxes_inside(drawn, top, left, part.spatial_shape),
                                             normalization=normalization, domain=entry["domain"])
            boxes = int(entry.get("distill_boxes", 0))
            if distill and boxes:
                for axis in axes:
                    indices = _distill_planes(part, part_labels, axis, count)
                    objects += distilled_objects(
                        predictor, part, normalization=normalization, domain=entry["domain"], axis=axis,
                        indices=indices, boxes_per_plane=boxes, rng=rng,
                        box_sides=tuple(entry.get("distill_box_sides", DISTILL_BOX_SIDES)),
                    )
    return objects


def _axis(image: Image, axis: int | str | None) -> int | None:
    return axial_axis(image) if axis == "axial" else axis


def _distill_planes(image: Image, labels: np.ndarray | None, axis: int | None, count: int) -> list[int | None]:
    if axis is None:
        return [None]
    if labels is not None:
        return planes_with_labels(labels, axis, count)
    depth = image.spatial_shape[axis]
    return [int(i) for i in np.unique(np.linspace(depth * 0.2, depth * 0.8, count).round().astype(int))]


def read_drawn_boxes(path: Path) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 pixel boxes of a Pascal VOC annotation file (``<object><bndbox>``)."""
    try:
        root = ElementTree.parse(path).getroot()
        boxes = [[float(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")] for box in root.iter("bndbox")]
    except (OSError, ElementTree.ParseError, AttributeError, TypeError, ValueError) as error:
        raise GfmError(f"cannot read the boxes of {path} (Pascal VOC XML): {error}") from None
    return np.array(boxes, np.float64).reshape(-1, 4)


def _boxes_inside(boxes: np.ndarray, top: int, left: int, shape: tuple[int, ...]) -> np.ndarray:
    """The boxes wholly inside the part at (top, left) of ``shape`` (rows, cols), in the part's pixels."""
    shifted = boxes - np.array([left, top, left, top], np.float64)
    rows, cols = shape
    inside = (shifted[:, 0] >= 0) & (shifted[:, 1] >= 0) & (shifted[:, 2] <= cols) & (shifted[:, 3] <= rows)
    return shifted[inside]


def _parts(
    image: Image, labels: np.ndarray | None, tile: int | None
) -> Iterator[tuple[Image, np.ndarray | None, tuple[int, int]]]:
    """The image itself, or square tiles of a large 2D raster (with the matching label tiles), each with its
    (top, left) offset."""
    if not tile or image.spatial_ndim != 2:
        yield image, labels, (0, 0)
        return
    rows, cols = image.spatial_shape
    starts = lambda n: sorted({0, *range(0, max(n - tile, 0) + 1, tile), max(n - tile, 0)})  # noqa: E731
    for top in starts(rows):
        for left in starts(cols):
            window = (slice(top, top + tile), slice(left, left + tile))
            part = Image(np.asarray(image.array[window]), Geometry(spacing=(1.0, 1.0)), image.modality,
                         image.source.with_name(f"{image.source.name}@{top},{left}"), image.channel_axis)
            yield part, None if labels is None else labels[window], (top, left)
