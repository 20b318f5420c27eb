"""Torch models and where their weights come from (no napari / Qt here).

``load_model(name, checkpoint=..., device=...)`` gives a :class:`LoadedModel` whose ``segmenter`` offers
``encode(images)`` and ``decode(embeddings, points=..., boxes=..., mask_input=..., multimask=...)``.
"""

from gfm_napari.models.adapter_files import load_adapter, save_adapter
from gfm_napari.models.adapters import AdapterConfig, apply_adapters, remove_adapters
from gfm_napari.models.device import pick_device
from gfm_napari.models.registry import (
    DEFAULT_MODEL,
    LoadedModel,
    ModelSpec,
    available_models,
    get_spec,
    load_model,
)
from gfm_napari.models.segmenter import Segmenter

__all__ = [
    "DEFAULT_MODEL",
    "AdapterConfig",
    "LoadedModel",
    "ModelSpec",
    "Segmenter",
    "apply_adapters",
    "available_models",
    "get_spec",
    "load_adapter",
    "load_model",
    "pick_device",
    "remove_adapters",
    "save_adapter",
]
