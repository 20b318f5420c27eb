"""Segmenting rasters far larger than the model's input: tiles with overlap, prompts routed to tiles, seamless
stitching.

Tiles are :data:`TILE` = 256 native pixels — the model's own input size, so a tile is encoded at full resolution
(a 0.5 m building stays 40 px wide instead of shrinking 4x or more) — overlapping by :data:`OVERLAP` pixels, and
encoded on demand through the ordinary :class:`~gfm_napari.engine.predictor.Predictor` and its embedding cache
(key = the tile's pixels, so a tile is encoded once however often it is prompted). Routing a prompt (the rectangle
around its box and points, in scene pixels):

1. inside one grid tile: that tile (the one whose centre is nearest the prompt's);
2. across tiles but at most ``max_window`` / 1.25 wide: one window centred on the prompt, 1.25 x its size (at least
   a tile), read and encoded for it — the object is seen whole, so there is no seam to make;
3. larger still: every grid tile it covers, each with the part of the prompt inside it (the box clipped, the clicks
   that fall in it), and the tiles' logits blended with weights that ramp from 0 at a tile's inner edges to 1 over
   the overlap (:func:`stitch`), so the mask is continuous across tile borders.

Nodata pixels never enter a mask (the predictor's ``valid`` map).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import PromptError
from ..images import Normalization
from ..images.windowed import RasterFile, Window
from .predictor import Predictor
from .prompts import Prompts

TILE = 256
OVERLAP = 32
MAX_WINDOW = 1024
CONTEXT = 1.25
"""A centred window is this many times the prompt's extent (context around the object)."""


@dataclass(frozen=True)
class TileGrid:
    """Tiles of ``tile`` pixels over a (rows, cols) scene, neighbours overlapping by ``overlap`` pixels."""

    shape: tuple[int, int]
    tile: int = TILE
    overlap: int = OVERLAP

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < self.tile:
            raise ValueError(f"overlap must be in 0..{self.tile - 1}, got {self.overlap}")

    def starts(self, size: int) -> list[int]:
        """Tile origins along an axis of ``size`` pixels: a regular stride, the last tile flush with the edge."""
        if size <= self.tile:
            return [0]
        starts = list(range(0, size - self.tile + 1, self.tile - self.overlap))
        return starts if starts[-1] + self.tile >= size else [*starts, size - self.tile]

    def windows(self) -> list[Window]:
        rows, cols = self.shape
        return [Window(r, c, min(self.tile, rows), min(self.tile, cols))
                for r in self.starts(rows) for c in self.starts(cols)]

    def covering(self, extent: Window) -> list[Window]:
        """Grid tiles that intersect ``extent``."""
        return [w for w in self.windows() if intersects(w, extent)]

    def containing(self, extent: Window) -> Window | None:
        """The grid tile that holds all of ``extent`` with its centre nearest to the extent's, or None."""
        inside = [w for w in self.covering(extent) if contains(w, extent)]
        centre = _centre(extent)
        return min(inside, key=lambda w: np.hypot(*np.subtract(_centre(w), centre)), default=None)


def prompt_extent(prompts: Prompts) -> Window:
    """The pixel rectangle around a prompt's box and clicks (x = column, y = row)."""
    xs = list(prompts.points[:, 0]) + ([prompts.box[0], prompts.box[2]] if prompts.box is not None else [])
    ys = list(prompts.points[:, 1]) + ([prompts.box[1], prompts.box[3]] if prompts.box is not None else [])
    if not xs:
        raise PromptError("give a box or at least one click")
    col0, row0 = int(math.floor(min(xs))), int(math.floor(min(ys)))
    return Window(row0, col0, int(math.floor(max(ys))) - row0 + 1, int(math.floor(max(xs))) - col0 + 1)


