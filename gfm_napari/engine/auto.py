"""Segment everything on a plane (or a region of it): the automatic first pass, one label id per object.

1. **Windows.** A plane (or region) the model sees whole — CT and MR slices up to twice the model's input, rasters up
   to the input — is one window. Larger ones are covered by native-resolution windows of the input's size on the
   half-stride grid of :mod:`~gfm_napari.engine.zoom`'s first level: objects are prompted where a click on them
   works, and the click path reuses these windows' embeddings when the user corrects an object.
2. **Candidates per window**: :func:`~gfm_napari.engine.auto_window.window_candidates` (a grid of clicks, filters,
   NMS).
3. **Seams.** Candidates of overlapping windows that agree inside the rectangle both windows see (mask IoU at least
   :data:`SEAM_IOU` there) are one object — a duplicate, or an object cut by a window edge — and become their union.
4. **Label map.** Objects are painted largest first, so a small object stays visible on a larger one around it;
   one id per object in reading order (top to bottom, left to right); an object left with fewer than
   ``min_area`` visible pixels is dropped. Each object keeps the best predicted IoU of its parts as its score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..images import Image, Normalization
from ..images.windowed import Window
from ..jobs import Job, Progress, relay
from .auto_window import AutoSettings, Candidate, window_candidates
from .predictor import Predictor
from .tiles import TileGrid
from .zoom import ZoomLevels, zoom_above

SEAM_IOU = 0.6
"""Two windows' candidates are one object when their masks overlap this much (IoU) where both windows see."""


@dataclass(frozen=True, eq=False)
class AutoResult:
    """``labels``: int32 object ids on the plane grid (0 = nothing found; pixels outside the region are 0);
    ``scores``: id -> predicted IoU; ``windows``: how many windows were prompted; ``candidates``: masks kept in
    them before the seams were merged; ``clicks``: how many clicks the windows' grids made in all."""

    labels: np.ndarray
    scores: dict[int, float]
    windows: int
    candidates: int
    clicks: int


