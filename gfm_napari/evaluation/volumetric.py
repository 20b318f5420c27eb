"""3D Dice per structure: prompt each labelled structure on its largest cross-section, propagate through the
volume as the dock does, and compare the whole propagated mask with the label volume."""

from __future__ import annotations

import numpy as np

from ..engine.predictor import Predictor
from ..engine.propagate import dice, propagate
from ..images import Image, Plane
from ..jobs import Job, Progress, relay, run
from ..models import LoadedModel
from .prompted import Selection, label_planes, prepare, prompts_from_mask


def evaluate_propagation(
    image: Image, label_image: Image, model: LoadedModel, selection: Selection = Selection(), **options
) -> dict:
    """Per structure: the start slice, slices reached vs labelled, and 3D Dice of the propagated mask;
    ``options``: as for :func:`evaluate_propagation_job`."""
    return run(evaluate_propagation_job(image, label_image, model, selection, **options))


def evaluate_propagation_job(
    image: Image,
    label_image: Image,
    model: LoadedModel,
    selection: Selection = Selection(),
    *,
    start: str = "box",
    predictor: Predictor | None = None,
) -> Job[dict]:
    """Job of :func:`evaluate_propagation`: yields Progress per structure, with the propagation's own messages."""
    if image.spatial_ndim != 3:
        raise ValueError("3D evaluation needs a volume")
    setting = prepare(image, label_image, model, selection, predictor)
    axis = setting.axis
    other = Plane(axis).in_plane_axes
    structures = {}
    todo = label_planes(setting.labels, axis, selection.label_ids, 1, selection.min_pixels)
    for done, (label_id, _) in enumerate(todo):
        name = setting.names.get(label_id, str(label_id))
        truth = setting.labels == label_id
        areas = truth.sum(axis=other)
        index = int(np.argmax(areas))
        yield Progress(done, len(todo), f"{name}: encoding slice {index}")
        embedding = setting.predictor.embed(image, axis, index, normalization=setting.normalization)
        first = setting.predictor.predict_prompts(embedding, prompts_from_mask(Plane(axis, index).take(truth), start))
        job = propagate(setting.predictor, image, axis, index, first.mask, normalization=setting.normalization,
                        start_logits=first.low_res_logits)
        volume = yield from relay(job, lambda p, i=done, name=name: Progress(i, len(todo), f"{name}: {p.message}"))
        structures[name] = {
            "label": label_id,
            "start_slice": index,
            "slices_labelled": int((areas > 0).sum()),
            "slices_reached": int(volume.any(axis=other).sum()),
            "dice_3d": round(dice(volume, truth), 4),
        }
    yield Progress(len(todo), len(todo), "done")
    scores = [s["dice_3d"] for s in structures.values()]
    return {
        "image": image.source.name,
        "model": model.cache_id,
        "start": start,
        "axis": axis,
        "structures": structures,
        "mean_dice_3d": round(float(np.mean(scores)), 4) if scores else None,
    }
