"""Adapter files: ``<name>.safetensors`` (only the adapter tensors) + ``<name>.json`` (what they belong to).

The sidecar names the base model (``LoadedModel.model_id``, which holds the weight files' hashes, and the full
SHA-256 of the base weight file), the adapter settings, the training data digest, metrics, the creation date and
the SHA-256 of the tensor file, so a pair that does not belong together is refused. Both files are written
atomically. :func:`load_adapter` never changes the caller's model: the dock keeps the base model for switching.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

from torch import Tensor

from gfm_napari.errors import ModelError
from gfm_napari.images.atomic import atomic_write_bytes, atomic_write_text
from gfm_napari.models.adapters import AdapterConfig, adapter_config, adapter_state_dict, apply_adapters
from gfm_napari.models.registry import LoadedModel
from gfm_napari.models.weights import check_state_dict, file_sha256

__all__ = ["FORMAT", "adapter_paths", "is_adapter", "load_adapter", "read_sidecar", "save_adapter"]

FORMAT = "gfm-napari-adapter/1"


def adapter_paths(path: str | Path) -> tuple[Path, Path]:
    """(tensors, sidecar) for ``path`` given as ``<name>``, ``<name>.safetensors`` or ``<name>.json``."""
    p = Path(path).expanduser()
    if p.suffix.lower() in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def save_adapter(
    model: LoadedModel,
    path: str | Path,
    *,
    data_digest: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write the adapters of ``model.segmenter`` (applied with :func:`apply_adapters`) and their sidecar.

    ``model.model_id`` must be the base model's id (the one the adapters were trained on). Returns both paths.
    """
    config = adapter_config(model.segmenter)
    if config is None:
        raise ValueError("the model has no adapters to save")
    from safetensors.torch import save

    tensors_path, sidecar_path = adapter_paths(path)
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in adapter_state_dict(model.segmenter).items()}
    data = save(state, metadata={"format": FORMAT})
    atomic_write_bytes(tensors_path, data)
    sidecar = {
        "format": FORMAT,
        "base_model_id": model.model_id,
        "base_model": model.spec.name,
        "base_weights_sha256": file_sha256(model.weights_path),
        "adapter": config.to_dict(),
        "adapter_sha256": hashlib.sha256(data).hexdigest(),  # of the bytes written: no stale mtime-keyed cache
        "training_data_digest": data_digest,
        "metrics": dict(metrics or {}),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(sidecar_path, json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return tensors_path, sidecar_path


def is_adapter(path: str | Path) -> bool:
    """True when ``path`` names an adapter file pair (its sidecar says so); False for other weight files, e.g. the
    clicks preset's prompt-path overlays, whose JSON is a provenance record."""
    try:
        return json.loads(adapter_paths(path)[1].read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The sidecar of the adapter at ``path``; ModelError if it is missing or not an adapter sidecar."""
    _, sidecar_path = adapter_paths(path)
    if not sidecar_path.is_file():
        raise ModelError(f"adapter sidecar not found: {sidecar_path}")
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{sidecar_path.name} is not a readable adapter sidecar (truncated or corrupt?)") from None
    required = ("base_model_id", "adapter", "adapter_sha256")
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT or any(k not in sidecar for k in required):
        raise ModelError(f"{sidecar_path.name} is not a {FORMAT} sidecar")
    return sidecar


def load_adapter(model: LoadedModel, path: str | Path) -> LoadedModel:
    """A new LoadedModel: a copy of ``model`` with the adapter at ``path``, in eval mode without gradients.

    Its ``model_id`` is ``<base id>+adapter-<first 8 hex of the tensor file's SHA-256>``, so embeddings cached
    for the base model are not reused. A fast-path model gets a fresh ONNX export of the adapted encoder.
    Raises ModelError (one line) when the files are missing or corrupt, do not belong together, or were made
    for another base model.
    """
    sidecar = read_sidecar(path)
    tensors_path, sidecar_path = adapter_paths(path)
    if sidecar["base_model_id"] != model.model_id:
        raise ModelError(
            f"adapter {tensors_path.stem} was trained on {sidecar['base_model_id']}, not on {model.model_id}"
        )
    try:
        data = tensors_path.read_bytes()  # small; hashed and parsed from the same bytes
    except FileNotFoundError:
        raise ModelError(f"adapter weights not found: {tensors_path}") from None
    except OSError as error:
        raise ModelError(f"cannot read {tensors_path.name}: {error.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sidecar["adapter_sha256"]:
        raise ModelError(f"{tensors_path.name} does not match its sidecar {sidecar_path.name} (changed or corrupt?)")
    try:
        config = AdapterConfig.from_dict(sidecar["adapter"])
    except (TypeError, ValueError, AttributeError) as error:
        raise ModelError(f"{sidecar_path.name} has invalid adapter settings: {error}") from None
    state = _parse_tensors(data, tensors_path.name)
    segmenter = copy.deepcopy(model.segmenter)
    try:
        apply_adapters(segmenter, config)
    except ValueError as error:
        raise ModelError(f"adapter {tensors_path.stem} does not fit {model.model_id}: {error}") from None
    expected = adapter_state_dict(segmenter)
    check_state_dict(expected, state, source=tensors_path.name, model_name=model.model_id)
    current = segmenter.state_dict()
    segmenter.load_state_dict({k: v.to(current[k].dtype) for k, v in state.items()}, strict=False)
    segmenter.eval().requires_grad_(False)
    model_id = f"{model.model_id}+adapter-{digest[:8]}"
    if segmenter.encoder_runtime is not None:  # the copied runtime runs the base encoder: export the adapted one
        from gfm_napari.models.fast import accelerate

        segmenter.encoder_runtime = None
        accelerate(segmenter, model_id)
    return dataclasses.replace(model, segmenter=segmenter, model_id=model_id)



def _parse_tensors(data: bytes, name: str) -> dict[str, Tensor]:
    from safetensors.torch import load

    try:
        state = load(data)
    except Exception:  # SafetensorError, ValueError, ...: the message names nothing from the file
        raise ModelError(f"{name} is not a readable adapter file (truncated or corrupt?)") from None
    if not state:
        raise ModelError(f"{name} holds no tensors")
    return state
