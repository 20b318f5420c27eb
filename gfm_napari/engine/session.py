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

Planes: ``(axis, index)`` is slice ``index`` across ``axis`` of a volume, ``(None, None)`` the whole 2D image
(:class:`~gfm_napari.images.Plane`); on a plane ``x`` = column and ``y`` = row (as in SAM). Model work happens only
in :meth:`embed`, :meth:`preview`, :meth:`accept`, :meth:`new_object` and :meth:`edit_object` (previews not computed
yet) and the jobs; everything else is cheap numpy, so a UI can run the former off its event loop and the latter on
it — as long as it does not run two of them at once.

A lazy raster (``RasterFile.image()``, larger than memory) is segmented by tiles, any other image plane by plane:
the :mod:`.strategy` is chosen once, when the session is made; masks and labels touch memory only where they hold
an object.

Undo covers prompts, object ids and labels; a step stores only the bounding box of the voxels it changed and the
plane states it replaced, and the history is bounded in memory (oldest steps dropped first; :mod:`.history`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..errors import PromptError
from ..images import Image, Normalization, Plane, fit_normalization
from ..images.plane import PlaneKey
from ..jobs import Job, Progress
from .auto import AutoResult, segment_everything
from .auto_window import AutoSettings
from .history import History, Patch, Step, write
from .label_edits import MAX_ID, Edit, added, painted, propagated, removed, slices_reached
from .predictor import Prediction, Predictor
from .prompts import CANDIDATES, NEGATIVE, POSITIVE, Prompts
from .proofread import object_mask, start_prediction
from .propagate import PropagationSettings, propagate
from .strategy import NO_LOGITS, strategy_for
from .tiles import prompt_extent


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
        self._strategy = strategy_for(image)
        self.feedback_logits = self._default_feedback(predictor) if feedback_logits is None else feedback_logits
        self.object_id = int(labels.max()) + 1
        self.version = 0  # bumped on every change of ``labels`` (for views and autosave)
        self._planes: dict[PlaneKey, PlaneState] = {}
        self._generation = 0
        self._history = History(int(max_undo_mb * 2**20))

    # ---- planes --------------------------------------------------------------------------------------------------
    def plane_key(self, axis: int | None, index: int | None) -> PlaneKey:
        """Validated ``(axis, index)`` (:meth:`Plane.at <gfm_napari.images.Plane.at>`); ``(None, None)`` for a 2D
        image."""
        return Plane.at(self.image, axis, index).key

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
        near = prompts.point_near(x, y)
        if near is None:
            return False
        self._set_prompts(key, prompts.without_point(near))
        return True

    def move_point(
        self, axis: int | None, index: int | None, old: tuple[float, float], new: tuple[float, float]
    ) -> bool:
        """Move the click at ``old`` (x, y; within half a pixel) to ``new``, keeping its sign, as one undo step;
        False when there is none; PromptError when ``new`` is outside the plane."""
        key = self.plane_key(axis, index)
        prompts = self._prompts_at(key)
        near = prompts.point_near(*old)
        if near is None:
            return False
        moved = prompts.with_point_moved(near, *new)
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

    def can_choose_mask(self, axis: int | None, index: int | None) -> bool:
        """Whether the current object's prompts on a plane are a lone click, which the model answers with
        :data:`~.prompts.CANDIDATES` masks (:meth:`next_mask` shows the next)."""
        return self._prompts_at(self.plane_key(axis, index)).is_lone_click

    def next_mask(self, axis: int | None, index: int | None) -> int:
        """Show the model's next mask for the lone click on a plane (ranked by predicted IoU, back to the best after
        the last), as one undo step; returns its rank (0 = the best). The mask the lone click was first given is not
        fed back, so the three masks stay the same ones. PromptError unless the prompts there are a lone click."""
        key = self.plane_key(axis, index)
        state = self._planes.get(key)
        if state is None or not state.prompts.is_lone_click:
            raise PromptError(f"{CANDIDATES} masks are offered for a lone positive click only: clear the object and "
                              "click once (with more prompts the model gives one mask)")
        step = self._before([key])
        prompts = state.prompts.with_candidate((state.prompts.candidate + 1) % CANDIDATES)
        self._planes[key] = replace(state, prompts=prompts, prediction=None)
        self._history.push(step)
        return prompts.candidate

    # ---- model work (slow: run it off a UI's event loop) ---------------------------------------------------------
    def needs_embedding(self, axis: int | None, index: int | None) -> bool:
        """True when the plane has not been encoded yet with this model and normalisation."""
        return self._strategy.needs_embedding(self.predictor, self.plane_key(axis, index), self.normalization)

    def preview_needs_encoding(self, axis: int | None, index: int | None) -> bool:
        """True when computing the plane's preview will run the encoder first (the plane, or the working window
        around the current object's prompts, is not encoded yet)."""
        key = self.plane_key(axis, index)
        state = self._planes.get(key)
        if state is None or not state.prompts.has_object:
            return False
        previous = state.previous if state.generation == self._generation else None
        return self._strategy.needs_encoding(self.predictor, key, self.normalization, state.prompts, previous)

    def embed(self, axis: int | None, index: int | None) -> None:
        """Encode a plane into the predictor's cache (the slow step; a no-op when cached, or for a tiled raster,
        whose tiles are encoded when prompted)."""
        self._strategy.embed(self.predictor, self.plane_key(axis, index), self.normalization)

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
            start = Plane(*key).take(self.labels) == self.object_id
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
        self._history.push(self._commit_previews())
        return True

    def new_object(self) -> int:
        """Accept what is pending, then make the next free id current (one undo step); returns it."""
        step = self._commit_previews()
        next_id = int(self.labels.max()) + 1
        if next_id > MAX_ID:
            raise PromptError("no free object id left (65535 objects)")
        if step.patches or step.planes or next_id != self.object_id:
            self.object_id = next_id
            self._history.push(step)
        return self.object_id

    def edit_object(self, axis: int | None, index: int | None, object_id: int) -> None:
        """Make the existing object ``object_id`` current and start correcting it on a plane: its mask there becomes
        the plane's preview, and its box and mask the starting point of the next click (:mod:`.proofread`); accept
        replaces its voxels on that plane only. What is pending is accepted first. One undo step.

        Raises:
            PromptError: ``object_id`` has no voxel on that plane; a raster read by windows.
        """
        key = self.plane_key(axis, index)
        plane = self._strategy.plane(self.predictor, key, self.normalization)
        object_mask(self.labels, *key, object_id)
        step = self._commit_previews()
        mask = Plane(*key).take(self.labels) == object_id
        if not mask.any():  # the pending previews were this object's and removed it here
            self._history.push(step)
            raise PromptError(f"object {object_id} was just removed from this plane by its accepted prompts")
        prompts, start = start_prediction(plane, mask)
        self.object_id = object_id
        self._planes[key] = PlaneState(prompts, start, None, self._generation, start.mask)
        self._history.push(replace(step, planes={key: None, **step.planes}))

    def clear_object(self) -> None:
        """Remove the current object: its prompts, previews and accepted voxels (one undo step)."""
        step = self._before(self._planes)
        patch = self._write(removed(self.labels, self.object_id))
        if patch is None and not step.planes:
            return
        self._planes.clear()
        self._history.push(replace(step, patches=(patch,) if patch else ()))

    def apply_propagation(self, axis: int, index: int, volume: np.ndarray) -> None:
        """Write a :meth:`propagate_job` result: on every slice it reached, the current object's voxels are replaced
        by it (other objects kept); those slices' prompts are consumed. One undo step."""
        key = self.plane_key(axis, index)
        if volume.shape != self.labels.shape:
            raise PromptError(f"propagated mask {volume.shape} does not match the labels {self.labels.shape}")
        reached = slices_reached(volume, axis)
        reached_set = set(reached.tolist())
        consumed = [k for k in self._planes if k[0] == key[0] and k[1] in reached_set]
        step = self._before(consumed)
        patch = self._write(propagated(self.labels, axis, volume, reached, self.object_id))
        patches = (patch,) if patch else ()
        for k in consumed:
            del self._planes[k]
        if patches or consumed:
            self._history.push(replace(step, patches=patches))

    def auto_job(self, axis: int | None, index: int | None, settings: AutoSettings | None = None) -> Job[AutoResult]:
        """Job segmenting everything on a plane (:mod:`~gfm_napari.engine.auto`), in the box drawn there if any;
        returns the result for :meth:`apply_auto`. Closing the job early changes nothing."""
        key = self.plane_key(axis, index)
        box = self._prompts_at(key).box
        region = None if box is None else prompt_extent(Prompts(box=box))
        self._strategy.check_auto_region(region)
        return (yield from segment_everything(self.predictor, self.image, *key, normalization=self.normalization,
                                              settings=settings, region=region))

    def apply_auto(self, axis: int | None, index: int | None, found: np.ndarray) -> int:
        """Add the objects of an automatic pass (``found``: ids on the plane, 0 = nothing) as new objects, numbered
        after the largest id in use, on the pixels no object holds yet (one with no such pixel is left out); the
        plane's prompts are consumed. One undo step; returns how many objects were added."""
        key = self.plane_key(axis, index)
        edit, count = added(self.labels, Plane(*key), found)
        step = self._before([key])
        patch = self._write(edit)
        self._planes.pop(key, None)
        self.object_id = int(self.labels.max()) + 1
        self._history.push(replace(step, patches=(patch,) if patch else ()))
        return count

    def replace_labels(self, labels: np.ndarray) -> None:
        """Replace all labels (e.g. restored from an autosave) as one undo step; the next free id becomes current."""
        if labels.shape != self.labels.shape:
            raise PromptError(f"labels of shape {labels.shape} do not fit the image {self.labels.shape}")
        step = self._before(self._planes)
        patch = self._write((tuple(slice(0, n) for n in labels.shape), np.asarray(labels, dtype=np.uint16)))
        self._planes.clear()
        self.object_id = int(self.labels.max()) + 1
        self._history.push(replace(step, patches=(patch,) if patch else ()))

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    def undo(self) -> bool:
        """Undo the last step (prompt, accept, new object, clear, propagation, restore); False if there is none."""
        return self._history.undo(self._restore)

    def redo(self) -> bool:
        return self._history.redo(self._restore)

    @property
    def history_nbytes(self) -> int:
        """Memory held by the undo and redo history."""
        return self._history.nbytes

    # ---- internals -----------------------------------------------------------------------------------------------
    def _predict(self, key: PlaneKey, state: PlaneState) -> Prediction:
        if not state.prompts.has_object:  # negative clicks alone say only what the object is not: nothing yet
            nothing = np.zeros(self.plane_shape(*key), bool)
            if state.previous is None:
                return Prediction(nothing, float("nan"), NO_LOGITS)
            return replace(state.previous, mask=nothing, score=float("nan"))
        previous = state.previous if state.generation == self._generation else None
        return self._strategy.predict(self.predictor, key, self.normalization, state.prompts, previous=previous,
                                      start=state.start, feedback=self.feedback_logits)

    def _default_feedback(self, predictor: Predictor) -> bool:
        """Feeding a box-only model's own logits back as mask input makes it worse (measured on the CT: liver 3D
        Dice 0.91 -> 0.47), so logits feedback is off for such models and on for the others; a tiled raster has no
        plane-wide logits to feed back."""
        return self._strategy.feeds_back and not predictor.model.spec.box_only

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
        self._history.push(step)

    def _before(self, keys: Iterable[PlaneKey]) -> Step:
        return Step(self.object_id, {key: self._planes.get(key) for key in keys})

    def _commit_previews(self) -> Step:
        """Paint every plane's preview (computing missing ones), consume the prompts; the step is not pushed."""
        masks = {key: self.preview(*key) for key in list(self._planes)}
        step = self._before(masks)
        self._planes.clear()
        patches = (self._write(painted(self.labels, Plane(*key), mask, self.object_id)) for key, mask in masks.items())
        return replace(step, patches=tuple(p for p in patches if p))

    def _write(self, edit: Edit | None) -> Patch | None:
        """Write a label edit (:mod:`.label_edits`); returns its undo patch (:func:`.history.write`), None when
        nothing changed. A change bumps :attr:`version`."""
        patch = None if edit is None else write(self.labels, *edit)
        if patch is not None:
            self.version += 1
        return patch

    def _restore(self, step: Step) -> Step:
        """Put back what ``step`` holds; returns the step that puts back the present (for the other stack)."""
        inverse_patches = []
        for patch in reversed(step.patches):
            inverse_patches.append(patch.swap(self.labels))
            self.version += 1
        inverse = replace(self._before(step.planes), patches=tuple(inverse_patches))
        self.object_id = step.object_id
        for key, state in step.planes.items():
            if state is None:
                self._planes.pop(key, None)
            else:
                self._planes[key] = state
        return inverse


def _tensor_bytes(tensor: torch.Tensor) -> int:
    return tensor.element_size() * tensor.nelement()
