"""Weight files stored as an 8-bit difference from other weights: a fine-tune of a fine-tune in half the bytes.

A second prompt path (e.g. the raster one, trained 1,000 steps on from the shipped click path) differs from its
base by about 3 % of each weight. Stored as that difference in signed 8 bits, one scale per output row, it takes
half the bytes of float16 values (the repository keeps each resource file under 5 MB), and the rounding error is
about a hundredth of the difference itself: far below what float16 storage of the weights already rounds.

File layout (safetensors): ``<key>.delta`` int8 [rows, n] and ``<key>.scale`` float32 [rows, 1] per tensor, where
rows = the tensor's first dimension (1 for a scalar); metadata ``base_sha256`` = SHA-256 of the base file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from gfm_napari.errors import ModelError
from gfm_napari.models.weights import file_sha256, read_state_dict

__all__ = ["apply_delta", "encode_delta", "read_delta_file", "write_delta_file"]

_DELTA, _SCALE = ".delta", ".scale"


def encode_delta(target: Mapping[str, Tensor], base: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``target - base`` per tensor as int8 rows with a float32 scale each (symmetric, max-abs per row)."""
    if set(target) != set(base):
        raise ValueError("target and base must have the same keys")
    out: dict[str, Tensor] = {}
    for key, value in target.items():
        difference = (value.float() - base[key].float()).reshape(value.shape[0] if value.ndim else 1, -1)
        scale = difference.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
        out[key + _DELTA] = torch.round(difference / scale).clamp(-127, 127).to(torch.int8)
        out[key + _SCALE] = scale
    return out


def apply_delta(base: Mapping[str, Tensor], delta: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The weights ``base + delta`` (float32), for every key the delta holds; ValueError if it does not fit."""
    keys = [k[: -len(_DELTA)] for k in delta if k.endswith(_DELTA)]
    if not keys or len(delta) != 2 * len(keys) or any(k + _SCALE not in delta for k in keys):
        raise ValueError("not an 8-bit weight difference (every tensor needs a .delta and a .scale)")
    out = {}
    for key in keys:
        if key not in base:
            raise ValueError(f"the base has no tensor {key!r}")
        reference = base[key].float()
        step = delta[key + _DELTA].float() * delta[key + _SCALE].float()
        if step.numel() != reference.numel():
            raise ValueError(f"{key!r} has {step.numel()} values, the base {reference.numel()}")
        out[key] = reference + step.reshape(reference.shape)
    return out


def write_delta_file(path: str | Path, target: Mapping[str, Tensor], base_file: str | Path) -> Path:
    """Write ``target`` as its difference from the weights in ``base_file`` (recorded by SHA-256)."""
    from safetensors.torch import save_file

    path = Path(path)
    save_file(encode_delta(target, read_state_dict(base_file)), str(path),
              metadata={"base_sha256": file_sha256(base_file)})
    return path


def read_delta_file(path: str | Path, base_file: str | Path) -> dict[str, Tensor]:
    """The weights a delta file encodes over ``base_file``; ModelError (one line) if it was made over another
    file or is not a delta file."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            recorded = (handle.metadata() or {}).get("base_sha256")
    except Exception:  # noqa: BLE001 (safetensors raises its own error types for truncated or foreign files)
        raise ModelError(f"{path.name} is not a readable weight file (truncated or corrupt?)") from None
    if recorded != file_sha256(base_file):
        raise ModelError(f"{path.name} was made over other weights than {Path(base_file).name}")
    try:
        return apply_delta(read_state_dict(base_file), read_state_dict(path))
    except ValueError as error:
        raise ModelError(f"{path.name}: {error}") from None
