"""The plane a user prompts on: a whole 2D image, or one slice of a volume across one of its three axes.

:class:`Plane` owns the one mapping between a volume and its planes, the way segment-anything's
``ResizeLongestSide`` owns the one mapping between an image and the model's input: which ``(axis, index)`` pairs
exist (one error text for those that do not), the default plane of a volume (axial, middle slice), the plane's
pixels (``numpy.take(array, index, axis)``, as a view) and its points (``x`` = column, ``y`` = row, as in SAM).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gfm_napari.errors import PromptError
from gfm_napari.images.image import Image

PlaneKey = tuple[int | None, int | None]
"""``(axis, index)`` of a :class:`Plane`, e.g. to key what a session keeps per plane."""


def axial_axis(image: Image) -> int:
    """The array axis of a volume that runs closest to the patient's head–foot (S) direction.

    Volumes without a world affine (or rasters) slice along their last spatial axis.
    """
    affine = image.geometry.affine
    if affine is None or image.spatial_ndim != 3:
        return image.spatial_ndim - 1
    return int(np.argmax(np.abs(np.asarray(affine)[2, :3])))


@dataclass(frozen=True)
class Plane:
    """Slice ``index`` across ``axis`` of a volume, or ``(None, None)``: the whole 2D image.

    ``Plane(axis, index)`` trusts its numbers; :meth:`of` and :meth:`at` check them against an image.
    """

    axis: int | None = None
    index: int | None = None

    @classmethod
    def of(cls, image: Image, axis: int | None = None, index: int | None = None) -> Plane:
        """The plane of ``image`` the user asked for, with a volume's defaults: the axial axis
        (:func:`axial_axis`), the middle slice. A 2D image has one plane.

        Raises:
            PromptError: no such plane.
        """
        if image.spatial_ndim == 3:
            axis = axial_axis(image) if axis is None else axis
            if index is None and _is_int(axis) and 0 <= axis < 3:
                index = image.spatial_shape[axis] // 2
        return cls.at(image, axis, index)

    @classmethod
    def at(cls, image: Image, axis: int | None, index: int | None) -> Plane:
        """Exactly plane ``(axis, index)`` of ``image`` (no defaults for a volume); a 2D image takes ``None`` or 0
        for either.

        Raises:
            PromptError: no such plane.
        """
        if image.spatial_ndim == 2:
            if axis not in (None, 0) or index not in (None, 0):
                raise PromptError(_no_plane(axis, index, "a 2D image has no slices"))
            return cls()
        if not (_is_int(axis) and 0 <= axis < 3):
            raise PromptError(_no_plane(axis, index, "a 3D image has axes 0..2"))
        depth = image.spatial_shape[axis]
        if not (_is_int(index) and 0 <= index < depth):
            raise PromptError(_no_plane(axis, index, f"axis {axis} has slices 0..{depth - 1}"))
        return cls(int(axis), int(index))

    @property
    def key(self) -> PlaneKey:
        """``(axis, index)``."""
        return self.axis, self.index

    @property
    def in_plane_axes(self) -> tuple[int, int]:
        """The array axes of the plane's rows and columns (the volume's other two axes, in stored order)."""
        if self.axis is None:
            return 0, 1
        rows, cols = (d for d in range(3) if d != self.axis)
        return rows, cols

    def take(self, array: np.ndarray) -> np.ndarray:
        """The plane's part of ``array`` (an image's pixels or a label map on its grid): ``array`` itself for a 2D
        image, else ``numpy.take(array, index, axis)`` as a view — ``np.take`` first copies a whole non-C-ordered
        array (a memory-mapped NIfTI volume is Fortran-ordered), this reads one plane, and writing to it writes
        into ``array``."""
        if self.axis is None:
            return array
        return array[(slice(None),) * self.axis + (self.index,)]

    def region(self, shape: Sequence[int]) -> tuple[slice, ...]:
        """The slices of a volume of ``shape`` (or of the whole 2D image) that hold the plane, keeping its axis."""
        region = [slice(0, n) for n in shape]
        if self.axis is not None:
            region[self.axis] = slice(self.index, self.index + 1)
        return tuple(region)

    def as_block(self, plane: np.ndarray) -> np.ndarray:
        """A plane-shaped array shaped like the block :meth:`region` selects (the plane's axis put back, length 1)."""
        return plane if self.axis is None else np.expand_dims(plane, self.axis)

    @staticmethod
    def to_plane(coords: Sequence[float], axis: int | None) -> tuple[int | None, float, float]:
        """Data coordinates of a point (one per spatial axis) -> ``(index, x, y)`` on the plane across ``axis``."""
        if axis is None:
            y, x = coords[-2:]
            return None, float(x), float(y)
        rows, cols = Plane(axis).in_plane_axes
        return int(round(coords[axis])), float(coords[cols]), float(coords[rows])

    def from_plane(self, x: float, y: float) -> np.ndarray:
        """Inverse of :meth:`to_plane`: data coordinates of the plane's point ``(x, y)``."""
        if self.axis is None:
            return np.array([y, x], dtype=float)
        coords = np.empty(3)
        coords[self.axis] = self.index
        coords[list(self.in_plane_axes)] = (y, x)
        return coords



def planes_holding(mask: np.ndarray, axis: int, count: int, *, min_pixels: int = 1,
                   centres: bool = False) -> list[int]:
    """Up to ``count`` indices along ``axis`` of the planes where ``mask`` covers at least ``min_pixels``, spread
    evenly over them: from the first to the last, or with ``centres`` at the centres of ``count`` equal parts of
    that range (so one plane is the middle one)."""
    areas = np.asarray(mask).sum(axis=Plane(axis).in_plane_axes)
    candidates = np.flatnonzero(areas >= min_pixels)
    if centres:
        parts = min(count, candidates.size)
        picks = ((np.arange(parts) + 0.5) / max(parts, 1) * candidates.size).astype(int)
    elif candidates.size <= count:
        return [int(i) for i in candidates]
    else:
        picks = np.linspace(0, candidates.size - 1, count).round().astype(int)
    return [int(candidates[i]) for i in np.unique(picks)]

def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _no_plane(axis: object, index: object, reason: str) -> str:
    """The one error text for a plane that does not exist."""
    return f"slice {index!r} along axis {axis!r} is out of range: {reason}"
