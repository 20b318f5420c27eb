"""Which model the Segment dock starts with, and loading a user's SAM checkpoint (slow: call off the UI thread).
``precision``: as in :func:`gfm_napari.models.load_model` (``"auto"``: 8 bits where the CPU runs them well)."""

from __future__ import annotations

from pathlib import Path

from ..engine.predictor import Predictor
from ..errors import ModelError
from ..models import DEFAULT_MODEL, load_model
from ..models.registry import FALLBACK_MODEL, checkpoint_models

# The first load on a machine also exports the encoder (ONNX) or quantizes the model (8 bits) into the user cache:
# about 50 s on 2 CPU cores, then a few seconds. The Model list shows LOADING_PLACEHOLDER until a model is in it.
LOADING_MESSAGE = "Loading the model… (the first time on this machine it is also prepared for it: up to a minute)"
LOADING_PLACEHOLDER = "Loading… (the first time: up to a minute)"


def load_default(precision: str = "auto") -> Predictor:
    """The click-trained LiteMedSAM when its weights load, else LiteMedSAM."""
    try:
        return Predictor(load_model(DEFAULT_MODEL, precision=precision))
    except ModelError:
        return Predictor(load_model(FALLBACK_MODEL, precision=precision))


def load_named(name: str, precision: str = "auto") -> Predictor:
    return Predictor(load_model(name, precision=precision))


def load_checkpoint(path: str | Path, precision: str = "auto") -> Predictor:
    """A SAM checkpoint; its size (vit_b / vit_l / vit_h) from the file name, else each tried in turn."""
    path = Path(path)
    sam_models = checkpoint_models()
    named = [name for name in sam_models if name.removeprefix("sam_") in path.name.lower()]
    error: ModelError | None = None
    for name in named or sam_models:
        try:
            return Predictor(load_model(name, checkpoint=path, precision=precision))
        except ModelError as failure:
            error = failure
    raise ModelError(f"'{path.name}' is not a SAM ViT-B, -L or -H checkpoint ({error})")