def auto_windows(region: Window, plane_shape: tuple[int, int], input_size: int, zoom: float) -> list[Window]:
    """The windows that cover ``region`` at the working resolution (see the module docstring); ``zoom``: the
    plane's zoom threshold (:func:`~gfm_napari.engine.zoom.zoom_above`; ``math.inf`` = always whole)."""
    if not ZoomLevels((region.rows, region.cols), input_size, zoom).active:
        return [region]
    grid = TileGrid((region.rows, region.cols), input_size, input_size // 2)
    return [Window(region.row + w.row, region.col + w.col, w.rows, w.cols) for w in grid.windows()]


def segment_everything(
    predictor: Predictor,
    image: Image,
    axis: int | None = None,
    index: int | None = None,
    *,
    normalization: Normalization,
    settings: AutoSettings | None = None,
    region: Window | None = None,
) -> Job[AutoResult]:
    """Job: every object on a plane of ``image`` (or in ``region`` of it); its progress counts the grids' clicks
    answered (one report per window and per decoder call)."""
    settings = settings or AutoSettings()
    shape = image.plane_shape(axis)
    region = region or Window(0, 0, *shape)
    zoom = zoom_above(image.modality) if predictor.zoom else math.inf
    windows = auto_windows(region, shape, predictor.model.spec.input_size, zoom)
    clicks = [settings.grid_side(w.rows, w.cols) ** 2 for w in windows]  # the job's steps: clicks answered
    before = np.cumsum([0, *clicks])
    total = int(before[-1])
    candidates: list[Candidate] = []
    for done, window in enumerate(windows):
        where = f"segmenting everything: window {done + 1} of {len(windows)}"
        yield Progress(int(before[done]), total, where)
        embedding = predictor.embed(image, axis, index, normalization=normalization, window=window)
        candidates += yield from relay(
            window_candidates(predictor, embedding, window, shape, settings),
            lambda p, start=int(before[done]), where=where: Progress(
                start + p.done, total, f"{where}, click {p.done + 1} of {p.total}"),
        )
    yield Progress(total, total, "merging objects across windows")
    labels, scores = paint_objects(merge_across_windows(candidates), shape, settings.min_area)
    return AutoResult(labels, scores, len(windows), len(candidates), total)


@dataclass(frozen=True, eq=False)
class PlaneObject:
    """An object on the plane: ``mask`` on ``window`` (plane pixels) and its score (predicted IoU)."""

    window: Window
    mask: np.ndarray
    score: float


def merge_across_windows(candidates: list[Candidate]) -> list[PlaneObject]:
    """Candidates grouped into objects: those of different windows that agree where both windows see (see
    :data:`SEAM_IOU`) are joined, transitively; each group becomes the union of its masks."""
    parent = list(range(len(candidates)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _overlapping_pairs(candidates):
        if _agree_on_shared_part(candidates[i], candidates[j]):
            parent[root(i)] = root(j)
    groups: dict[int, list[Candidate]] = {}
    for i, candidate in enumerate(candidates):
        groups.setdefault(root(i), []).append(candidate)
    return [_union(group) for group in groups.values()]


def paint_objects(
    objects: list[PlaneObject], shape: tuple[int, int], min_area: int
) -> tuple[np.ndarray, dict[int, float]]:
    """(int32 label map of ``shape``, id -> score): objects painted largest first, ids in reading order, objects
    with fewer than ``min_area`` visible pixels dropped (and the map painted again without them, so they leave no
    hole in the object under them)."""
    ordered = sorted(objects, key=lambda o: -int(o.mask.sum()))
    canvas = _painted(ordered, shape)
    visible = np.bincount(canvas.ravel(), minlength=len(ordered) + 1)[1:]
    ordered = [o for o, area in zip(ordered, visible) if area >= max(min_area, 1)]
    canvas = _painted(ordered, shape)
    found, first_pixel = np.unique(canvas.ravel(), return_index=True)
    present = found > 0
    reading = found[present][np.argsort(first_pixel[present], kind="stable")]
    relabel = np.zeros(len(ordered) + 1, np.int32)
    relabel[reading] = np.arange(1, len(reading) + 1, dtype=np.int32)
    return relabel[canvas], {int(relabel[n]): ordered[n - 1].score for n in reading}


def _painted(objects: list[PlaneObject], shape: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros(shape, np.int32)
    for number, obj in enumerate(objects, start=1):
        canvas[obj.window.slices][obj.mask] = number
    return canvas


def _overlapping_pairs(candidates: list[Candidate]) -> list[tuple[int, int]]:
    """Index pairs (i < j) of candidates from different windows whose boxes intersect."""
    if len(candidates) < 2:
        return []
    boxes = np.array([c.box() for c in candidates])
    windows = np.array([(c.window.row, c.window.col) for c in candidates])
    top = np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    bottom = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
    left = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    right = np.minimum(boxes[:, None, 3], boxes[None, :, 3])
    other_window = (windows[:, None] != windows[None, :]).any(axis=2)
    pairs = np.argwhere(np.triu((bottom > top) & (right > left) & other_window, k=1))
    return [(int(i), int(j)) for i, j in pairs]


def _agree_on_shared_part(a: Candidate, b: Candidate) -> bool:
    """Mask IoU of ``a`` and ``b`` inside the rectangle both of their windows cover is at least SEAM_IOU."""
    row0, col0 = max(a.window.row, b.window.row), max(a.window.col, b.window.col)
    row1 = min(a.window.row + a.window.rows, b.window.row + b.window.rows)
    col1 = min(a.window.col + a.window.cols, b.window.col + b.window.cols)
    if row1 <= row0 or col1 <= col0:
        return False
    part_a = a.mask[row0 - a.window.row : row1 - a.window.row, col0 - a.window.col : col1 - a.window.col]
    part_b = b.mask[row0 - b.window.row : row1 - b.window.row, col0 - b.window.col : col1 - b.window.col]
    union = np.count_nonzero(part_a | part_b)
    return union > 0 and np.count_nonzero(part_a & part_b) >= SEAM_IOU * union


def _union(group: list[Candidate]) -> PlaneObject:
    if len(group) == 1:
        return PlaneObject(group[0].window, group[0].mask, group[0].score)
    row0 = min(c.window.row for c in group)
    col0 = min(c.window.col for c in group)
    row1 = max(c.window.row + c.window.rows for c in group)
    col1 = max(c.window.col + c.window.cols for c in group)
    mask = np.zeros((row1 - row0, col1 - col0), bool)
    for c in group:
        mask[c.window.row - row0 : c.window.row - row0 + c.window.rows,
             c.window.col - col0 : c.window.col - col0 + c.window.cols] |= c.mask
    return PlaneObject(Window(row0, col0, row1 - row0, col1 - col0), mask, max(c.score for c in group))
