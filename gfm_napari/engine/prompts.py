"""Prompts in plane pixel coordinates, and the pure maths that maps them into the model's input frame.

Convention (as in SAM): a plane is a 2D array (rows, cols); a point is ``(x, y)`` = ``(col, row)`` in pixels;
a box is ``(x0, y0, x1, y1)`` with inclusive pixel corners, each from 0 up to the plane's width / height (its
outer edge; :func:`clip_box` fits a box that overlaps the plane to it). Labels: 1 = positive (object), 0 = negative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PromptError

POSITIVE = 1
NEGATIVE = 0
CANDIDATES = 3
"""A lone click gets this many masks from the model (SAM's candidates: a part, the object, a larger whole)."""


@dataclass(frozen=True, eq=False)
class Prompts:
    """Points and/or one box on one plane; validated against the plane's shape by :meth:`check`.

    ``candidate``: which of the model's :data:`CANDIDATES` masks a lone click keeps, ranked by predicted IoU (0: the
    best, the default; 1, 2: the model's next answers, for a user who sees a part or too much). Any other prompts get
    one mask, so only a lone positive click may ask for another; every new prompt starts again from 0."""

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float64))  # (N, 2) x, y
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))  # (N,) 1 / 0
    box: tuple[float, float, float, float] | None = None
    candidate: int = 0

    def __post_init__(self) -> None:
        points = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
        labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if len(points) != len(labels):
            raise PromptError(f"{len(points)} points but {len(labels)} labels")
        if not np.isin(labels, (POSITIVE, NEGATIVE)).all():
            raise PromptError("point labels must be 1 (positive) or 0 (negative)")
        if not np.isfinite(points).all():
            bad = points[~np.isfinite(points).all(axis=1)][0]
            raise PromptError(f"point ({bad[0]:g}, {bad[1]:g}) is not a pair of finite numbers")
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "labels", labels)
        if self.box is not None:
            box = tuple(float(v) for v in self.box)
            if len(box) != 4 or not np.isfinite(box).all():
                raise PromptError(f"box ({', '.join(f'{v:g}' for v in box)}) is not 4 finite numbers")
            object.__setattr__(self, "box", box)
        if self.candidate not in range(CANDIDATES):
            raise PromptError(f"a lone click's mask is one of 1..{CANDIDATES}, got {self.candidate + 1}")
        if self.candidate and not self.is_lone_click:
            raise PromptError("the model's other masks are offered for one positive click alone (no box, no other "
                              "click): with more prompts it gives one mask")

    @property
    def is_lone_click(self) -> bool:
        """One positive click, no box: the prompt the model answers with :data:`CANDIDATES` masks."""
        return self.box is None and len(self.labels) == 1 and int(self.labels[0]) == POSITIVE

    def with_candidate(self, candidate: int) -> Prompts:
        """The same lone click keeping the model's mask ranked ``candidate`` (0 = best predicted IoU)."""
        return Prompts(self.points, self.labels, self.box, candidate)

    @property
    def is_empty(self) -> bool:
        return self.box is None and len(self.points) == 0

    @property
    def has_object(self) -> bool:
        """True with a box or at least one positive click: prompts that say where the object is."""
        return self.box is not None or bool((self.labels == POSITIVE).any())

    def shifted(self, dx: float, dy: float) -> Prompts:
        """The same prompts moved by (dx, dy) pixels (e.g. into a window whose corner is at (-dx, -dy))."""
        box = None if self.box is None else tuple(np.add(self.box, (dx, dy, dx, dy)).tolist())
        return Prompts(self.points + (dx, dy), self.labels, box, self.candidate)

    def require_object(self) -> None:
        """Raise :class:`PromptError` for prompts that cannot start a segmentation: none at all, or negative clicks
        alone (they only say what is not the object; SAM-family models then segment something arbitrary)."""
        if self.is_empty:
            raise PromptError("no prompt given: add a box or at least one point")
        if not self.has_object:
            raise PromptError("negative clicks alone do not say where the object is: a segmentation needs at least "
                              "one positive click or a box")

    def with_point(self, x: float, y: float, label: int = POSITIVE) -> Prompts:
        return Prompts(np.vstack([self.points, [[x, y]]]), np.append(self.labels, label), self.box)

    def point_near(self, x: float, y: float) -> int | None:
        """Index of the first click within half a pixel of (x, y), or None."""
        near = np.flatnonzero(np.all(np.abs(self.points - (x, y)) <= 0.5, axis=1))
        return int(near[0]) if near.size else None

    def without_point(self, i: int) -> Prompts:
        """The prompts without click ``i``."""
        keep = np.ones(len(self.points), bool)
        keep[i] = False
        return Prompts(self.points[keep], self.labels[keep], self.box)

    def with_point_moved(self, i: int, x: float, y: float) -> Prompts:
        """The prompts with click ``i`` at (x, y), keeping its sign."""
        points = self.points.copy()
        points[i] = (x, y)
        return Prompts(points, self.labels, self.box)

    def check(self, plane_shape: tuple[int, int]) -> None:
        """Raise :class:`PromptError` unless every prompt lies inside a plane of ``plane_shape`` (rows, cols)."""
        rows, cols = plane_shape
        if self.is_empty:
            raise PromptError("no prompt given: add a box or at least one point")
        for x, y in self.points:
            if not (0 <= x <= cols - 1 and 0 <= y <= rows - 1):
                raise PromptError(f"point ({x:g}, {y:g}) is outside the {cols}x{rows} (x by y) image")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if clip_box(self.box, plane_shape) != self.box:
                raise PromptError(
                    f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) reaches outside the {cols}x{rows} (x by y) image "
                    f"(x 0..{cols}, y 0..{rows})"
                )


