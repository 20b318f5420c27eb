"""A prompt path per domain: rasters and photos are answered by the raster click path, CT and MR by the shipped
medical one, over the same encoder and embeddings; the raster path ships as an 8-bit difference under 5 MB."""

import dataclasses
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch

from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.prompts import Prompts, interior_point
from gfm_napari.engine.zoom import PlaneSegmenter
from gfm_napari.errors import ModelError
from gfm_napari.evaluation.automatic import truth_objects
from gfm_napari.evaluation.prompted import dice
from gfm_napari.images import fit_normalization, read_image
from gfm_napari.images.align import labels_on_grid
from gfm_napari.models import load_model
from gfm_napari.models.registry import with_precision
from gfm_napari.models.weight_deltas import (
    apply_delta,
    encode_delta,
    is_delta_file,
    read_delta_file,
    read_weights,
    write_delta_file,
)
from gfm_napari.models.weights import file_sha256

WEIGHTS = Path(str(files("gfm_napari") / "resources" / "weights"))
RASTERS = WEIGHTS / "litemedsam_clicks_rasters.safetensors"
MEDICAL = WEIGHTS / "litemedsam_clicks.safetensors"


def test_the_raster_path_ships_under_5_mb_as_a_difference_from_the_medical_one():
    from safetensors import safe_open

    assert RASTERS.stat().st_size < 5 * 2**20
    with safe_open(str(RASTERS), framework="pt") as handle:
        assert handle.metadata()["base_sha256"] == file_sha256(MEDICAL)
        deltas = [k for k in handle.keys() if k.endswith(".delta")]  # noqa: SIM118 (a safe_open handle, no dict)
        assert {handle.get_tensor(k).dtype for k in deltas} == {torch.int8}


def test_its_sidecar_records_how_it_was_made_and_what_it_measured():
    provenance = json.loads(RASTERS.with_suffix(".json").read_text())
    assert "train-adapter --preset clicks" in provenance["command"] and provenance["seed"] == 0
    assert provenance["stored_as"]["base_sha256"] == file_sha256(MEDICAL)
    assert {"atlanta", "water"} <= provenance["held_apart"].keys()


def test_rasters_and_photos_take_the_raster_path_and_scans_the_medical_one(litemedsam_clicks):
    raster = litemedsam_clicks.decoder_for("raster")
    assert raster is litemedsam_clicks.decoder_for("photo") is not litemedsam_clicks.segmenter
    assert litemedsam_clicks.decoder_for("CT") is litemedsam_clicks.decoder_for("MR") is litemedsam_clicks.segmenter
    assert raster.image_encoder is litemedsam_clicks.segmenter.image_encoder  # one encoder, one embedding cache
    assert "+rasters-" in litemedsam_clicks.model_id


def test_models_changed_from_the_default_keep_one_prompt_path_and_a_precision_switch_keeps_both(litemedsam_clicks):
    from gfm_napari.models.extensions import describe, extend

    overlaid = extend(load_model(), describe(MEDICAL))
    assert overlaid.decoder_for("raster") is overlaid.segmenter
    switched = with_precision(litemedsam_clicks, "int8")
    assert switched.prompt_paths.keys() == litemedsam_clicks.prompt_paths.keys()
    assert switched.decoder_for("raster") is switched.decoder_for("photo")  # still one path for both
    assert switched.decoder_for("raster").mask_decoder is litemedsam_clicks.decoder_for("raster").mask_decoder
    assert switched.decoder_for("raster").decoder_runtime is not None  # its own 8-bit decoder; the float one has none
    assert litemedsam_clicks.decoder_for("raster").decoder_runtime is None


def test_an_8_bit_difference_restores_the_weights_to_a_hundredth_of_the_difference():
    generator = torch.Generator().manual_seed(0)
    base = {"w": torch.randn(64, 32, generator=generator), "b": torch.randn(64, generator=generator)}
    change = {k: 0.03 * torch.randn(v.shape, generator=generator) for k, v in base.items()}
    restored = apply_delta(base, encode_delta({k: base[k] + change[k] for k in base}, base))
    for key, value in base.items():
        error = (restored[key] - value - change[key]).abs().max()
        assert error <= change[key].abs().max() / 254 + 1e-7


