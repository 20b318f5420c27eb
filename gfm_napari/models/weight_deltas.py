"""Weight files stored as an 8-bit difference from other weights: a fine-tune in half the bytes of float16.

The shipped prompt paths are fine-tunes: the medical click path of LiteMedSAM's prompt encoder and mask decoder,
the raster one of the medical path (1,000 steps on; it differs by about 3 % of each weight). Stored as that
difference in signed 8 bits, one scale per output row, a path takes half the bytes of float16 values (the
repository keeps each resource file under 5 MB), and the rounding error is a small part of the difference itself.
A delta file may be the base of another (the raster path's base is the medical path's file): its weights are then
passed as ``base_state``.

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

__all__ = ["apply_delta", "encode_delta", "is_delta_file", "read_delta_file", "read_weights", "write_delta_file"]

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


def write_delta_file(
    path: str | Path, target: Mapping[str, Tensor], base_file: str | Path,
    base_state: Mapping[str, Tensor] | None = None,
) -> Path:
    """Write ``target`` as its difference from the weights in ``base_file`` (recorded by SHA-256), or from
    ``base_state`` when given (the weights ``base_file`` stands for, e.g. when it is a delta file itself)."""
    from safetensors.torch import save_file

    path = Path(path)
    base = read_state_dict(base_file) if base_state is None else base_state
    save_file(encode_delta(target, {k: base[k] for k in target}), str(path),
              metadata={"base_sha256": file_sha256(base_file)})
    return path


def _recorded_base(path: Path) -> str | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get("base_sha256")
    except Exception:  # noqa: BLE001 (safetensors raises its own error types for truncated or foreign files)
        raise ModelError(f"{path.name} is not a readable weight file (truncated or corrupt?)") from None


def is_delta_file(path: str | Path) -> bool:
    """Whether ``path`` is a safetensors file that records the base it is a difference from."""
    path = Path(path)
    return path.suffix.lower() == ".safetensors" and _recorded_base(path) is not None


def read_delta_file(
    path: str | Path, base_file: str | Path, base_state: Mapping[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """The weights a delta file encodes over ``base_file`` (over ``base_state``, the weights that file stands
    for, when given); ModelError (one line) if it was made over another file or is not a delta file."""
    path = Path(path)
    if _recorded_base(path) != file_sha256(base_file):
        raise ModelError(f"{path.name} was made over other weights than {Path(base_file).name}")
    try:
        return apply_delta(read_state_dict(base_file) if base_state is None else base_state, read_state_dict(path))
    except ValueError as error:
        raise ModelError(f"{path.name}: {error}") from None


def read_weights(
    path: str | Path, base_file: str | Path, base_state: Mapping[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """The tensors of ``path``; for a delta file, the weights it encodes over ``base_file`` (``base_state``: the
    weights that file holds, when the caller has them already)."""
    return read_delta_file(path, base_file, base_state) if is_delta_file(path) else read_state_dict(path)
