"""Which model the Segment dock starts with, and loading a user's SAM checkpoint (slow: call off the UI thread)."""

from __future__ import annotations

from pathlib import Path

from ..engine.predictor import Predictor
from ..errors import ModelError
from ..models import load_model

CLICKS_MODEL, BASE_MODEL = "litemedsam_clicks", "litemedsam"
SAM_MODELS = ("sam_vit_b", "sam_vit_l", "sam_vit_h")


def title(predictor: Predictor) -> str:
    """A short name for the model selector, with the checkpoint file for user-supplied weights."""
    spec = predictor.model.spec
    return f"{spec.title} ({predictor.model.weights_path.name})" if spec.needs_checkpoint else spec.title


def load_default() -> Predictor:
    """The click-trained LiteMedSAM when its weights load, else LiteMedSAM."""
    try:
        return Predictor(load_model(CLICKS_MODEL))
    except ModelError:
        return Predictor(load_model(BASE_MODEL))


def load_named(name: str) -> Predictor:
    return Predictor(load_model(name))


def load_checkpoint(path: str | Path) -> Predictor:
    """A SAM checkpoint; its size (vit_b / vit_l / vit_h) from the file name, else each tried in turn."""
    path = Path(path)
    named = [name for name in SAM_MODELS if name.removeprefix("sam_") in path.name.lower()]
    error: ModelError | None = None
    for name in named or SAM_MODELS:
        try:
            return Predictor(load_model(name, checkpoint=path))
        except ModelError as failure:
            error = failure
    raise ModelError(f"'{path.name}' is not a SAM ViT-B, -L or -H checkpoint ({error})")