def test_a_difference_read_over_other_weights_is_refused(tmp_path):
    other = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2, 2)}, str(other))
    delta = write_delta_file(tmp_path / "delta.safetensors", {"w": torch.ones(2, 2)}, other)
    assert torch.equal(read_delta_file(delta, other)["w"], torch.ones(2, 2))
    with pytest.raises(ModelError, match="made over other weights"):
        read_delta_file(RASTERS, other)


def test_a_difference_can_be_the_base_of_another_and_plain_files_read_as_they_are(tmp_path):
    from safetensors.torch import save_file

    base = tmp_path / "base.safetensors"
    save_file({"w": torch.zeros(2, 2), "encoder": torch.zeros(3)}, str(base))
    first = write_delta_file(tmp_path / "first.safetensors", {"w": torch.ones(2, 2)}, base)  # a part of the base
    first_state = read_weights(first, base)
    second = write_delta_file(tmp_path / "second.safetensors", {"w": 3 * torch.ones(2, 2)}, first, first_state)
    assert is_delta_file(first) and not is_delta_file(base)
    assert torch.equal(read_delta_file(second, first, first_state)["w"], 3 * torch.ones(2, 2))
    assert read_weights(base, first).keys() == {"w", "encoder"}  # a plain file: its own tensors, whatever the base


@pytest.fixture(scope="module")
def water(shared_data):
    """Sen1Floods11 Spain_7370579 (Sentinel-2, hand-labelled water; never trained on; the default true colour): its
    18 water bodies of at least 500 px, as in the README's evaluation."""
    folder = shared_data / "sat_sen1floods11_water_manual"
    image = read_image(folder / "Spain_7370579_S2Hand.tif")
    labels = labels_on_grid(image, read_image(folder / "Spain_7370579_LabelHand.tif"))
    objects = truth_objects(np.where(labels == 1, 1, 0), 500, True)
    return image, [objects == i for i in range(1, objects.max() + 1)]


def test_one_click_on_held_apart_water_bodies_is_better_with_the_raster_path(litemedsam_clicks, water):
    image, bodies = water
    scores = []
    for model in (litemedsam_clicks, dataclasses.replace(litemedsam_clicks, prompt_paths={})):
        plane = PlaneSegmenter(Predictor(model), image, None, None, fit_normalization(image))
        scores.append(np.mean([dice(plane.predict(Prompts([interior_point(b)], [1])).mask, b) for b in bodies]))
    assert scores[0] >= 0.44  # measured 0.472 (float, true colour B4, B3, B2)
    assert scores[0] >= scores[1] + 0.02  # the medical path: 0.437


def test_a_pretrained_encoder_keeps_the_raster_path(litemedsam_clicks, water, tmp_path):
    """The default model's own encoder loaded as a pretrained encoder file answers rasters as the default model
    does: the raster prompt path is kept over the loaded encoder (an adapter or overlay still drops it)."""
    from gfm_napari.models.encoder_files import load_encoder, save_encoder

    state = litemedsam_clicks.segmenter.image_encoder.state_dict()
    pretrained = load_encoder(litemedsam_clicks, save_encoder(litemedsam_clicks, state, tmp_path / "encoder",
                                                              steps=1)[0])
    raster = pretrained.decoder_for("raster")
    assert raster is pretrained.decoder_for("photo") and raster.image_encoder is pretrained.segmenter.image_encoder
    assert raster.mask_decoder is litemedsam_clicks.decoder_for("raster").mask_decoder
    assert pretrained.decoder_for("CT") is pretrained.segmenter
    image, bodies = water
    masks = []
    for model in (litemedsam_clicks, pretrained):
        plane = PlaneSegmenter(Predictor(model), image, None, None, fit_normalization(image))
        masks.append([plane.predict(Prompts([interior_point(b)], [1])).mask for b in bodies[:4]])
    assert all(np.array_equal(ours, theirs) for ours, theirs in zip(*masks))
