"""Which model the Segment dock starts with, and loading a user's SAM checkpoint (slow: call off the UI thread)."""

from __future__ import annotations

from pathlib import Path

from ..engine.predictor import Predictor
from ..errors import ModelError
from ..models import DEFAULT_MODEL, load_model
from ..models.registry import FALLBACK_MODEL, checkpoint_models


def load_default() -> Predictor:
    """The click-trained LiteMedSAM when its weights load, else LiteMedSAM."""
    try:
        return Predictor(load_model(DEFAULT_MODEL))
    except ModelError:
        return Predictor(load_model(FALLBACK_MODEL))


def load_named(name: str) -> Predictor:
    return Predictor(load_model(name))


def load_checkpoint(path: str | Path) -> Predictor:
    """A SAM checkpoint; its size (vit_b / vit_l / vit_h) from the file name, else each tried in turn."""
    path = Path(path)
    sam_models = checkpoint_models()
    named = [name for name in sam_models if name.removeprefix("sam_") in path.name.lower()]
    error: ModelError | None = None
    for name in named or sam_models:
        try:
            return Predictor(load_model(name, checkpoint=path))
        except ModelError as failure:
            error = failure
    raise ModelError(f"'{path.name}' is not a SAM ViT-B, -L or -H checkpoint ({error})")
