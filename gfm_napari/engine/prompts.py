"""Prompts in plane pixel coordinates, and the pure maths that maps them into the model's input frame.

Convention (as in SAM): a plane is a 2D array (rows, cols); a point is ``(x, y)`` = ``(col, row)`` in pixels;
a box is ``(x0, y0, x1, y1)`` with inclusive pixel corners. Labels: 1 = positive (object), 0 = negative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PromptError

POSITIVE = 1
NEGATIVE = 0


@dataclass(frozen=True, eq=False)
class Prompts:
    """Points and/or one box on one plane; validated against the plane's shape by :meth:`check`."""

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float64))  # (N, 2) x, y
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))  # (N,) 1 / 0
    box: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        points = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
        labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if len(points) != len(labels):
            raise PromptError(f"{len(points)} points but {len(labels)} labels")
        if not np.isin(labels, (POSITIVE, NEGATIVE)).all():
            raise PromptError("point labels must be 1 (positive) or 0 (negative)")
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "labels", labels)
        if self.box is not None:
            object.__setattr__(self, "box", tuple(float(v) for v in self.box))

    @property
    def is_empty(self) -> bool:
        return self.box is None and len(self.points) == 0

    def with_point(self, x: float, y: float, label: int = POSITIVE) -> Prompts:
        return Prompts(np.vstack([self.points, [[x, y]]]), np.append(self.labels, label), self.box)

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
            if x1 <= x0 or y1 <= y0:
                raise PromptError(f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is empty: need x0 < x1 and y0 < y1")
            if x0 < 0 or y0 < 0 or x1 > cols - 1 or y1 > rows - 1:
                raise PromptError(
                    f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is outside the {cols}x{rows} (x by y) image"
                )


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
