"""Undo and redo for a segmentation session: what each user action replaced, bounded in memory.

A :class:`Step` holds the object id, the plane states and the label patches one action replaced; a
:class:`Patch` holds only the bounding box of the voxels that changed. The :class:`History` keeps the undo and redo
stacks and drops the oldest steps first when they outgrow their memory bound. Putting a step back is the owner's
job (it knows what a plane state is); :meth:`History.undo` / :meth:`History.redo` hand it the step and keep the
inverse it returns for the other stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..images.plane import PlaneKey

Region = tuple[slice, ...]


class Sized(Protocol):
    """Anything a step keeps that says how much memory it holds."""

    @property
    def nbytes(self) -> int: ...


@dataclass(frozen=True, eq=False)
class Patch:
    """Labels in ``region`` before a change."""

    region: Region
    values: np.ndarray

    def swap(self, labels: np.ndarray) -> Patch:
        """Put these values back into ``labels``; returns the patch that puts back the present."""
        present = Patch(self.region, labels[self.region].copy())
        labels[self.region] = self.values
        return present


@dataclass(frozen=True, eq=False)
class Step:
    """What one user action replaced: the object id, plane states (None = absent) and label patches (in order)."""

    object_id: int
    planes: Mapping[PlaneKey, Sized | None] = field(default_factory=dict)
    patches: tuple[Patch, ...] = ()

    @property
    def nbytes(self) -> int:
        planes = sum(state.nbytes for state in self.planes.values() if state is not None)
        return planes + sum(patch.values.nbytes for patch in self.patches)


class History:
    """Undo and redo stacks of :class:`Step`; the undo stack holds at most ``max_bytes`` (at least one step)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._undo: list[Step] = []
        self._redo: list[Step] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def nbytes(self) -> int:
        """Memory held by the undo and redo stacks."""
        return sum(step.nbytes for step in self._undo + self._redo)

    def push(self, step: Step) -> None:
        """A new action: it becomes the last step to undo, and what could be redone is forgotten."""
        self._undo.append(step)
        self._redo.clear()
        total = sum(s.nbytes for s in self._undo)
        while total > self.max_bytes and len(self._undo) > 1:
            total -= self._undo.pop(0).nbytes

    def undo(self, restore: Callable[[Step], Step]) -> bool:
        """Put back the last step with ``restore`` (which returns the step that puts back the present); False if
        there is none."""
        if not self._undo:
            return False
        self._redo.append(restore(self._undo.pop()))
        return True

    def redo(self, restore: Callable[[Step], Step]) -> bool:
        """Put back the last undone step; False if there is none."""
        if not self._redo:
            return False
        self._undo.append(restore(self._redo.pop()))
        return True


def write(labels: np.ndarray, region: Region, values: np.ndarray) -> Patch | None:
    """Write ``values`` into ``region`` of ``labels``; the patch holds the old values of the changed voxels'
    bounding box; None when nothing changes."""
    changed = bounding_box(labels[region] != values)
    if changed is None:
        return None
    absolute = tuple(slice(r.start + c.start, r.start + c.stop) for r, c in zip(region, changed))
    patch = Patch(absolute, labels[absolute].copy())
    labels[absolute] = values[changed]
    return patch


def bounding_box(mask: np.ndarray) -> Region | None:
    """Slices of the smallest box holding every True voxel of ``mask``; None when there is none."""
    if not mask.any():
        return None
    box = []
    for axis in range(mask.ndim):
        hits = np.flatnonzero(mask.any(axis=tuple(d for d in range(mask.ndim) if d != axis)))
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)
