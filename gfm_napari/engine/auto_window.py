"""Segment everything in one working window: a grid of single clicks decoded in batches, filtered, deduplicated.

The same recipe as segment-anything's ``SamAutomaticMaskGenerator`` (Kirillov et al. 2023), written on the
project's predictor so the embedding comes from its cache and nothing else loads a model:

1. ``points_per_side``² clicks on a regular grid over the window (each at the centre of its grid cell); by default
   as many as keep the clicks at most :data:`POINT_SPACING` plane pixels apart, and at least
   :data:`MIN_POINTS_PER_SIDE` per side (:meth:`AutoSettings.grid_side`), so a 512² CT slice, which the model
   sees shrunk to 256 px, gets the same density of clicks per plane pixel as a native 256 px raster window;
2. the decoder answers ``points_per_batch`` clicks per call with its three candidate masks each;
3. a candidate is kept when its predicted IoU is at least ``min_predicted_iou``, its *stability* (the mask at logit
   threshold +offset over the mask at -offset: how little it changes with the threshold) at least
   ``min_stability``, its area between ``min_area`` pixels and ``max_share`` of the window (a mask over most of
   the window is the background around the objects);
4. overlapping candidates are reduced by greedy *mask* suppression: in order of predicted IoU, a candidate is kept
   when at most ``max_overlap`` of its pixels are already held by a kept one. (SAM's generator suppresses by box
   IoU and returns overlapping masks; ours become one label map, where overlaps would be cut apart anyway.)

The filters' defaults are set for LiteMedSAM's predicted IoU, which runs lower than SAM's (SAM's 0.88 and 0.95 keep
nothing here); measured choices are in the README's "Segment everything" section.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..images.windowed import Window
from ..jobs import Job, Progress
from .predictor import Embedding, Predictor
from .prompts import ResizeLongestSide
from .tiles import touches_inner_edge


POINT_SPACING = 16
"""Plane pixels between two neighbouring clicks of the default grid, at most (see :meth:`AutoSettings.grid_side`)."""
MIN_POINTS_PER_SIDE = 16
"""Clicks per side of the default grid, at least (segment-anything's generator uses 32 on 1024 px inputs)."""


@dataclass(frozen=True)
class AutoSettings:
    """How densely a plane is prompted and which candidate masks survive (see the module docstring).

    ``points_per_side=None`` (default): chosen per window by :meth:`grid_side`."""

    points_per_side: int | None = None
    points_per_batch: int = 8  # on 2 CPU cores ~35 ms a click in batches of 1 to 8 (slower in larger ones)
    min_predicted_iou: float = 0.5
    min_stability: float = 0.8
    stability_offset: float = 1.0
    min_area: int = 16
    max_share: float = 0.5
    max_overlap: float = 0.1

    def __post_init__(self) -> None:
        if (self.points_per_side is not None and self.points_per_side < 1) or self.points_per_batch < 1:
            raise ValueError("points_per_side and points_per_batch must be at least 1")
        if self.min_area < 0 or not 0 < self.max_share <= 1 or not 0 <= self.max_overlap <= 1:
            raise ValueError("min_area must be >= 0, max_share in (0, 1] and max_overlap in [0, 1]")

    def grid_side(self, rows: int, cols: int) -> int:
        """Clicks per side of the grid over a (rows, cols) window: ``points_per_side`` when set, else enough to keep
        them :data:`POINT_SPACING` plane pixels apart (at least :data:`MIN_POINTS_PER_SIDE`). Measured on the DICOM
        CT series (512² slices): 16 per side, 32 px apart, found 6 of its 76 structures; 32 per side found 13, in
        about 40 s a slice on 2 CPU cores (README, *Segment everything*)."""
        if self.points_per_side is not None:
            return self.points_per_side
        return max(MIN_POINTS_PER_SIDE, math.ceil(max(rows, cols) / POINT_SPACING))

    def fits_area(self, area, window_pixels: int):
        """Which masks of ``area`` pixels (a tensor or array) may be objects of a window of ``window_pixels``:
        between ``min_area`` (at least 1) and ``max_share`` of the window."""
        return (area >= max(self.min_area, 1)) & (area <= self.max_share * window_pixels)


@dataclass(frozen=True, eq=False)
class Candidate:
    """One mask found in ``window`` (plane pixels): ``mask`` on the window's grid, predicted IoU ``score``,
    ``stability``, and whether it reaches an edge of the window that lies inside the plane (``cut``: the object may
    go on in a neighbouring window)."""

    window: Window
    mask: np.ndarray
    score: float
    stability: float
    cut: bool

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def box(self) -> tuple[int, int, int, int]:
        """Plane-pixel (row0, col0, row1, col1) of the mask, end exclusive."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        return (self.window.row + int(rows[0]), self.window.col + int(cols[0]),
                self.window.row + int(rows[-1]) + 1, self.window.col + int(cols[-1]) + 1)


def point_grid(points_per_side: int, rows: int, cols: int) -> np.ndarray:
    """(n², 2) clicks (x, y) at the centres of an n x n grid of cells over a (rows, cols) window."""
    fractions = (np.arange(points_per_side) + 0.5) / points_per_side
    xs, ys = np.meshgrid(fractions * cols, fractions * rows)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def window_candidates(
    predictor: Predictor, embedding: Embedding, window: Window, plane_shape: tuple[int, int], settings: AutoSettings
) -> Job[list[Candidate]]:
    """Job: the masks that survive the filters and the suppression in ``window`` (whose ``embedding`` is given),
    best predicted IoU first; one Progress (clicks answered of the grid's) per decoder call, so a cancel lands within
    a window (a 512² CT slice is one window of 1,024 clicks)."""
    rows, cols = embedding.plane_shape
    resize = ResizeLongestSide((rows, cols), predictor.model.spec.input_size)
    grid = point_grid(settings.grid_side(rows, cols), rows, cols)
    device = predictor.model.device
    valid = None if embedding.valid is None else torch.from_numpy(embedding.valid).to(device)
    masks, scores, stabilities = [], [], []
    for start in range(0, len(grid), settings.points_per_batch):
        yield Progress(start, len(grid), "clicks")
        clicks = grid[start : start + settings.points_per_batch]
        coords = torch.as_tensor(resize.points(clicks), dtype=torch.float32, device=device)[:, None]
        labels = torch.ones(coords.shape[:2], dtype=torch.int64, device=device)
        with torch.inference_mode():
            logits, iou = predictor.decoder_for(embedding).decode(embedding.features, points=(coords, labels), multimask=True)
            logits, iou = logits.flatten(0, 1)[:, None], iou.flatten()
            keep = iou >= settings.min_predicted_iou
            if not keep.any():
                continue
            upscaled = predictor.upscale(logits[keep], (rows, cols))[:, 0]
            if valid is not None:
                upscaled = upscaled.masked_fill(~valid, -torch.inf)
            stability = stability_scores(upscaled, settings.stability_offset)
            mask = upscaled > 0
            good = (stability >= settings.min_stability) & settings.fits_area(mask.sum((1, 2)), rows * cols)
        masks.append(mask[good])
        scores.append(iou[keep][good])
        stabilities.append(stability[good])
    if not masks or not sum(len(m) for m in masks):
        return []
    mask, score, stability = torch.cat(masks).cpu().numpy(), torch.cat(scores), torch.cat(stabilities)
    order = torch.argsort(score, descending=True, stable=True).tolist()
    return [Candidate(window, mask[i], float(score[i]), float(stability[i]),
                      touches_inner_edge(window, plane_shape, mask[i]))
            for i in suppressed(mask, order, settings.max_overlap)]


def stability_scores(logits: torch.Tensor, offset: float) -> torch.Tensor:
    """SAM's stability of masks given as logits (N, rows, cols): the area above ``+offset`` over the area above
    ``-offset`` (how little the mask changes with the threshold)."""
    high = (logits > offset).sum((1, 2))
    low = (logits > -offset).sum((1, 2))
    return high / low.clamp(min=1)


def suppressed(masks: np.ndarray, order: list[int], max_overlap: float) -> list[int]:
    """Greedy mask suppression: the indices of ``masks`` (N, rows, cols) kept when taken in ``order``, each holding
    at most ``max_overlap`` of its pixels in common with the masks kept before it."""
    taken = np.zeros(masks.shape[1:], bool)
    kept = []
    for i in order:
        if np.count_nonzero(masks[i] & taken) <= max_overlap * np.count_nonzero(masks[i]):
            kept.append(i)
            taken |= masks[i]
    return kept
