"""describe() tells adapters, pretrained encoders and prompt-path overlays apart by their sidecars; extend() puts
each onto a model through one table."""

from __future__ import annotations

import copy
import dataclasses
import json
from importlib.resources import files
from pathlib import Path

import pytest
import torch

from gfm_napari.errors import ModelError
from gfm_napari.models import AdapterConfig, apply_adapters, load_model, save_adapter
from gfm_napari.models.encoder_files import save_encoder
from gfm_napari.models.extensions import Extension, describe, extend

SHIPPED_OVERLAY = Path(str(files("gfm_napari") / "resources" / "weights" / "litemedsam_clicks.safetensors"))


@pytest.fixture(scope="module")
def base():
    return load_model("litemedsam", fast=False)


@pytest.fixture(scope="module")
def adapter(base, tmp_path_factory) -> Path:
    segmenter = copy.deepcopy(base.segmenter)
    apply_adapters(segmenter, AdapterConfig(kind="lora", rank=4, last_n_blocks=1))
    tensors, _ = save_adapter(dataclasses.replace(base, segmenter=segmenter), tmp_path_factory.mktemp("a") / "run")
    return tensors


@pytest.fixture(scope="module")
def encoder(base, tmp_path_factory) -> Path:
    state = base.segmenter.image_encoder.state_dict()
    tensors, _ = save_encoder(base, state, tmp_path_factory.mktemp("e") / "encoder", steps=1)
    return tensors


def test_an_adapter_is_described_by_its_sidecar_and_loads_onto_a_copy(base, adapter):
    extension = describe(adapter)
    assert extension == Extension("adapter", adapter, base.model_id, "litemedsam", "lora")
    assert describe(str(adapter.with_suffix(".json"))).path == adapter.with_suffix(".json")  # the path as given
    adapted = extend(base, extension)
    assert adapted.model_id.startswith(f"{base.model_id}+adapter-") and adapted.segmenter is not base.segmenter


def test_a_pretrained_encoder_is_described_and_loads_onto_a_copy(base, encoder):
    extension = describe(encoder)
    assert extension == Extension("encoder", encoder, base.model_id, "litemedsam")
    assert extend(base, extension).model_id.startswith(f"{base.model_id}+encoder-")


def test_the_shipped_click_overlay_is_an_overlay_made_over_litemedsam(base):
    extension = describe(SHIPPED_OVERLAY)
    assert extension is not None and extension.kind == "overlay" and extension.base_model == "litemedsam"
    assert extension.base_model_id == base.model_id  # "<base>-<12 hex of its weights>", as load_model names it
    model = load_model("litemedsam", fast=False)
    clicks = load_model("litemedsam_clicks", fast=False)
    extended = extend(model, extension)
    assert extended.model_id == f"{base.model_id}+{clicks.model_id.split('+')[1]}"  # the medical overlay's hash
    shipped, loaded = clicks.segmenter.state_dict(), extended.segmenter.state_dict()
    assert all(torch.equal(shipped[k], loaded[k]) for k in shipped)


def test_files_without_an_extension_sidecar_are_not_extensions(tmp_path):
    checkpoint = tmp_path / "sam_vit_b.pth"
    checkpoint.write_bytes(b"weights")
    assert describe(checkpoint) is None
    (tmp_path / "sam_vit_b.json").write_text("[1, 2]")
    assert describe(checkpoint) is None
    (tmp_path / "sam_vit_b.json").write_text(json.dumps({"format": "something-else/1"}))
    assert describe(checkpoint) is None


def test_an_incomplete_adapter_sidecar_is_refused(tmp_path):
    (tmp_path / "broken.json").write_text(json.dumps({"format": "gfm-napari-adapter/1"}))
    with pytest.raises(ModelError, match="broken.json is not a gfm-napari-adapter/1 sidecar"):
        describe(tmp_path / "broken.safetensors")


def test_a_model_over_a_pretrained_encoder_starts_its_training_runs_over_that_encoder(base, encoder, tmp_path):
    from gfm_napari.cli import build_parser
    from gfm_napari.training.runs import adapter_command, pretrain_command

    pretrained = extend(base, describe(encoder))
    assert pretrained.encoder_file == encoder and base.encoder_file is None
    argv = adapter_command(pretrained, Path("ct.nii.gz"), Path("labels.nii.gz"), tmp_path, kind="lora", steps=5)
    args = build_parser().parse_args(argv[3:])  # after "python -m gfm_napari", as the dock's subprocess parses it
    assert args.encoder == encoder and args.model == "litemedsam"
    assert "--encoder" not in adapter_command(base, Path("ct.nii.gz"), Path("labels.nii.gz"), tmp_path, kind="lora",
                                              steps=5)
    assert pretrain_command(pretrained, [Path("scans")], tmp_path, steps=5)[-2:] == ["--encoder", str(encoder)]
