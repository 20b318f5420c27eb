"""How well the automatic first pass finds the objects of a label map: object recall and precision at IoU ≥ 0.5,
mean IoU of the matched objects, seconds per plane and per window — ours, and (``peer=True``) segment-anything's
``SamAutomaticMaskGenerator`` driving the same weights on the whole plane, in the same run.

Truth objects per evaluated plane: each label id's cross-section, or with ``instances`` each connected component of
it, of at least ``min_pixels`` pixels. A found object matches a truth object when their IoU is at least 0.5 (so a
match is one-to-one). Volumes are evaluated on up to ``max_slices`` slices spread over those with labels.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from scipy import ndimage

from ..engine.auto import PlaneObject, paint_objects, segment_everything
from ..engine.auto_window import AutoSettings
from ..images import Image, Plane
from ..images.plane import planes_holding
from ..images.windowed import Window
from ..jobs import Job, Progress, relay
from ..models import LoadedModel
from .prompted import Selection, prepare

MATCH_IOU = 0.5


def truth_objects(labels: np.ndarray, min_pixels: int, instances: bool) -> np.ndarray:
    """int32 object ids on a plane: each label (or each connected component of it with ``instances``) of at least
    ``min_pixels`` pixels, in turn; 0 elsewhere."""
    objects = np.zeros(labels.shape, np.int32)
    count = 0
    for label_id in (int(i) for i in np.unique(labels) if i != 0):
        parts, n = ndimage.label(labels == label_id) if instances else ((labels == label_id).astype(int), 1)
        for part in range(1, n + 1):
            where = parts == part
            if where.sum() >= min_pixels:
                count += 1
                objects[where] = count
    return objects


def match_objects(truth: np.ndarray, found: np.ndarray) -> dict:
    """Counts and matched IoUs of two object-id maps of one plane (0 = background)."""
    truth_ids, found_ids = np.unique(truth[truth > 0]), np.unique(found[found > 0])
    ious = []
    if truth_ids.size and found_ids.size:
        t = np.searchsorted(truth_ids, truth)
        f = np.searchsorted(found_ids, found)
        both = (truth > 0) & (found > 0)
        shared = np.zeros((truth_ids.size, found_ids.size))
        np.add.at(shared, (t[both], f[both]), 1)
        area_t = np.bincount(t[truth > 0], minlength=truth_ids.size)
        area_f = np.bincount(f[found > 0], minlength=found_ids.size)
        iou = shared / (area_t[:, None] + area_f[None, :] - shared)
        ious = [float(v) for v in iou.max(axis=1) if v >= MATCH_IOU]
    return {"truth": int(truth_ids.size), "found": int(found_ids.size), "matched": len(ious), "ious": ious}


def summary(counts: list[dict], seconds: float, windows: int) -> dict:
    """Recall, precision and mean matched IoU over planes, with the time taken."""
    truth = sum(c["truth"] for c in counts)
    found = sum(c["found"] for c in counts)
    ious = [v for c in counts for v in c["ious"]]
    return {
        "truth_objects": truth,
        "found_objects": found,
        "matched": len(ious),
        "recall": round(len(ious) / truth, 4) if truth else None,
        "precision": round(len(ious) / found, 4) if found else None,
        "mean_matched_iou": round(float(np.mean(ious)), 4) if ious else None,
        "seconds_per_plane": round(seconds / max(len(counts), 1), 2),
        "seconds_per_window": round(seconds / max(windows, 1), 2),
    }


def evaluate_auto_job(
    image: Image, label_image: Image, model: LoadedModel, selection: Selection = Selection(), *,
    settings: AutoSettings | None = None, peer: bool = False,
) -> Job[dict]:
    """Job: the automatic pass (and the peer) on each evaluated plane; yields Progress per plane and window."""
    settings = settings or AutoSettings()
    setting = prepare(image, label_image, model, selection)
    chosen = setting.labels > 0 if selection.label_ids is None else np.isin(setting.labels, selection.label_ids)
    planes = _evaluated_planes(chosen, setting.axis, selection.max_slices, selection.min_pixels)
    chosen_labels = np.where(chosen, setting.labels, 0)
    ours, theirs, seconds, peer_seconds, windows, clicks = [], [], 0.0, 0.0, 0, []
    for done, index in enumerate(planes):
        where = "" if index is None else f"slice {index}: "
        plane_labels = chosen_labels if setting.axis is None else Plane(setting.axis, index).take(chosen_labels)
        truth = truth_objects(plane_labels, selection.min_pixels, selection.instances)
        start = time.perf_counter()
        result = yield from relay(
            segment_everything(setting.predictor, image, setting.axis, index, normalization=setting.normalization,
                               settings=settings),
            lambda p, d=done, w=where: Progress(d, len(planes), f"{w}{p.message}"),
        )
        seconds += time.perf_counter() - start
        windows += result.windows
        clicks.append(result.clicks)
        ours.append(match_objects(truth, result.labels))
        if peer:
            yield Progress(done, len(planes), f"{where}SamAutomaticMaskGenerator")
            plane = setting.normalization.apply(Plane.at(image, setting.axis, index).take(image.array))
            start = time.perf_counter()
            found = sam_automatic_labels(model, plane, settings, image.modality)
            peer_seconds += time.perf_counter() - start
            theirs.append(match_objects(truth, found))
    yield Progress(len(planes), len(planes), "done")
    report = {
        "image": image.source.name,
        "model": model.cache_id,
        "axis": setting.axis,
        "planes": planes,
        "normalization": setting.normalization.describe(),
        "settings": settings.__dict__,  # points_per_side None: the grid follows each window's size
        "clicks_per_plane": clicks,
        "gfm_napari": summary(ours, seconds, windows),
    }
    if peer:
        report["sam_automatic_mask_generator"] = summary(theirs, peer_seconds, len(planes))
    return report


def _evaluated_planes(chosen: np.ndarray, axis: int | None, count: int, min_pixels: int) -> list[int | None]:
    """Up to ``count`` planes where the labels cover ``min_pixels``, at the centres of ``count`` equal parts of that
    range (one plane: the middle one)."""
    if axis is None:
        return [None]
    return planes_holding(chosen, axis, count, min_pixels=min_pixels, centres=True)


def sam_automatic_labels(
    model: LoadedModel, plane: np.ndarray, settings: AutoSettings, modality: str | None = None
) -> np.ndarray:
    """segment-anything's ``SamAutomaticMaskGenerator`` on a normalised plane (values in [0, 1]) with the weights of
    ``model`` (the prompt path of ``modality``, as ours) and the same filters as ``settings`` and grid density (its
    grid covers the whole plane: :meth:`AutoSettings.grid_side` of the plane), its masks painted into a label map as
    ours are."""
    from segment_anything import SamAutomaticMaskGenerator

    generator = SamAutomaticMaskGenerator(
        _as_sam(model, modality), points_per_side=settings.grid_side(*plane.shape[:2]), points_per_batch=settings.points_per_batch,
        pred_iou_thresh=settings.min_predicted_iou, stability_score_thresh=settings.min_stability,
        stability_score_offset=settings.stability_offset,
    )
    rgb = np.clip(plane, 0, 1) * 255
    rgb = np.repeat(rgb[..., None], 3, axis=2) if rgb.ndim == 2 else rgb[..., :3]
    with torch.inference_mode():
        masks = generator.generate(rgb.round().astype(np.uint8))
    whole = plane.shape[:2]
    objects = [PlaneObject(Window(0, 0, *whole), m["segmentation"], float(m["predicted_iou"])) for m in masks
               if m["area"] <= settings.max_share * whole[0] * whole[1]]
    return paint_objects(objects, whole, settings.min_area)[0]


def _as_sam(model: LoadedModel, modality: str | None = None):
    """A ``segment_anything`` ``Sam`` around ``model``'s own modules (no copy of the weights), with the prompt path
    of ``modality``; one view of each plane (SAM's own decoding knows of no others)."""
    from segment_anything.modeling import Sam

    from ..models.views import plain_segmenter

    segmenter, spec = plain_segmenter(model.segmenter), model.spec
    decoder = model.decoder_for(modality)

    class Encoder(torch.nn.Module):
        img_size = spec.input_size

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return segmenter.encode(images)

    if spec.preprocessing == "imagenet":
        mean, std = list(spec.pixel_mean), list(spec.pixel_std)
    else:  # min-max inputs in [0, 1]: 0-255 RGB divided by 255
        mean, std = [0.0, 0.0, 0.0], [255.0, 255.0, 255.0]
    sam = Sam(Encoder(), decoder.prompt_encoder, decoder.mask_decoder, mean, std)
    return sam.to(model.device).eval()
