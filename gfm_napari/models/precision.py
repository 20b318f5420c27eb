"""Which arithmetic a model's image encoder runs in: float, or 8 bits on the CPU (:mod:`.openvino_encoder`).

``"auto"`` (the CLI's and the dock's default) picks 8 bits where it pays and holds the masks: the CPU fast path of
a LiteMedSAM model on a processor with 8-bit dot-product instructions (x86 VNNI, Arm dot product). Elsewhere it
is float: on a GPU, for SAM checkpoints, for training (the plain path), and on CPUs without those instructions,
where 8-bit products without dot-product instructions gain little and can saturate. ``GFM_NAPARI_PRECISION=float`` (or
``int8``) replaces the automatic choice everywhere.

The precision is part of the embedding cache's key (``LoadedModel.cache_id``), never of the weights' identity
(``model_id``): an adapter or pretrained encoder made over a model loads onto it in either precision.
"""

from __future__ import annotations

import os
import platform
from functools import cache

import torch

from gfm_napari.errors import ModelError

PRECISIONS = ("float", "int8")
CHOICES = ("auto", *PRECISIONS)
ENVIRONMENT = "GFM_NAPARI_PRECISION"
INT8_FLAGS = ("avx512_vnni", "avx_vnni", "asimddp")  # /proc/cpuinfo names of 8-bit dot-product instructions


def resolve_precision(precision: str, *, device: torch.device, fast: bool, preprocessing: str) -> str:
    """``precision`` itself (checked), or for ``"auto"`` the one this model and machine should run."""
    if precision not in CHOICES:
        raise ModelError(f"precision must be one of {', '.join(CHOICES)}, not {precision!r}")
    if precision == "auto":
        wanted = os.environ.get(ENVIRONMENT, "auto")
        runs = can_run_int8(device=device, fast=fast, preprocessing=preprocessing)
        return "int8" if runs and (wanted == "int8" or (wanted != "float" and cpu_has_int8_dot())) else "float"
    if precision == "int8" and not can_run_int8(device=device, fast=fast, preprocessing=preprocessing):
        raise ModelError("8-bit inference runs on the CPU with LiteMedSAM models only; use --precision float")
    return precision


def can_run_int8(*, device: torch.device, fast: bool, preprocessing: str) -> bool:
    """8 bits run on the CPU fast path (OpenVINO) of LiteMedSAM's TinyViT encoder only."""
    return device.type == "cpu" and fast and preprocessing == "minmax"


@cache
def cpu_has_int8_dot() -> bool:
    """True when this CPU has 8-bit dot-product instructions (read from /proc/cpuinfo; False where there is none)."""
    if platform.system() != "Linux":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            words = set(info.read().split())
    except OSError:
        return False
    return any(flag in words for flag in INT8_FLAGS)


def cache_suffix(precision: str) -> str:
    """What a precision adds to a model's id in cache keys and export names: nothing for float."""
    return "" if precision == "float" else f"+{precision}"
