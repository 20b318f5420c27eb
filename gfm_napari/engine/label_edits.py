"""Edits of a uint16 label map (0 = background) that never overwrite another object's voxels.

Each function reads the labels and returns what to write — ``(region, values)``, the smallest region it can —
or None when nothing would change; the caller writes it (and keeps the undo patch, :func:`.history.write`).
"""

from __future__ import annotations

import numpy as np

from ..errors import PromptError
from ..images.plane import Plane
from .history import Region, bounding_box

Edit = tuple[Region, np.ndarray]
MAX_ID = int(np.iinfo(np.uint16).max)


def merged(block: np.ndarray, mask: np.ndarray, object_id: int, replace_on: np.ndarray | bool = True) -> np.ndarray:
    """``block`` with ``object_id``'s voxels (where ``replace_on``) replaced by ``mask``; other objects' voxels are
    kept and never overwritten."""
    kept = np.where((block == object_id) & replace_on, 0, block)
    return np.where(mask & (kept == 0), object_id, kept).astype(np.uint16)


def painted(labels: np.ndarray, plane: Plane, mask: np.ndarray, object_id: int) -> Edit | None:
    """Object ``object_id`` becomes ``mask`` on ``plane``; only the box around the mask and the object's present
    voxels there is read and written."""
    region = plane.region(labels.shape)
    mask = plane.as_block(mask)
    touched = bounding_box(mask | (labels[region] == object_id))
    if touched is None:
        return None
    absolute = tuple(slice(r.start + t.start, r.start + t.stop) for r, t in zip(region, touched))
    return absolute, merged(labels[absolute], mask[touched], object_id)


def removed(labels: np.ndarray, object_id: int) -> Edit | None:
    """Every voxel of ``object_id`` back to background."""
    region = bounding_box(labels == object_id)
    if region is None:
        return None
    block = labels[region]
    return region, np.where(block == object_id, 0, block).astype(np.uint16)


def slices_reached(volume: np.ndarray, axis: int) -> np.ndarray:
    """The indices of the slices across ``axis`` where the bool ``volume`` holds a voxel, in order."""
    return np.flatnonzero(volume.any(axis=Plane(axis).in_plane_axes))


def propagated(
    labels: np.ndarray, axis: int, volume: np.ndarray, reached: np.ndarray, object_id: int
) -> Edit | None:
    """On every slice across ``axis`` that the bool ``volume`` reaches (:func:`slices_reached`), ``object_id``'s
    voxels are replaced by it."""
    if not reached.size:
        return None
    region = [slice(0, n) for n in labels.shape]
    region[axis] = slice(int(reached[0]), int(reached[-1]) + 1)
    region = tuple(region)
    on_reached = np.zeros(labels.shape[axis], bool)
    on_reached[reached] = True
    on_reached = np.expand_dims(on_reached[region[axis]], Plane(axis).in_plane_axes)
    return region, merged(labels[region], volume[region], object_id, replace_on=on_reached)


def added(labels: np.ndarray, plane: Plane, found: np.ndarray) -> tuple[Edit, int]:
    """The objects ``found`` on ``plane`` (ids, 0 = nothing) as new objects numbered after the largest id in use,
    on the voxels no object holds yet (one with no such voxel is left out); and how many were added.

    Raises:
        PromptError: not enough ids left.
    """
    region = plane.region(labels.shape)
    block = labels[region]
    found = plane.as_block(np.asarray(found))
    free = (block == 0) & (found > 0)
    ids = np.unique(found[free])  # objects left without a free pixel get no id
    first = int(labels.max()) + 1
    if first + len(ids) - 1 > MAX_ID:
        raise PromptError(f"no room for {len(ids)} more objects (ids stop at 65535)")
    lookup = np.zeros(int(found.max()) + 1, np.uint16)
    lookup[ids] = np.arange(first, first + len(ids))
    return (region, np.where(free, lookup[found], block).astype(np.uint16)), len(ids)
