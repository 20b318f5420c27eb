"""One image's interactive segmentation: labels, the current object's prompts and previews, undo/redo.

The one object the UI holds. Pure (no napari / Qt) and usable from a notebook::

    session = SegmentationSession(predictor, image)
    session.set_box(2, 24, (10, 35, 70, 100))    # prompts of the current object on plane (axis 2, slice 24)
    session.preview(2, 24)                       # its mask on that plane (encodes the plane once, then decoder only)
    session.accept()                             # previews -> labels with the current object id, one undo step
    session.new_object()                         # next id
    volume = jobs.run(session.propagate_job(2, 24)); session.apply_propagation(2, 24, volume)
    found = jobs.run(session.auto_job(2, 24)); session.apply_auto(2, 24, found.labels)  # segment everything
    session.edit_object(2, 24, 5)                # correct existing object 5 there: its mask is the start,
    session.add_point(2, 24, 40, 52)             # a click refines it where it was put,
    session.accept()                             # and accept replaces the object on that plane only

Planes: ``(axis, index)`` is ``numpy.take(array, index, axis)`` (as a view, ``images.plane_of``) of a volume,
``(None, None)`` the whole 2D image; on a plane ``x`` = column and ``y`` = row (as in SAM). Model work happens only
in :meth:`embed`, :meth:`preview`, :meth:`accept`, :meth:`new_object` and :meth:`edit_object` (previews not computed
yet) and the jobs; everything else is cheap numpy, so a UI can run the former off its event loop and the latter on
it — as long as it does not run two of them at once.

A lazy raster (``RasterFile.image()``, larger than memory) is segmented by tiles: each prompt reads and encodes only
the tiles it falls in (:class:`~gfm_napari.engine.tiles.TiledSegmenter`), logits are not fed back (they belong
to single tiles), and masks and labels touch memory only where they hold an object.

Undo covers prompts, object ids and labels; a step stores only the bounding box of the voxels it changed and the
plane states it replaced, and the history is bounded in memory (oldest steps dropped first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..errors import PromptError
from ..images import Image, Normalization, fit_normalization, plane_of
from ..images.windowed import raster_of
from ..jobs import Job, Progress
from .auto import AutoResult, segment_everything
from .auto_window import AutoSettings
from .predictor import Prediction, Predictor
from .prompts import NEGATIVE, POSITIVE, Prompts
from .proofread import box_holding_clicks, local_correction, object_mask, start_prediction
from .propagate import PropagationSettings, propagate
from .tiles import TiledSegmenter, prompt_extent
from .zoom import PlaneSegmenter

PlaneKey = tuple[int | None, int | None]
Region = tuple[slice, ...]
_NO_LOGITS = torch.empty(0)
"""Low-res logits of a tiled prediction: none (they belong to single tiles and are never fed back)."""


def to_plane(coords: Sequence[float], axis: int | None) -> tuple[int | None, float, float]:
    """Data coordinates of a point (one per spatial axis) -> ``(index, x, y)`` on the plane across ``axis``."""
    if axis is None:
        y, x = coords[-2:]
        return None, float(x), float(y)
    rows_axis, cols_axis = (d for d in range(3) if d != axis)
    return int(round(coords[axis])), float(coords[cols_axis]), float(coords[rows_axis])


def from_plane(axis: int | None, index: int | None, x: float, y: float) -> np.ndarray:
    """Inverse of :func:`to_plane`: data coordinates of plane point ``(x, y)``."""
    if axis is None:
        return np.array([y, x], dtype=float)
    coords = np.empty(3)
    coords[axis] = index
    coords[[d for d in range(3) if d != axis]] = (y, x)
    return coords


@dataclass(frozen=True, eq=False)
class PlaneState:
    """The current object's prompts on one plane, the preview they gave (None until computed) and the previous
    preview (its working window is kept, its low-res logits are the next prompt's mask input). ``generation`` says
    which model and normalisation ``prediction`` and ``previous`` belong to. ``start``: the existing object's mask
    a correction started from (:meth:`SegmentationSession.edit_object`), None for a new object."""

    prompts: Prompts
    prediction: Prediction | None = None
    previous: Prediction | None = None
    generation: int = 0
    start: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        size = 0 if self.previous is None else _tensor_bytes(self.previous.low_res_logits)
        size += 0 if self.start is None else self.start.nbytes
        if self.prediction is not None:
            size += self.prediction.mask.nbytes + _tensor_bytes(self.prediction.low_res_logits)
        return size


@dataclass(frozen=True, eq=False)
class _Patch:
    """Labels in ``region`` before a change."""

    region: Region
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class _Step:
    """What one user action replaced: the object id, plane states (None = absent) and label patches (in order)."""

    object_id: int
    planes: dict[PlaneKey, PlaneState | None] = field(default_factory=dict)
    patches: tuple[_Patch, ...] = ()

    @property
    def nbytes(self) -> int:
        planes = sum(state.nbytes for state in self.planes.values() if state is not None)
        return planes + sum(patch.values.nbytes for patch in self.patches)


class SegmentationSession:
    """Labels on ``image``'s spatial grid (uint16, 0 = background) built one object at a time from prompts.

    Args:
        predictor: the model (its embedding cache is shared with whoever else uses the predictor).
        image: the image being segmented.
        normalization: intensity normalisation for the model (default: the modality's, see ``fit_normalization``).
        labels: an existing label array to continue (kept by reference, modified in place); default zeros.
        feedback_logits: feed each plane's last low-res logits back as mask input for its next prompt; default
            off for box-only models (``ModelSpec.box_only``) and tiled rasters, on for the others.
        max_undo_mb: memory bound of the undo + redo history.
    """

    def __init__(
        self,
        predictor: Predictor,
        image: Image,
        normalization: Normalization | None = None,
        *,
        labels: np.ndarray | None = None,
        feedback_logits: bool | None = None,
        max_undo_mb: float = 256.0,
    ) -> None:
        self.predictor = predictor
        self.image = image
        self.normalization = normalization if normalization is not None else fit_normalization(image)
        if labels is None:
            labels = image.zeros(np.uint16)
        if labels.shape != image.spatial_shape or labels.dtype != np.uint16:
            raise PromptError(f"labels must be uint16 {image.spatial_shape}, got {labels.dtype} {labels.shape}")
        self.labels = labels
        self._raster = raster_of(image)
        self.feedback_logits = self._default_feedback(predictor) if feedback_logits is None else feedback_logits
        self.object_id = int(labels.max()) + 1
        self.version = 0  # bumped on every change of ``labels`` (for views and autosave)
        self._planes: dict[PlaneKey, PlaneState] = {}
        self._generation = 0
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._max_undo_bytes = int(max_undo_mb * 2**20)

    # ---- planes --------------------------------------------------------------------------------------------------
    def plane_key(self, axis: int | None, index: int | None) -> PlaneKey:
        """Validated ``(axis, index)``; ``(None, None)`` for a 2D image whatever is passed."""
        if self.image.spatial_ndim == 2:
            return None, None
        if axis not in (0, 1, 2):
            raise PromptError(f"slice axis must be 0, 1 or 2, got {axis!r}")
        depth = self.image.spatial_shape[axis]
        if index is None or not 0 <= index < depth:
            raise PromptError(f"slice {index} is outside 0..{depth - 1} along axis {axis}")
        return int(axis), int(index)

    def plane_shape(self, axis: int | None, index: int | None) -> tuple[int, int]:
        """(rows, cols) of a plane."""
        return self.image.plane_shape(self.plane_key(axis, index)[0])

    # ---- prompts (cheap) -----------------------------------------------------------------------------------------
    def prompts(self) -> Mapping[PlaneKey, Prompts]:
        """The current object's prompts per plane."""
        return {key: state.prompts for key, state in self._planes.items()}

    def add_point(self, axis: int | None, index: int | None, x: float, y: float, positive: bool = True) -> None:
        """Add a click (x = column, y = row) to the current object on a plane; PromptError if outside it."""
        key = self.plane_key(axis, index)
        prompts = self._prompts_at(key).with_point(x, y, POSITIVE if positive else NEGATIVE)
        prompts.check(self.plane_shape(*key))
        self._set_prompts(key, prompts)

    def remove_point(self, axis: int | None, index: int | None, x: float, y: float) -> bool:
        """Remove the click at (x, y) (within half a pixel); False when there is none."""
        key = self.plane_key(axis, index)
        prompts = self._prompts_at(key)
        near = _point_near(prompts, x, y)
        if near is None:
            return False
        keep = np.ones(len(prompts.points), bool)
        keep[near] = False
        self._set_prompts(key, Prompts(prompts.points[keep], prompts.labels[keep], prompts.box))
        return True

    def move_point(
        self, axis: int | None, index: int | None, old: tuple[float, float], new: tuple[float, float]
    ) -> bool:
        """Move the click at ``old`` (x, y; within half a pixel) to ``new``, keeping its sign, as one undo step;
        False when there is none; PromptError when ``new`` is outside the plane."""
        key = self.plane_key(axis, index)
        prompts = self._prompts_at(key)
        near = _point_near(prompts, *old)
        if near is None:
            return False
        points = prompts.points.copy()
        points[near] = new
        moved = Prompts(points, prompts.labels, prompts.box)
        moved.check(self.plane_shape(*key))
        self._set_prompts(key, moved)
        return True

    def set_box(
        self, axis: int | None, index: int | None, box: tuple[float, float, float, float] | None
    ) -> None:
        """Set (or with None remove) the current object's box (x0, y0, x1, y1) on a plane, clipped to the plane."""
        key = self.plane_key(axis, index)
        current = self._prompts_at(key)
        if box is not None:
            rows, cols = self.plane_shape(*key)
            x0, y0, x1, y1 = box
            clipped = (max(x0, 0.0), max(y0, 0.0), min(x1, cols - 1.0), min(y1, rows - 1.0))
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                raise PromptError(f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) does not overlap the {cols}x{rows} image")
            box = clipped
        if box == current.box:
            return
        self._set_prompts(key, Prompts(current.points, current.labels, box))

    # ---- model work (slow: run it off a UI's event loop) ---------------------------------------------------------
    def needs_embedding(self, axis: int | None, index: int | None) -> bool:
        """True when the plane has not been encoded yet with this model and normalisation."""
        key = self.plane_key(axis, index)
        return self._raster is None and not self.predictor.is_cached(self.image, *key, self.normalization)

    def preview_needs_encoding(self, axis: int | None, index: int | None) -> bool:
        """True when computing the plane's preview will run the encoder first (the plane, or the working window
        around the current object's prompts, is not encoded yet)."""
        key = self.plane_key(axis, index)
        state = self._planes.get(key)
        if self._raster is not None or state is None or not state.prompts.has_object:
            return False
        previous = state.previous if state.generation == self._generation else None
        return self._plane(key).needs_encoding(state.prompts, previous)

    def embed(self, axis: int | None, index: int | None) -> None:
        """Encode a plane into the predictor's cache (the slow step; a no-op when cached, or for a tiled raster,
        whose tiles are encoded when prompted)."""
        key = self.plane_key(axis, index)
        if self._raster is None:
            self.predictor.embed(self.image, *key, normalization=self.normalization)

    def preview(self, axis: int | None, index: int | None) -> np.ndarray | None:
        """The current object's mask on a plane from its prompts (bool (rows, cols)); None without prompts."""
        key = self.plane_key(axis, index)
        state = self._planes.get(key)
        if state is None:
            return None
        if not self._is_valid(state):
            prediction = self._predict(key, state)
            computed = replace(state, prediction=prediction, generation=self._generation)
            if self._planes.get(key) is state:  # prompts unchanged meanwhile
                self._planes[key] = computed
            state = computed
        return state.prediction.mask

    def previews(self) -> Mapping[PlaneKey, np.ndarray]:
        """The computed, up-to-date previews of the current object, per plane."""
        return {key: s.prediction.mask for key, s in self._planes.items() if self._is_valid(s)}

    def stale_planes(self) -> list[PlaneKey]:
        """Planes whose prompts have no up-to-date preview yet (call :meth:`preview` for each)."""
        return [key for key, state in self._planes.items() if not self._is_valid(state)]

    def set_normalization(self, normalization: Normalization) -> None:
        """Use another normalisation (e.g. CT window); previews become stale, nothing else changes."""
        if normalization.describe() != self.normalization.describe():
            self.normalization = normalization
            self._generation += 1

    def set_predictor(self, predictor: Predictor, *, feedback_logits: bool | None = None) -> None:
        """Use another model; previews become stale, labels, prompts and history stay."""
        self.predictor = predictor
        self.feedback_logits = self._default_feedback(predictor) if feedback_logits is None else feedback_logits
        self._generation += 1

    def embed_job(self, axis: int, around: int = 0) -> Job[None]:
        """Job encoding every slice along ``axis``, nearest to slice ``around`` first."""
        self.plane_key(axis, around)
        depth = self.image.spatial_shape[axis]
        for done, index in enumerate(sorted(range(depth), key=lambda i: abs(i - around)), start=1):
            self.embed(axis, index)
            yield Progress(done, depth, f"encoded slice {index}")

    def propagate_job(
        self, axis: int, index: int, settings: PropagationSettings = PropagationSettings()
    ) -> Job[np.ndarray]:
        """Job carrying the current object from slice ``index`` (its preview there, else its accepted mask) through
        the volume; returns a bool mask for :meth:`apply_propagation`. Closing the job early changes nothing."""
        key = self.plane_key(axis, index)
        if self.image.spatial_ndim != 3:
            raise PromptError("propagation needs a 3D image")
        start = self.preview(*key)
        if start is None:
            start = plane_of(self.labels, axis, index) == self.object_id
        if not start.any():
            raise PromptError(f"object {self.object_id} is empty on slice {index}: prompt or accept it there first")
        return (
            yield from propagate(
                self.predictor, self.image, axis, index, start, normalization=self.normalization, settings=settings
            )
        )

    # ---- labels and history --------------------------------------------------------------------------------------
    def accept(self) -> bool:
        """Write the current object's previews into the labels (replacing its voxels on those planes, never other
        objects'), and consume its prompts; one undo step. Computes previews not computed yet. False if none."""
        if not self._planes:
            return False
        self._push(self._commit_previews())
        return True

    def new_object(self) -> int:
        """Accept what is pending, then make the next free id current (one undo step); returns it."""
        step = self._commit_previews()
        next_id = int(self.labels.max()) + 1
        if next_id > np.iinfo(np.uint16).max:
            raise PromptError("no free object id left (65535 objects)")
        if step.patches or step.planes or next_id != self.object_id:
            self.object_id = next_id
            self._push(step)
        return self.object_id

    def edit_object(self, axis: int | None, index: int | None, object_id: int) -> None:
        """Make the existing object ``object_id`` current and start correcting it on a plane: its mask there becomes
        the plane's preview, and its box and mask the starting point of the next click (:mod:`.proofread`); accept
        replaces its voxels on that plane only. What is pending is accepted first. One undo step.

        Raises:
            PromptError: ``object_id`` has no voxel on that plane; a raster read by windows.
        """
        key = self.plane_key(axis, index)
        if self._raster is not None:
            raise PromptError("correcting an existing object needs an image held in memory, not a raster read by "
                              "windows")
        object_mask(self.labels, *key, object_id)
        step = self._commit_previews()
        mask = (self.labels if key[0] is None else plane_of(self.labels, *key)) == object_id
        if not mask.any():  # the pending previews were this object's and removed it here
            self._push(step)
            raise PromptError(f"object {object_id} was just removed from this plane by its accepted prompts")
        prompts, start = start_prediction(self._plane(key), mask)
        self.object_id = object_id
        self._planes[key] = PlaneState(prompts, start, None, self._generation, start.mask)
        self._push(replace(step, planes={key: None, **step.planes}))

    def clear_object(self) -> None:
        """Remove the current object: its prompts, previews and accepted voxels (one undo step)."""
        step = self._before(self._planes)
        region = _bounding_box(self.labels == self.object_id)
        patch = None
        if region is not None:
            block = self.labels[region]
            patch = self._write(region, np.where(block == self.object_id, 0, block).astype(np.uint16))
        if patch is None and not step.planes:
            return
        self._planes.clear()
        self._push(replace(step, patches=(patch,) if patch else ()))

    def apply_propagation(self, axis: int, index: int, volume: np.ndarray) -> None:
        """Write a :meth:`propagate_job` result: on every slice it reached, the current object's voxels are replaced
        by it (other objects kept); those slices' prompts are consumed. One undo step."""
        key = self.plane_key(axis, index)
        if volume.shape != self.labels.shape:
            raise PromptError(f"propagated mask {volume.shape} does not match the labels {self.labels.shape}")
        other = tuple(d for d in range(3) if d != axis)
        reached = np.flatnonzero(volume.any(axis=other))
        reached_set = set(reached.tolist())
        consumed = [k for k in self._planes if k[0] == key[0] and k[1] in reached_set]
        step = self._before(consumed)
        patches: tuple[_Patch, ...] = ()
        if reached.size:
            region = [slice(0, n) for n in self.labels.shape]
            region[axis] = slice(int(reached[0]), int(reached[-1]) + 1)
            region = tuple(region)
            on_reached = np.zeros(self.labels.shape[axis], bool)
            on_reached[reached] = True
            on_reached = np.expand_dims(on_reached[region[axis]], other)
            patch = self._write(region, self._merged(self.labels[region], volume[region], replace_on=on_reached))
            patches = (patch,) if patch else ()
        for k in consumed:
            del self._planes[k]
        if patches or consumed:
            self._push(replace(step, patches=patches))

    def auto_job(self, axis: int | None, index: int | None, settings: AutoSettings | None = None) -> Job[AutoResult]:
        """Job segmenting everything on a plane (:mod:`~gfm_napari.engine.auto`), in the box drawn there if any;
        returns the result for :meth:`apply_auto`. Closing the job early changes nothing."""
        key = self.plane_key(axis, index)
        box = self._prompts_at(key).box
        region = None if box is None else prompt_extent(Prompts(box=box))
        if self._raster is not None and region is None:
            raise PromptError("this scene is too large to segment whole: draw a box around the part to segment")
        return (yield from segment_everything(self.predictor, self.image, *key, normalization=self.normalization,
                                              settings=settings, region=region))

    def apply_auto(self, axis: int | None, index: int | None, found: np.ndarray) -> int:
        """Add the objects of an automatic pass (``found``: ids on the plane, 0 = nothing) as new objects, numbered
        after the largest id in use, on the pixels no object holds yet (one with no such pixel is left out); the
        plane's prompts are consumed. One undo step; returns how many objects were added."""
        key = self.plane_key(axis, index)
        region = self._region(key)
        block = self.labels[region]
        found = np.asarray(found) if key[0] is None else np.expand_dims(found, key[0])
        free = (block == 0) & (found > 0)
        ids = np.unique(found[free])  # objects left without a free pixel get no id
        first = int(self.labels.max()) + 1
        if first + len(ids) - 1 > np.iinfo(np.uint16).max:
            raise PromptError(f"no room for {len(ids)} more objects (ids stop at 65535)")
        step = self._before([key])
        lookup = np.zeros(int(found.max()) + 1, np.uint16)
        lookup[ids] = np.arange(first, first + len(ids))
        patch = self._write(region, np.where(free, lookup[found], block).astype(np.uint16))
        self._planes.pop(key, None)
        self.object_id = int(self.labels.max()) + 1
        self._push(replace(step, patches=(patch,) if patch else ()))
        return len(ids)

    def replace_labels(self, labels: np.ndarray) -> None:
        """Replace all labels (e.g. restored from an autosave) as one undo step; the next free id becomes current."""
        if labels.shape != self.labels.shape:
            raise PromptError(f"labels of shape {labels.shape} do not fit the image {self.labels.shape}")
        step = self._before(self._planes)
        patch = self._write(tuple(slice(0, n) for n in labels.shape), np.asarray(labels, dtype=np.uint16))
        self._planes.clear()
        self.object_id = int(self.labels.max()) + 1
        self._push(replace(step, patches=(patch,) if patch else ()))

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        """Undo the last step (prompt, accept, new object, clear, propagation, restore); False if there is none."""
        if not self._undo:
            return False
        self._redo.append(self._restore(self._undo.pop()))
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._restore(self._redo.pop()))
        return True

    @property
    def history_nbytes(self) -> int:
        """Memory held by the undo and redo history."""
        return sum(step.nbytes for step in self._undo + self._redo)

    # ---- internals -----------------------------------------------------------------------------------------------
    def _predict(self, key: PlaneKey, state: PlaneState) -> Prediction:
        if not state.prompts.has_object:  # negative clicks alone say only what the object is not: nothing yet
            nothing = np.zeros(self.plane_shape(*key), bool)
            if state.previous is None:
                return Prediction(nothing, float("nan"), _NO_LOGITS)
            return replace(state.previous, mask=nothing, score=float("nan"))
        if self._raster is not None:
            return self._predict_tiled(state.prompts)
        previous = state.previous if state.generation == self._generation else None
        plane = self._plane(key)
        if state.start is None:
            return plane.predict(state.prompts, previous, feedback=self.feedback_logits)
        prompts = box_holding_clicks(state.prompts, plane.plane_shape)  # correcting an existing object (edit_object)
        prediction = plane.predict(prompts, previous, feedback=self.feedback_logits)
        return local_correction(plane, state.start, prediction, prompts)

    def _plane(self, key: PlaneKey) -> PlaneSegmenter:
        return PlaneSegmenter(self.predictor, self.image, *key, self.normalization)

    def _predict_tiled(self, prompts: Prompts) -> Prediction:
        """The mask of ``prompts`` on a raster read by windows: only the tiles they fall in are read and encoded;
        the scene-size mask takes memory only on its window (``np.zeros`` pages never written stay unallocated)."""
        tiles = TiledSegmenter(self.predictor, self._raster, self.normalization)
        window, mask = tiles.segment(prompts)
        full = np.zeros(self.image.spatial_shape, bool)
        full[window.slices] = mask
        return Prediction(full, float("nan"), _NO_LOGITS)

    def _default_feedback(self, predictor: Predictor) -> bool:
        """Feeding a box-only model's own logits back as mask input makes it worse (measured on the CT: liver 3D
        Dice 0.91 -> 0.47), so logits feedback is off for such models and on for the others; a tiled raster has no
        plane-wide logits to feed back."""
        return self._raster is None and not predictor.model.spec.box_only

    def _is_valid(self, state: PlaneState) -> bool:
        return state.prediction is not None and state.generation == self._generation

    def _prompts_at(self, key: PlaneKey) -> Prompts:
        state = self._planes.get(key)
        return state.prompts if state is not None else Prompts()

    def _set_prompts(self, key: PlaneKey, prompts: Prompts) -> None:
        step = self._before([key])
        old = self._planes.get(key)
        if prompts.is_empty:
            self._planes.pop(key, None)
        elif old is not None and self._is_valid(old):
            self._planes[key] = PlaneState(prompts, None, old.prediction, old.generation, old.start)
        elif old is not None:
            self._planes[key] = PlaneState(prompts, None, old.previous, old.generation, old.start)
        else:
            self._planes[key] = PlaneState(prompts, generation=self._generation)
        self._push(step)

    def _before(self, keys: Iterable[PlaneKey]) -> _Step:
        return _Step(self.object_id, {key: self._planes.get(key) for key in keys})

    def _commit_previews(self) -> _Step:
        """Paint every plane's preview (computing missing ones), consume the prompts; the step is not pushed."""
        masks = {key: self.preview(*key) for key in list(self._planes)}
        step = self._before(masks)
        self._planes.clear()
        return replace(step, patches=tuple(p for key, mask in masks.items() if (p := self._paint(key, mask))))

    def _region(self, key: PlaneKey) -> Region:
        region = [slice(0, n) for n in self.labels.shape]
        if key[0] is not None:
            region[key[0]] = slice(key[1], key[1] + 1)
        return tuple(region)

    def _paint(self, key: PlaneKey, mask: np.ndarray) -> _Patch | None:
        """The current object becomes ``mask`` on plane ``key`` (other objects' voxels are kept); only the box
        around the mask and the object's present voxels there is read and written."""
        region = self._region(key)
        if key[0] is not None:
            mask = np.expand_dims(mask, key[0])
        touched = _bounding_box(mask | (self.labels[region] == self.object_id))
        if touched is None:
            return None
        absolute = tuple(slice(r.start + t.start, r.start + t.stop) for r, t in zip(region, touched))
        return self._write(absolute, self._merged(self.labels[absolute], mask[touched]))

    def _merged(self, block: np.ndarray, mask: np.ndarray, replace_on: np.ndarray | bool = True) -> np.ndarray:
        """``block`` with the current object's voxels (where ``replace_on``) replaced by ``mask``; other objects'
        voxels are kept and never overwritten."""
        kept = np.where((block == self.object_id) & replace_on, 0, block)
        return np.where(mask & (kept == 0), self.object_id, kept).astype(np.uint16)

    def _write(self, region: Region, values: np.ndarray) -> _Patch | None:
        """Write ``values`` into ``region``; the patch holds the old values of the changed voxels' bounding box."""
        changed = _bounding_box(self.labels[region] != values)
        if changed is None:
            return None
        absolute = tuple(slice(r.start + c.start, r.start + c.stop) for r, c in zip(region, changed))
        patch = _Patch(absolute, self.labels[absolute].copy())
        self.labels[absolute] = values[changed]
        self.version += 1
        return patch

    def _push(self, step: _Step) -> None:
        self._undo.append(step)
        self._redo.clear()
        total = sum(s.nbytes for s in self._undo)
        while total > self._max_undo_bytes and len(self._undo) > 1:
            total -= self._undo.pop(0).nbytes

    def _restore(self, step: _Step) -> _Step:
        """Put back what ``step`` holds; returns the step that puts back the present (for the other stack)."""
        inverse_patches = []
        for patch in reversed(step.patches):
            inverse_patches.append(_Patch(patch.region, self.labels[patch.region].copy()))
            self.labels[patch.region] = patch.values
            self.version += 1
        inverse = replace(self._before(step.planes), patches=tuple(inverse_patches))
        self.object_id = step.object_id
        for key, state in step.planes.items():
            if state is None:
                self._planes.pop(key, None)
            else:
                self._planes[key] = state
        return inverse


def _point_near(prompts: Prompts, x: float, y: float) -> int | None:
    """Index of the first click within half a pixel of (x, y), or None."""
    near = np.flatnonzero(np.all(np.abs(prompts.points - (x, y)) <= 0.5, axis=1))
    return int(near[0]) if near.size else None


def _bounding_box(mask: np.ndarray) -> Region | None:
    """Slices of the smallest box holding every True voxel of ``mask``; None when there is none."""
    if not mask.any():
        return None
    box = []
    for axis in range(mask.ndim):
        hits = np.flatnonzero(mask.any(axis=tuple(d for d in range(mask.ndim) if d != axis)))
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)


def _tensor_bytes(tensor: torch.Tensor) -> int:
    return tensor.element_size() * tensor.nelement()
