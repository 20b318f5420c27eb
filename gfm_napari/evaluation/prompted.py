"""Dice of one-shot prompts (box, single click, click + box) against real labels, slice by slice.

For each labelled structure, up to ``max_slices`` cross-sections (spread evenly over the slices where it covers
at least ``min_pixels``) are prompted from the label itself: its tight bounding box, and/or a click — by default its
interior point farthest from the border, or (``first_click="random"``) a point drawn uniformly from its inner half,
seeded per object from ``(seed, label id, position among that label's objects)``; the click and click+box prompts of
an object share that point. Each plane is encoded once and shared by every structure and prompt kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..engine.predictor import Predictor
from ..engine.prompts import CANDIDATES, POSITIVE, Prompts, box_from_mask, interior_point
from ..engine.propagate import dice
from ..engine.zoom import PlaneSegmenter
from ..errors import GfmError
from ..images import Image, Normalization, Plane, fit_normalization
from ..images.plane import planes_holding
from ..images.align import keep_slices, labels_on_grid
from ..images.bands import BandSelection
from ..jobs import Job, Progress, run
from ..models import LoadedModel
from .clicker import check_first_click, object_rng
from .clicker import first_click as pick_first_click

PROMPT_KINDS = ("box", "click", "click+box")
CLICK_CHOICE = "click-choice"
"""A lone click scored by the best of the model's masks for it: what a user who looks at the mask gets by pressing
Next mask (C) at most twice (:meth:`~gfm_napari.engine.session.SegmentationSession.next_mask`); opt-in."""


def prompts_from_mask(mask: np.ndarray, kind: str, click: tuple[int, int] | None = None) -> Prompts:
    """The prompt a careful user would give for ``mask``: its tight box, its most interior point, or both.

    ``click`` ``(x, y)``, when given, replaces the most interior point (e.g. a :func:`~.clicker.first_click`
    drawn from the inner half)."""
    box = box_from_mask(mask) if kind in ("box", "click+box") else None
    if kind == "box":
        return Prompts(box=box)
    x, y = interior_point(mask) if click is None else (float(click[0]), float(click[1]))
    return Prompts(np.array([[x, y]]), np.array([POSITIVE]), box)


@dataclass(frozen=True)
class Selection:
    """Which labelled objects an evaluation prompts: up to ``max_slices`` planes per structure along ``axis``
    (default: axial) where it covers ≥ ``min_pixels``; with ``instances`` each connected component is one object."""

    label_ids: Sequence[int] | None = None
    axis: int | None = None
    max_slices: int = 8
    min_pixels: int = 50
    instances: bool = False
    window: tuple[float, float] | None = None
    bands: BandSelection | None = None  # rasters with more than 3 bands: the 3 the model sees (default: true colour)
    slices: range | None = None  # volumes: only these slices along ``axis`` (e.g. the part an adapter never saw)


@dataclass(frozen=True, eq=False)
class Setting:
    """Labels on the image grid, their names, the normalisation, predictor and slice axis of one evaluation."""

    labels: np.ndarray
    names: dict[int, str]
    normalization: Normalization
    predictor: Predictor
    axis: int | None

    def plane(self, image: Image, index: int | None) -> PlaneSegmenter:
        """Where the objects on plane ``index`` are prompted (at their working resolution)."""
        return PlaneSegmenter(self.predictor, image, self.axis, index, self.normalization)

    def objects(self, selection: Selection) -> Iterator[tuple[int, list[tuple[int | None, np.ndarray]]]]:
        """(label id, [(plane index, bool truth), ...]) per structure with a large enough cross-section."""
        for label_id, planes in label_planes(
            self.labels, self.axis, selection.label_ids, selection.max_slices, selection.min_pixels
        ):
            yield label_id, list(
                plane_objects(self.labels, label_id, self.axis, planes, selection.min_pixels, selection.instances)
            )

    def work(self, selection: Selection) -> list[tuple[int, list[tuple[int | None, np.ndarray]]]]:
        """:meth:`objects` as a list, without structures that have no object (instances all too small)."""
        return [(label_id, objects) for label_id, objects in self.objects(selection) if objects]


def selected_labels(image: Image, label_image: Image, selection: Selection) -> tuple[np.ndarray, int | None]:
    """(labels on ``image``'s grid, limited to ``selection.slices``; the slice axis) — checked so that an evaluation
    has something to evaluate (cheap: no model involved).

    Raises:
        GfmError: the label map is empty, a requested label id is not in it, no label is left on the chosen slices,
            or no structure covers ``selection.min_pixels`` on a plane (with ``instances``: no component does).
        GeometryError: the label map is not on the image's grid.
    """
    axis = Plane.of(image, selection.axis).axis
    labels = labels_on_grid(image, label_image)
    present = [int(i) for i in np.unique(labels) if i != 0]
    if not present:
        raise GfmError("the label map is empty (every pixel is 0): nothing to evaluate")
    missing = [i for i in selection.label_ids or () if i not in present]
    if missing:
        shown = ", ".join(map(str, present[:20])) + (", ..." if len(present) > 20 else "")
        which = f"label {missing[0]} is" if len(missing) == 1 else f"labels {', '.join(map(str, missing))} are"
        raise GfmError(f"{which} not in the label map (present: {shown})")
    if selection.slices is not None:
        if axis is None:
            raise GfmError("slices apply to volumes")
        labels = keep_slices(labels, axis, selection.slices)
        chosen = labels if selection.label_ids is None else np.isin(labels, selection.label_ids)
        if not chosen.any():
            first, last = selection.slices.start, selection.slices.stop - 1
            raise GfmError(f"no label to evaluate on slices {first}..{last} along axis {axis}")
    planes = label_planes(labels, axis, selection.label_ids, selection.max_slices, selection.min_pixels)
    if not any(True for label_id, indices in planes
               for _ in plane_objects(labels, label_id, axis, indices, selection.min_pixels, selection.instances)):
        raise GfmError(f"no labelled {'object' if selection.instances else 'structure'} covers {selection.min_pixels} "
                       "pixels on a plane (the smallest cross-section evaluated): nothing to evaluate")
    return labels, axis


def prepare(
    image: Image, label_image: Image, model: LoadedModel, selection: Selection, predictor: Predictor | None = None
) -> Setting:
    labels, axis = selected_labels(image, label_image, selection)
    return Setting(
        labels,
        label_names(label_image.source),
        fit_normalization(image, ct_window=selection.window, bands=selection.bands),
        predictor or Predictor(model),
        axis,
    )


def evaluate_prompts(
    image: Image, label_image: Image, model: LoadedModel, selection: Selection = Selection(), **options
) -> dict:
    """Per-structure mean Dice for each prompt kind, as a JSON-serialisable report; ``options``: as for
    :func:`evaluate_prompts_job`."""
    return run(evaluate_prompts_job(image, label_image, model, selection, **options))


def evaluate_prompts_job(
    image: Image,
    label_image: Image,
    model: LoadedModel,
    selection: Selection = Selection(),
    *,
    prompt_kinds: Sequence[str] = PROMPT_KINDS,
    predictor: Predictor | None = None,
    first_click: str = "center",
    seed: int = 0,
) -> Job[dict]:
    """Job of :func:`evaluate_prompts`: yields Progress per object (plane of a structure) evaluated.

    ``first_click`` ("center" or "random") and ``seed`` choose the click of the click and click+box prompts (see
    :func:`~.clicker.first_click`); the report records both."""
    check_first_click(first_click, seed)
    setting = prepare(image, label_image, model, selection, predictor)
    work = setting.work(selection)
    total, done = sum(len(objects) for _, objects in work), 0
    structures = {}
    for label_id, objects in work:
        name = setting.names.get(label_id, str(label_id))
        scores: dict[str, list[float]] = {kind: [] for kind in prompt_kinds}
        for position, (index, truth) in enumerate(objects):
            yield Progress(done, total, name if index is None else f"{name}, slice {index}")
            plane = setting.plane(image, index)
            click = None
            if first_click == "random" and any(kind != "box" for kind in prompt_kinds):
                click = pick_first_click(truth, first_click, object_rng(seed, label_id, position))[:2]
            for kind in prompt_kinds:
                prompts = prompts_from_mask(truth, kind, click)
                ranks = range(CANDIDATES) if kind == CLICK_CHOICE else (0,)
                scores[kind].append(max(dice(plane.predict(prompts.with_candidate(r)).mask, truth) for r in ranks))
            done += 1
        structures[name] = {
            "label": label_id,
            "slices": len({index for index, _ in objects}),
            "objects": len(objects),
            "dice": {kind: round(float(np.mean(v)), 4) for kind, v in scores.items()},
        }
    yield Progress(done, total, "done")
    overall = {
        kind: round(float(np.mean([s["dice"][kind] for s in structures.values()])), 4) if structures else None
        for kind in prompt_kinds
    }
    return {
        "image": image.source.name,
        "model": model.cache_id,
        "axis": setting.axis,
        "normalization": setting.normalization.describe(),
        "first_click": first_click,
        "seed": seed if first_click == "random" else None,
        "zoom": setting.predictor.zoom,
        "structures": structures,
        "mean_dice": overall,
    }


def label_planes(
    labels: np.ndarray, axis: int | None, label_ids: Sequence[int] | None, max_slices: int, min_pixels: int
) -> list[tuple[int, list[int | None]]]:
    """(label id, planes to evaluate it on) for each requested label that has a large enough cross-section."""
    ids = [int(i) for i in np.unique(labels) if i != 0] if label_ids is None else list(label_ids)
    pairs = [(label_id, _planes_with(labels == label_id, axis, max_slices, min_pixels)) for label_id in ids]
    return [(label_id, planes) for label_id, planes in pairs if planes]


def plane_objects(
    labels: np.ndarray, label_id: int, axis: int | None, planes: Sequence[int | None], min_pixels: int,
    instances: bool,
):
    """(plane index, bool truth mask) for each object of ``label_id``: the whole cross-section, or each
    connected component with ``instances``."""
    for index in planes:
        plane = Plane(axis, index).take(labels) == label_id
        for truth in _instances(plane, min_pixels) if instances else [plane]:
            yield index, truth


def _planes_with(mask: np.ndarray, axis: int | None, count: int, min_pixels: int) -> list[int | None]:
    if axis is None:
        return [None] if mask.sum() >= min_pixels else []
    return planes_holding(mask, axis, count, min_pixels=min_pixels)


def _instances(mask: np.ndarray, min_pixels: int) -> list[np.ndarray]:
    components, count = ndimage.label(mask)
    return [components == i for i in range(1, count + 1) if (components == i).sum() >= min_pixels]


def label_names(label_path: Path) -> dict[int, str]:
    """Names from a ``labels.json`` beside the label file ({"id": "name"}, or under "labels_present")."""
    path = Path(label_path).parent / "labels.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {int(k): str(v) for k, v in data.get("labels_present", data).items()}
    except (ValueError, AttributeError):
        return {}
