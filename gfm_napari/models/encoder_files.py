"""Pretrained encoder files (``gfm-napari pretrain``): ``<name>.safetensors`` (the whole image encoder, keys
``image_encoder.*``) + ``<name>.json`` (the base model it was pretrained from, the pretraining settings and
losses, the data digest, the date, and the SHA-256 of the tensor file; :mod:`.file_pairs`).

:func:`load_encoder` puts the encoder into a copy of its base model (prompt encoders and mask decoders unchanged,
the per-modality prompt paths included) under a new ``model_id``, ``<base id>+encoder-<8 hex>``, so embeddings of
the base encoder are never reused.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from torch import Tensor

from gfm_napari.models.file_pairs import (
    derived_model,
    pair_paths,
    read_pair_sidecar,
    read_pair_tensors,
    sidecar_format,
    write_pair,
)
from gfm_napari.models.registry import LoadedModel, with_prompt_paths_of
from gfm_napari.models.weights import check_state_dict

__all__ = ["ENCODER_FORMAT", "encoder_paths", "is_encoder", "load_encoder", "read_encoder_sidecar", "save_encoder"]

ENCODER_FORMAT = "gfm-napari-encoder/1"
SHA_KEY = "encoder_sha256"
PREFIX = "image_encoder."
encoder_paths = pair_paths


def save_encoder(
    base: LoadedModel, encoder_state: dict[str, Tensor], path: str | Path, **fields: Any
) -> tuple[Path, Path]:
    """Write an image encoder's state dict (its own keys, without ``image_encoder.``) pretrained from ``base``;
    ``fields`` (settings, losses, data digest ...) go into the sidecar. Returns both paths."""
    state = {PREFIX + k: v.float() for k, v in encoder_state.items()}
    return write_pair(path, state, format=ENCODER_FORMAT, base=base, sha_key=SHA_KEY, **fields)


def is_encoder(path: str | Path) -> bool:
    """True when ``path`` names a pretrained encoder pair."""
    return sidecar_format(path) == ENCODER_FORMAT


def read_encoder_sidecar(path: str | Path) -> dict[str, Any]:
    """The sidecar of the encoder at ``path``; ModelError if it is missing or not an encoder sidecar."""
    return read_pair_sidecar(path, format=ENCODER_FORMAT, required=("base_model_id", SHA_KEY))


def load_encoder(model: LoadedModel, path: str | Path) -> LoadedModel:
    """A new LoadedModel: a copy of ``model`` whose image encoder is the one at ``path``.

    Raises ModelError (one line) when the files are missing or corrupt, do not belong together, were made from
    another base model, or do not hold exactly the base model's encoder tensors.
    """
    sidecar = read_encoder_sidecar(path)
    state, digest = read_pair_tensors(model, path, sidecar, sha_key=SHA_KEY, what="encoder")
    expected = {k: v for k, v in model.segmenter.state_dict().items() if k.startswith(PREFIX)}
    tensors_file = encoder_paths(path)[0]
    check_state_dict(expected, state, source=tensors_file.name, model_name=model.model_id)
    segmenter = copy.deepcopy(model.segmenter)
    segmenter.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=False)
    derived = derived_model(model, segmenter, f"{model.model_id}+encoder-{digest[:8]}")
    return dataclasses.replace(with_prompt_paths_of(model, derived), encoder_file=tensors_file)
