"""What a user waits for, measured headless through the same session object the dock drives.

- ``first_mask``: from a CT file opened to the first mask on the shown (middle) slice: one encoder pass plus
  the rest (normalisation, plane digest, preprocessing, decoder), against one encoder pass on another slice.
- ``propagation``: carrying the liver through a ~100-slice CT, with every slice already encoded and from cold.
- ``memory``: peak RSS of a child process that loads the model, opens a ~1 GB volume and segments it (a box on
  the middle slice, accepted, then propagated), against the volume's size.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


from ..engine.cache import EmbeddingCache
from ..engine.predictor import Predictor
from ..engine.prompts import box_from_mask
from ..engine.propagate import dice
from ..engine.session import SegmentationSession
from ..images import Plane, axial_axis, read_image
from ..jobs import run
from ..models import LoadedModel, load_model

LIVER = 5


def first_mask(model: LoadedModel, ct_path: Path, labels_path: Path, label: int = LIVER) -> dict:
    """Seconds from ``read_image`` returning to the first mask on the middle axial slice (box of ``label``)."""
    labels = read_image(labels_path).array
    start = time.perf_counter()
    image = read_image(ct_path)
    opened = time.perf_counter()
    session = SegmentationSession(Predictor(model, EmbeddingCache()), image)
    axis = axial_axis(image)
    index = image.spatial_shape[axis] // 2
    session.set_box(axis, index, box_from_mask(Plane(axis, index).take(labels) == label, 0.0))
    mask = session.preview(axis, index)
    done = time.perf_counter()
    encode_start = time.perf_counter()
    session.embed(axis, index + 1)
    encoder_s = time.perf_counter() - encode_start
    first = done - opened
    return {
        "volume": list(image.spatial_shape),
        "open_s": round(opened - start, 3),
        "first_mask_s": round(first, 3),
        "encoder_pass_s": round(encoder_s, 3),
        "overhead_s": round(first - encoder_s, 3),
        "target": "first_mask_s <= encoder_pass_s + 0.3",
        "met": first <= encoder_s + 0.3,
        "mask_pixels": int(mask.sum()),
    }


def propagation(model: LoadedModel, ct_path: Path, labels_path: Path, label: int = LIVER) -> dict:
    """3D propagation of ``label`` from the middle slice, cached (< 10 s per 100 slices) and cold (≤ 1.2 × one
    encoder pass per encoded slice)."""
    image, labels = read_image(ct_path), read_image(labels_path).array
    axis = axial_axis(image)
    index = image.spatial_shape[axis] // 2
    truth = labels == label
    report = {"volume": list(image.spatial_shape), "label": label}
    predictor = Predictor(model, EmbeddingCache(max_mb=8192))
    for name in ("uncached", "cached"):
        if name == "uncached":
            predictor.cache.clear()
        session = SegmentationSession(predictor, image)
        session.set_box(axis, index, box_from_mask(Plane(axis, index).take(truth), 0.0))
        session.preview(axis, index)
        misses_before = len(predictor.cache)
        start = time.perf_counter()
        volume = run(session.propagate_job(axis, index))
        seconds = time.perf_counter() - start
        reached = int(volume.any(axis=Plane(axis).in_plane_axes).sum())
        report[name] = {
            "seconds": round(seconds, 2),
            "slices_reached": reached,
            "slices_encoded": len(predictor.cache) - misses_before,
            "dice_3d": round(dice(volume, truth), 4),
        }
    predictor.cache.clear()
    encode_start = time.perf_counter()
    predictor.embed(image, axis, index, normalization=session.normalization)
    encoder_s = time.perf_counter() - encode_start
    cold = report["uncached"]
    report["encoder_pass_s"] = round(encoder_s, 3)
    report["targets"] = {
        "cached_s_per_100_slices": {
            "value": round(100 * report["cached"]["seconds"] / max(report["cached"]["slices_reached"], 1), 2),
            "target": 10.0,
        },
        "uncached_vs_encoder_passes": {
            "value": round(cold["seconds"] / (max(cold["slices_encoded"], 1) * encoder_s), 3),
            "target": 1.2,
        },
    }
    for check in report["targets"].values():
        check["met"] = check["value"] <= check["target"]
    return report


def memory(model_name: str, volume_path: Path, *, propagate_slices: int = 8, precision: str = "float") -> dict:
    """Peak RSS of a fresh process opening and segmenting ``volume_path`` (see :func:`_memory_child`) with model
    ``model_name`` in ``precision``."""
    command = [sys.executable, "-m", "gfm_napari.evaluation.scenarios", model_name, str(volume_path),
               str(propagate_slices), precision]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory benchmark child failed: {last_line}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    volume_mb = report["volume_mb"]
    bound = 1.3 * volume_mb + report["rss_after_model_mb"]
    report["target"] = {
        "value": report["peak_rss_mb"], "bound_mb": round(bound, 1), "met": report["peak_rss_mb"] <= bound,
        "rule": "peak RSS <= 1.3 x volume + RSS of the loaded model",
    }
    return report


def _memory_child(model_name: str, volume_path: str, propagate_slices: int, precision: str) -> dict:
    from ..engine.propagate import PropagationSettings

    model = load_model(model_name, precision=precision)
    after_model = peak_rss_mb()
    image = read_image(volume_path)
    session = SegmentationSession(Predictor(model), image)
    axis = axial_axis(image)
    index = image.spatial_shape[axis] // 2
    plane = Plane(axis, index).take(image.array)
    rows, cols = plane.shape
    session.set_box(axis, index, (cols * 0.3, rows * 0.3, cols * 0.6, rows * 0.6))
    session.accept()
    predictor = session.predictor
    job = session.propagate_job(axis, index, PropagationSettings(min_overlap=0.0, min_score_ratio=0.0))
    for _ in job:  # one progress step per slice reached or encoded
        if len(predictor.cache) >= propagate_slices:
            break
    job.close()
    return {
        "volume": list(image.spatial_shape),
        "volume_mb": round(image.array.nbytes / 2**20, 1),
        "rss_after_model_mb": round(after_model, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "slices_encoded": len(predictor.cache),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM, because ``ru_maxrss`` survives ``exec`` and would
    report the parent's peak in a child started with ``subprocess``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    print(json.dumps(_memory_child(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])))