def centred_window(extent: Window, shape: tuple[int, int], side: int) -> Window:
    """A ``side`` x ``side`` window (smaller only at a small scene) centred on ``extent``, kept inside the scene."""
    rows, cols = min(side, shape[0]), min(side, shape[1])
    row = int(np.clip(extent.row + extent.rows // 2 - rows // 2, 0, shape[0] - rows))
    col = int(np.clip(extent.col + extent.cols // 2 - cols // 2, 0, shape[1] - cols))
    return Window(row, col, rows, cols)


def blend_weights(window: Window, shape: tuple[int, int], overlap: int) -> np.ndarray:
    """(rows, cols) float32 weights: 1 inside, ramping down to 1 / (overlap + 1) at the window's edges that lie
    inside the scene (edges on the scene border keep weight 1: no neighbour shares them)."""
    ramp = max(1, overlap)

    def axis(length: int, start: int, size: int) -> np.ndarray:
        distance = np.arange(length, dtype=np.float32)
        low = np.minimum(1.0, (distance + 1) / (ramp + 1)) if start > 0 else np.ones(length, np.float32)
        high = np.minimum(1.0, (distance[::-1] + 1) / (ramp + 1)) if start + length < size else np.ones(length, np.float32)
        return np.minimum(low, high)

    return np.outer(axis(window.rows, window.row, shape[0]), axis(window.cols, window.col, shape[1]))


def stitch(parts: list[tuple[Window, np.ndarray]], shape: tuple[int, int], overlap: int) -> tuple[Window, np.ndarray]:
    """Blend per-window logits into one array over the windows' bounding rectangle (weighted mean, see
    :func:`blend_weights`); pixels no window covers get -inf (background)."""
    row0 = min(w.row for w, _ in parts)
    col0 = min(w.col for w, _ in parts)
    region = Window(row0, col0, max(w.row + w.rows for w, _ in parts) - row0, max(w.col + w.cols for w, _ in parts) - col0)
    total = np.zeros((region.rows, region.cols), np.float32)
    weight = np.zeros_like(total)
    for window, logits in parts:
        w = blend_weights(window, shape, overlap)
        view = (slice(window.row - row0, window.row - row0 + window.rows),
                slice(window.col - col0, window.col - col0 + window.cols))
        total[view] += w * logits
        weight[view] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return region, np.where(weight > 0, total / np.where(weight > 0, weight, 1), -np.inf).astype(np.float32)


class TiledSegmenter:
    """Prompts in scene pixels -> a mask on the window of the scene it covers, reading and encoding only tiles.

    Args:
        predictor: the model and its embedding cache.
        raster: the scene, read window by window.
        normalization: fitted on the whole scene (e.g. ``fit_band_stretch`` of ``raster.overview()``).
    """

    def __init__(
        self, predictor: Predictor, raster: RasterFile, normalization: Normalization, *, tile: int = TILE,
        overlap: int = OVERLAP, max_window: int = MAX_WINDOW,
    ) -> None:
        self.predictor = predictor
        self.raster = raster
        self.normalization = normalization
        self.grid = TileGrid(raster.shape, tile, overlap)
        self.max_window = max(max_window, tile)

    def windows_for(self, prompts: Prompts) -> list[Window]:
        """Where ``prompts`` is segmented (see the module docstring's three cases)."""
        prompts.check(self.raster.shape)
        extent = prompt_extent(prompts)
        tile = self.grid.containing(extent)
        if tile is not None:
            return [tile]
        side = max(self.grid.tile, math.ceil(CONTEXT * max(extent.rows, extent.cols)))
        if side <= self.max_window:
            return [centred_window(extent, self.raster.shape, side)]
        return [w for w in self.grid.covering(extent) if _local(prompts, w) is not None]

    def segment(self, prompts: Prompts) -> tuple[Window, np.ndarray]:
        """(the window of the scene the mask covers, bool mask on it)."""
        parts = [(window, self._logits(window, _local(prompts, window))) for window in self.windows_for(prompts)]
        region, logits = stitch(parts, self.raster.shape, self.grid.overlap)
        return region, logits > 0

    def _logits(self, window: Window, prompts: Prompts) -> np.ndarray:
        image = self.raster.window_image(window)
        embedding = self.predictor.embed(image, normalization=self.normalization)
        prediction = self.predictor.predict_prompts(embedding, prompts)
        logits = self.predictor.upscale(prediction.low_res_logits, embedding.plane_shape)[0, 0].cpu().numpy()
        return logits if embedding.valid is None else np.where(embedding.valid, logits, -np.inf)


def _local(prompts: Prompts, window: Window) -> Prompts | None:
    """The part of ``prompts`` inside ``window``, in window pixels; None when nothing positive is left."""
    offset = np.array([window.col, window.row], float)
    points = prompts.points - offset
    inside = (points[:, 0] >= 0) & (points[:, 0] <= window.cols - 1) & (points[:, 1] >= 0) & (points[:, 1] <= window.rows - 1)
    box = None
    if prompts.box is not None:
        x0, y0, x1, y1 = np.subtract(prompts.box, np.tile(offset, 2))
        x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, window.cols - 1.0), min(y1, window.rows - 1.0)
        box = (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None
    local = Prompts(points[inside], prompts.labels[inside], box, prompts.candidate if inside.all() else 0)
    return local if box is not None or (local.labels == 1).any() else None


def intersects(a: Window, b: Window) -> bool:
    """Whether the two windows share a pixel."""
    return a.row < b.row + b.rows and b.row < a.row + a.rows and a.col < b.col + b.cols and b.col < a.col + a.cols


def touches_inner_edge(window: Window, shape: tuple[int, int], mask: np.ndarray) -> bool:
    """Whether ``mask`` (on ``window``) reaches an edge of the window that lies inside a plane of ``shape``: the
    object may go on beyond the window."""
    rows, cols = shape
    return bool((window.row > 0 and mask[0].any())
                or (window.row + window.rows < rows and mask[-1].any())
                or (window.col > 0 and mask[:, 0].any())
                or (window.col + window.cols < cols and mask[:, -1].any()))


def contains(outer: Window, inner: Window) -> bool:
    """Whether ``inner`` lies wholly inside ``outer``."""
    return (outer.row <= inner.row and inner.row + inner.rows <= outer.row + outer.rows
            and outer.col <= inner.col and inner.col + inner.cols <= outer.col + outer.cols)


def _centre(w: Window) -> tuple[float, float]:
    return w.row + w.rows / 2, w.col + w.cols / 2
