"""Adapter files: ``<name>.safetensors`` (only the adapter tensors) + ``<name>.json`` (what they belong to).

The sidecar names the base model (``LoadedModel.model_id``, which holds the weight files' hashes, and the full
SHA-256 of the base weight file), the adapter settings, the training data digest, metrics, the creation date and
the SHA-256 of the tensor file, so a pair that does not belong together is refused. Both files are written
atomically (:mod:`.file_pairs`). :func:`load_adapter` never changes the caller's model: the dock keeps the base
model for switching.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from gfm_napari.errors import ModelError
from gfm_napari.models.adapters import (
    AdapterConfig,
    adapter_config,
    adapter_state_dict,
    apply_adapters,
)
from gfm_napari.models.file_pairs import (
    derived_model,
    pair_paths,
    read_pair_sidecar,
    read_pair_tensors,
    sidecar_format,
    write_pair,
)
from gfm_napari.models.registry import LoadedModel, on_prompt_path
from gfm_napari.models.weights import check_state_dict

__all__ = ["FORMAT", "adapter_paths", "is_adapter", "load_adapter", "read_sidecar", "save_adapter"]

FORMAT = "gfm-napari-adapter/1"
SHA_KEY = "adapter_sha256"
adapter_paths = pair_paths


def save_adapter(
    model: LoadedModel,
    path: str | Path,
    *,
    data_digest: str | None = None,
    metrics: dict[str, Any] | None = None,
    prompt_path: str | None = None,
) -> tuple[Path, Path]:
    """Write the adapters of ``model.segmenter`` (applied with :func:`apply_adapters`) and their sidecar.

    ``model.model_id`` must be the base model's id (the one the adapters were trained on); ``prompt_path`` names
    the base's prompt path they were trained over (:func:`~gfm_napari.models.registry.on_prompt_path`; None: the
    main one). Returns both paths.
    """
    config = adapter_config(model.segmenter)
    if config is None:
        raise ValueError("the model has no adapters to save")
    return write_pair(
        path, adapter_state_dict(model.segmenter), format=FORMAT, base=model, sha_key=SHA_KEY,
        adapter=config.to_dict(), training_data_digest=data_digest, metrics=dict(metrics or {}),
        prompt_path=prompt_path,
    )


def is_adapter(path: str | Path) -> bool:
    """True when ``path`` names an adapter file pair (its sidecar says so); False for other weight files, e.g. the
    clicks preset's prompt-path overlays, whose JSON is a provenance record."""
    return sidecar_format(path) == FORMAT


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The sidecar of the adapter at ``path``; ModelError if it is missing or not an adapter sidecar."""
    return read_pair_sidecar(path, format=FORMAT, required=("base_model_id", "adapter", SHA_KEY))


def load_adapter(model: LoadedModel, path: str | Path) -> LoadedModel:
    """A new LoadedModel: a copy of ``model`` with the adapter at ``path``, in eval mode without gradients.

    Its ``model_id`` is ``<base id>+adapter-<first 8 hex of the tensor file's SHA-256>``, so embeddings cached
    for the base model are not reused. A fast-path model gets a fresh ONNX export of the adapted encoder.
    Raises ModelError (one line) when the files are missing or corrupt, do not belong together, or were made
    for another base model.
    """
    sidecar = read_sidecar(path)
    state, digest = read_pair_tensors(model, path, sidecar, sha_key=SHA_KEY, what="adapter")
    tensors_path, sidecar_path = adapter_paths(path)
    try:
        config = AdapterConfig.from_dict(sidecar["adapter"])
    except (TypeError, ValueError, AttributeError) as error:
        raise ModelError(f"{sidecar_path.name} has invalid adapter settings: {error}") from None
    # over the prompt path it was trained over (rasters: the raster one), which then answers every image
    segmenter = copy.deepcopy(on_prompt_path(model, sidecar.get("prompt_path")).segmenter)
    try:
        apply_adapters(segmenter, config)
    except ValueError as error:
        raise ModelError(f"adapter {tensors_path.stem} does not fit {model.model_id}: {error}") from None
    check_state_dict(adapter_state_dict(segmenter), state, source=tensors_path.name, model_name=model.model_id)
    current = segmenter.state_dict()
    segmenter.load_state_dict({k: v.to(current[k].dtype) for k, v in state.items()}, strict=False)
    return derived_model(model, segmenter, f"{model.model_id}+adapter-{digest[:8]}")
