"""Reading weight files safely and loading them strictly.

- ``.safetensors`` files are read with safetensors; anything else with ``torch.load(weights_only=True)``, so a
  checkpoint can hold tensors and plain containers but never run code.
- ``{"model": sd}``, ``{"state_dict": sd}`` and a ``module.`` prefix on every key (DistributedDataParallel) are
  unwrapped.
- Loading is strict: every key and shape must match. Failures raise :class:`~gfm_napari.errors.ModelError` with
  a one-line message; nothing from the file except key names and shapes ever reaches a message.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from gfm_napari.errors import ModelError

__all__ = ["check_state_dict", "file_sha256", "load_weights", "read_state_dict"]

_WRAPPER_KEYS = ("model", "state_dict")


def _existing_file(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"checkpoint file not found: {p}")
    if not p.is_file():
        raise ModelError(f"checkpoint is not a file: {p}")
    return p


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a checkpoint file, unwrapped to a flat ``{key: tensor}`` state dict (on the CPU)."""
    p = _existing_file(path)
    try:
        if p.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            obj: object = load_file(str(p), device="cpu")
        else:
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "unsupported global" in str(e).lower():  # a real pickle that would build Python objects (run code)
            raise ModelError(
                f"{p.name} holds Python objects besides tensors; refusing to load it (only weights are accepted)"
            ) from None
        raise ModelError(
            f"{p.name} is not a weights file gfm-napari can load safely (neither a PyTorch checkpoint of tensors nor "
            "safetensors; truncated or corrupt?)"
        ) from None
    except MemoryError:
        raise ModelError(f"not enough memory to read {p.name}") from None
    except Exception:  # torch and safetensors raise RuntimeError, KeyError, EOFError, SafetensorError, ...
        raise ModelError(f"{p.name} is not a readable checkpoint (truncated or corrupt?)") from None
    return _unwrap(obj, p.name)


def _unwrap(obj: object, name: str) -> dict[str, Tensor]:
    if isinstance(obj, Mapping):
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise ModelError(f"{name} does not contain a state dict of tensors")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise ModelError(f"{name} does not contain a state dict of tensors: {len(bad)} entries are not tensors")
    sd = dict(obj)
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def load_weights(model: nn.Module, path: str | Path, *, model_name: str) -> None:
    """Load the file at ``path`` into ``model`` strictly (all keys, all shapes), in place."""
    p = Path(path).expanduser()
    state = read_state_dict(p)
    check_state_dict(model, state, source=p.name, model_name=model_name)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        raise ModelError(f"{p.name} does not match model {model_name}") from None


def load_overlay(model: nn.Module, state: Mapping[str, Tensor], *, source: str, model_name: str) -> None:
    """Load a partial state dict (e.g. a trained prompt encoder + mask decoder, read from the file ``source``)
    over already-loaded weights.

    Every key in ``state`` must exist in ``model`` with the same shape; keys it lacks keep their values.
    Tensors are cast to the model's dtypes (overlays ship as float16 or as 8-bit differences).
    """
    check_state_dict(model, state, source=source, model_name=model_name, partial=True)
    current = model.state_dict()
    model.load_state_dict({k: v.to(current[k].dtype) for k, v in state.items()}, strict=False)


def check_state_dict(
    model: nn.Module | Mapping[str, Tensor], state: Mapping[str, Tensor], *, source: str, model_name: str,
    partial: bool = False,
) -> None:
    """Raise ModelError unless ``state`` has exactly the model's keys with the same shapes (with ``partial``: a
    non-empty subset of them). ``model`` may also be the expected state dict itself (e.g. a part of a model)."""
    reference = model if isinstance(model, Mapping) else model.state_dict()
    expected = {k: tuple(v.shape) for k, v in reference.items()}
    missing = [] if partial and state else [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if not (missing or unexpected or shapes):
        return
    examples = []
    if missing:
        examples.append(f"missing {missing[0]!r}")
    if unexpected:
        examples.append(f"unexpected {unexpected[0]!r}")
    if shapes:
        k = shapes[0]
        examples.append(f"{k!r} has shape {list(state[k].shape)}, model expects {list(expected[k])}")
    raise ModelError(
        f"{source} does not match model {model_name}: {len(missing)} missing keys, {len(unexpected)} unexpected, "
        f"{len(shapes)} with another shape, e.g. " + "; ".join(examples)
    )


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file; computed once per (path, size, modification time)."""
    p = _existing_file(path).resolve()
    st = p.stat()
    return _sha256(str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