def clip_box(box: tuple[float, float, float, float], plane_shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """``box`` clipped to a plane of ``plane_shape`` (rows, cols).

    Box corners may lie anywhere from 0 to the plane's width / height (the plane's outer edges, the frame
    :class:`ResizeLongestSide` scales), so a box covering a 1x1 image, (0, 0, 1, 1), is valid.

    Raises:
        PromptError: an empty or inverted box (x1 <= x0 or y1 <= y0), or a box that does not overlap the plane.
    """
    rows, cols = plane_shape
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        raise PromptError(f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is empty: need x0 < x1 and y0 < y1")
    clipped = (max(x0, 0.0), max(y0, 0.0), min(x1, float(cols)), min(y1, float(rows)))
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        raise PromptError(f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is outside the {cols}x{rows} (x by y) image")
    return clipped


@dataclass(frozen=True)
class ResizeLongestSide:
    """Plane (rows, cols) → model input: resize so the longest side is ``target``, pad bottom/right."""

    plane_shape: tuple[int, int]
    target: int

    @property
    def resized_shape(self) -> tuple[int, int]:
        rows, cols = self.plane_shape
        scale = self.target / max(rows, cols)
        return int(round(rows * scale)), int(round(cols * scale))

    def points(self, xy: np.ndarray) -> np.ndarray:
        """Map (N, 2) x, y plane pixel coordinates to the model's input frame (SAM's convention)."""
        rows, cols = self.plane_shape
        new_rows, new_cols = self.resized_shape
        return np.asarray(xy, np.float64) * np.array([new_cols / cols, new_rows / rows])

    def box(self, box: tuple[float, float, float, float]) -> np.ndarray:
        return self.points(np.asarray(box, np.float64).reshape(2, 2)).reshape(4)


def box_from_mask(mask: np.ndarray, margin: float = 0.0) -> tuple[float, float, float, float] | None:
    """Tight (x0, y0, x1, y1) box of a 2D mask, grown by ``margin`` pixels and clipped; None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    height, width = mask.shape
    return (
        float(max(cols[0] - margin, 0)),
        float(max(rows[0] - margin, 0)),
        float(min(cols[-1] + margin, width - 1)),
        float(min(rows[-1] + margin, height - 1)),
    )


def depth_map(mask: np.ndarray) -> np.ndarray:
    """Distance of each pixel of a 2D ``mask`` to the nearest pixel outside it, the image border counting as
    outside (Euclidean distance transform of the mask padded by one pixel of zeros); 0 outside the mask."""
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]


def interior_point(mask: np.ndarray) -> tuple[float, float] | None:
    """The (x, y) pixel of ``mask`` farthest from its border (ties: first in row-major order)."""
    if not mask.any():
        return None
    row, col = np.unravel_index(int(np.argmax(depth_map(mask))), mask.shape)
    return float(col), float(row)
