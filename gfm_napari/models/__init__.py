"""Torch models and where their weights come from (no napari / Qt here).

``load_model(name, checkpoint=..., device=...)`` gives a :class:`LoadedModel` whose ``segmenter`` offers
``encode(images)`` and ``decode(embeddings, points=..., boxes=..., mask_input=..., multimask=...)``.
"""

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
    "LoadedModel",
    "ModelSpec",
    "Segmenter",
    "available_models",
    "get_spec",
    "load_model",
    "pick_device",
]
