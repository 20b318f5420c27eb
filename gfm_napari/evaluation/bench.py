"""First benchmark: encoder time per slice, prompt→mask latency on a cached slice, peak memory (JSON)."""

from __future__ import annotations

import os
import platform
import resource
import time

import numpy as np
import torch

from ..engine.cache import EmbeddingCache
from ..engine.predictor import Predictor
from ..engine.prompts import Prompts
from ..engine.segment_file import DEFAULT_CT_WINDOW, resolve_plane
from ..images import Image, fit_normalization
from ..models import LoadedModel


def run_bench(
    image: Image,
    model: LoadedModel,
    *,
    slices: int = 5,
    clicks: int = 50,
    window: tuple[float, float] | None = None,
    seed: int = 0,
) -> dict:
    """Time ``slices`` encoder passes and ``clicks`` decoder answers on ``image``; return a JSON-ready report."""
    normalization = fit_normalization(image, ct_window=window or DEFAULT_CT_WINDOW)
    predictor = Predictor(model, EmbeddingCache())
    axis, middle = resolve_plane(image, None, None)
    if axis is None:
        indices: list[int | None] = [None] * slices
    else:
        depth = image.spatial_shape[axis]
        indices = [int(i) % depth for i in range(middle - slices // 2, middle - slices // 2 + slices)]
    predictor.embed(image, axis, indices[0], normalization=normalization)  # warm-up (allocations, kernels)
    encode_ms = []
    for index in indices:
        predictor.cache.clear()
        start = time.perf_counter()
        embedding = predictor.embed(image, axis, index, normalization=normalization)
        encode_ms.append(1000 * (time.perf_counter() - start))
    rows, cols = embedding.plane_shape
    rng = np.random.default_rng(seed)
    click_ms = []
    for _ in range(clicks):
        x0, x1 = sorted(rng.uniform(0, cols - 1, 2))
        y0, y1 = sorted(rng.uniform(0, rows - 1, 2))
        point = np.array([[rng.uniform(x0, x1), rng.uniform(y0, y1)]])
        prompts = Prompts(point, np.array([1]), (x0, y0, x1 + 1e-3, y1 + 1e-3))
        start = time.perf_counter()
        predictor.predict_prompts(embedding, prompts)
        click_ms.append(1000 * (time.perf_counter() - start))
    return {
        "image": image.source.name,
        "plane_shape": [rows, cols],
        "model": model.model_id,
        "device": str(model.device),
        "encoder_ms_per_slice_median": round(float(np.median(encode_ms)), 1),
        "encoder_ms_per_slice": [round(v, 1) for v in encode_ms],
        "click_to_mask_ms_p50": round(float(np.percentile(click_ms, 50)), 2),
        "click_to_mask_ms_p95": round(float(np.percentile(click_ms, 95)), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
