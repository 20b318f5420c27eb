"""Weight files that extend a base model, told apart once: :func:`describe` reads what a file is from its JSON
sidecar, :func:`extend` puts it onto a model through one table of loaders.

Three kinds: adapters (:mod:`.adapter_files`) and pretrained encoders (:mod:`.encoder_files`), file pairs whose
sidecar names their format (:mod:`.file_pairs`), and prompt-path overlays such as the clicks preset's export
(``training/run_clicks.py``), whose sidecar is a provenance record naming the base model and its weights' hash.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gfm_napari.models.adapter_files import FORMAT as ADAPTER_FORMAT
from gfm_napari.models.adapter_files import load_adapter, read_sidecar
from gfm_napari.models.encoder_files import (
    ENCODER_FORMAT,
    load_encoder,
    read_encoder_sidecar,
)
from gfm_napari.models.file_pairs import pair_paths
from gfm_napari.models.registry import LoadedModel
from gfm_napari.models.weight_deltas import read_weights
from gfm_napari.models.weights import file_sha256, load_overlay

__all__ = ["Extension", "ExtensionKind", "describe", "extend"]

ExtensionKind = Literal["adapter", "encoder", "overlay"]


@dataclass(frozen=True)
class Extension:
    """What a weight file adds to which model.

    ``base_model_id`` is the ``model_id`` of the model it was made from (an overlay's is its base weights' id,
    ``<base_model>-<12 hex>``), ``base_model`` that model's registry name, ``adapter_kind`` the adapter's kind
    (``"lora"`` ...; empty for other kinds).
    """

    kind: ExtensionKind
    path: Path
    base_model_id: str
    base_model: str
    adapter_kind: str = ""


def describe(path: str | Path) -> Extension | None:
    """What the file at ``path`` extends, from its sidecar; None for a file that is no extension (a checkpoint,
    weights without a sidecar). Raises ModelError when the sidecar names an extension format but is incomplete."""
    path = Path(path)
    record = _sidecar_record(path)
    if record is None:
        return None
    if record.get("format") == ADAPTER_FORMAT:
        sidecar = read_sidecar(path)
        return Extension("adapter", path, sidecar["base_model_id"], sidecar["base_model"], sidecar["adapter"]["kind"])
    if record.get("format") == ENCODER_FORMAT:
        sidecar = read_encoder_sidecar(path)
        return Extension("encoder", path, sidecar["base_model_id"], sidecar["base_model"])
    if "format" not in record and {"base_model", "base_weights_sha256"} <= record.keys():
        base = record["base_model"]
        return Extension("overlay", path, f"{base}-{record['base_weights_sha256'][:12]}", base)
    return None


def extend(model: LoadedModel, extension: Extension) -> LoadedModel:
    """``model`` with ``extension`` put onto it, under a model id of its own (embeddings of ``model`` are never
    reused). Adapters and encoders come onto a copy; an overlay is loaded into ``model``'s own modules (a command
    line loads its model for one use), over any model whose keys it matches. Raises ModelError (one line) when the
    file does not fit ``model``."""
    return _LOADERS[extension.kind](model, extension.path)


def _load_overlay(model: LoadedModel, path: Path) -> LoadedModel:
    load_overlay(model.segmenter, read_weights(path, model.weights_path), source=path.name,
                 model_name=model.spec.name)
    return dataclasses.replace(model, model_id=f"{model.model_id}+{file_sha256(path)[:8]}", prompt_paths={})


_LOADERS: dict[str, Callable[[LoadedModel, Path], LoadedModel]] = {
    "adapter": load_adapter,
    "encoder": load_encoder,
    "overlay": _load_overlay,
}


def _sidecar_record(path: Path) -> dict | None:
    """The JSON object in the sidecar next to ``path``, or None (none, unreadable, not an object)."""
    try:
        record = json.loads(pair_paths(path)[1].read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None
