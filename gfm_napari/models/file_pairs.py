"""Weight files that extend a base model: ``<name>.safetensors`` (tensors) + ``<name>.json`` (a sidecar naming the
format, the base model and the SHA-256 of the tensor file), written atomically and refused when they do not
belong together. Adapters (:mod:`.adapter_files`) and pretrained encoders (:mod:`.encoder_files`) are such pairs.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from gfm_napari.errors import ModelError
from gfm_napari.images.atomic import atomic_write_bytes, atomic_write_text
from gfm_napari.models.registry import LoadedModel
from gfm_napari.models.weights import file_sha256

__all__ = ["derived_model", "pair_paths", "read_pair_sidecar", "read_pair_tensors", "sidecar_format", "write_pair"]


def pair_paths(path: str | Path) -> tuple[Path, Path]:
    """(tensors, sidecar) for ``path`` given as ``<name>``, ``<name>.safetensors`` or ``<name>.json``."""
    p = Path(path).expanduser()
    if p.suffix.lower() in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def write_pair(
    path: str | Path, state: dict[str, Tensor], *, format: str, base: LoadedModel, sha_key: str, **fields: Any
) -> tuple[Path, Path]:
    """Write ``state`` and its sidecar (``format``, the base model's ids, ``sha_key``: the tensors' SHA-256, the
    date, and ``fields``) atomically; returns both paths."""
    from safetensors.torch import save

    tensors_path, sidecar_path = pair_paths(path)
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    data = save({k: v.detach().cpu().contiguous() for k, v in state.items()}, metadata={"format": format})
    atomic_write_bytes(tensors_path, data)
    sidecar = {
        "format": format,
        "base_model_id": base.model_id,
        "base_model": base.spec.name,
        "base_weights_sha256": file_sha256(base.weights_path),
        sha_key: hashlib.sha256(data).hexdigest(),  # of the bytes written: no stale mtime-keyed cache
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **fields,
    }
    atomic_write_text(sidecar_path, json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return tensors_path, sidecar_path


def sidecar_format(path: str | Path) -> str | None:
    """The ``format`` its sidecar names, or None (no sidecar, not JSON, another kind of JSON)."""
    try:
        return json.loads(pair_paths(path)[1].read_text(encoding="utf-8")).get("format")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None


def read_pair_sidecar(path: str | Path, *, format: str, required: tuple[str, ...]) -> dict[str, Any]:
    """The sidecar of the pair at ``path``; ModelError if it is missing, unreadable or of another format."""
    _, sidecar_path = pair_paths(path)
    if not sidecar_path.is_file():
        raise ModelError(f"sidecar not found: {sidecar_path}")
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{sidecar_path.name} is not a readable sidecar (truncated or corrupt?)") from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != format or any(k not in sidecar for k in required):
        raise ModelError(f"{sidecar_path.name} is not a {format} sidecar")
    return sidecar


def read_pair_tensors(
    model: LoadedModel, path: str | Path, sidecar: dict[str, Any], *, sha_key: str, what: str
) -> tuple[dict[str, Tensor], str]:
    """The pair's tensors and the tensor file's SHA-256, after checking that the pair was made for ``model`` and
    that the file is the one its sidecar describes. ``what`` names the kind of file in messages."""
    tensors_path, sidecar_path = pair_paths(path)
    if sidecar["base_model_id"] != model.model_id:
        raise ModelError(f"{what} {tensors_path.stem} was trained on {sidecar['base_model_id']}, not on {model.model_id}")
    try:
        data = tensors_path.read_bytes()  # hashed and parsed from the same bytes
    except FileNotFoundError:
        raise ModelError(f"{what} weights not found: {tensors_path}") from None
    except OSError as error:
        raise ModelError(f"cannot read {tensors_path.name}: {error.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sidecar[sha_key]:
        raise ModelError(f"{tensors_path.name} does not match its sidecar {sidecar_path.name} (changed or corrupt?)")
    from safetensors.torch import load

    try:
        state = load(data)
    except Exception:  # SafetensorError, ValueError, ...: the message names nothing from the file
        raise ModelError(f"{tensors_path.name} is not a readable {what} file (truncated or corrupt?)") from None
    if not state:
        raise ModelError(f"{tensors_path.name} holds no tensors")
    return state, digest


def derived_model(model: LoadedModel, segmenter: nn.Module, model_id: str) -> LoadedModel:
    """``model`` with ``segmenter`` (changed weights) and ``model_id``, in eval mode without gradients; a fast-path
    model gets a fresh ONNX export of the changed encoder (its copied runtime runs the old one)."""
    segmenter.eval().requires_grad_(False)
    derived = dataclasses.replace(model, segmenter=segmenter, model_id=model_id, prompt_paths={})
    if segmenter.encoder_runtime is not None:
        from gfm_napari.models.fast import accelerate

        segmenter.encoder_runtime = None
        accelerate(segmenter, derived.cache_id, model.precision)
    return derived
