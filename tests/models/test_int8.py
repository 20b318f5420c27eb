"""The 8-bit CPU path (``precision="int8"``: NNCF-calibrated 8-bit matrix products on OpenVINO in the encoder and
in the mask decoder's prompt side): masks held to the float ones on real planes, its own model id and export, nothing sent or written for telemetry, and float still
one option away."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.prompts import Prompts
from gfm_napari.errors import ModelError
from gfm_napari.evaluation.prompted import Selection, dice, evaluate_prompts
from gfm_napari.images import Plane, fit_normalization, read_image
from gfm_napari.models import load_model, openvino_runtime
from gfm_napari.models.openvino_encoder import OpenVinoEncoder


@pytest.fixture(scope="module")
def float_model():
    return load_model("litemedsam_clicks", device="cpu")


@pytest.fixture(scope="module")
def int8_model():
    return load_model("litemedsam_clicks", device="cpu", precision="int8")


def test_the_int8_model_has_its_own_cache_id_and_export_but_the_same_weights_id(float_model, int8_model):
    assert int8_model.cache_id == float_model.cache_id + "+int8" and int8_model.model_id == float_model.model_id
    assert int8_model.precision == "int8" and float_model.precision == "float"
    assert int8_model.segmenter.encoder_runtime.path != float_model.segmenter.encoder_runtime.path
    assert int8_model.segmenter.encoder_runtime.path.with_suffix(".bin").stat().st_size < 0.5 * (
        float_model.segmenter.encoder_runtime.path.stat().st_size)  # the matrix products' weights in one byte


def test_float_is_one_option_away(int8_model):
    again = load_model("litemedsam_clicks", device="cpu", precision="float")
    assert "+int8" not in again.cache_id and again.segmenter.encoder_runtime.path != (
        int8_model.segmenter.encoder_runtime.path)


@pytest.mark.parametrize(("options", "message"), [
    ({"precision": "int4"}, "precision must be one of auto, float, int8, not 'int4'"),
    ({"precision": "int8", "fast": False}, "8-bit inference runs on the CPU with LiteMedSAM models only"),
])
def test_precisions_that_cannot_run_are_refused_in_one_line(options, message):
    with pytest.raises(ModelError, match=message):
        load_model("litemedsam_clicks", device="cpu", **options)


def test_int8_embeddings_of_a_real_ct_slice_point_where_the_float_ones_do(shared_data, float_model, int8_model):
    image = read_image(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz")
    normalization = fit_normalization(image)
    a, b = (Predictor(model).embed(image, *Plane.of(image).key, normalization=normalization).features.flatten()
            for model in (float_model, int8_model))
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) >= 0.99  # measured 0.997 (weights per channel)


@pytest.mark.parametrize(("folder", "image"), [
    ("mr_brats_tumour_manual", "Flair_subtrMeanDivStd.nii.gz"),
    ("sat_landsat_rgb_rasterio", "RGB.byte.tif"),
    ("radiomics_nrrd_manual", "brain1_image.nrrd"),
], ids=["brats-flair", "landsat", "nrrd-brain"])
def test_int8_embeddings_hold_on_domains_the_calibration_never_saw(shared_data, float_model, int8_model, folder, image):
    source = read_image(shared_data / folder / image)  # calibrated on the shipped CT and Atlanta samples only
    normalization = fit_normalization(source)
    a, b = (Predictor(model).embed(source, *Plane.of(source).key, normalization=normalization).features.flatten()
            for model in (float_model, int8_model))
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) >= 0.99  # measured 0.996-0.998


def test_the_8_bit_encoder_runs_its_float_parts_in_bfloat16_only_where_the_cpu_computes_it(int8_model, monkeypatch):
    runtime = int8_model.segmenter.encoder_runtime
    assert runtime.float_parts == ("bf16" if openvino_runtime.native_bfloat16() else "f32")
    monkeypatch.setattr(openvino_runtime, "native_bfloat16", lambda: False)  # a CPU that would emulate it
    assert OpenVinoEncoder(int8_model.segmenter.image_encoder, runtime.path, 2).float_parts == "f32"


def test_the_8_bit_runtime_writes_and_sends_no_telemetry(tmp_path):
    """OpenVINO and NNCF, imported as they are, write a client id under ~/intel and NNCF reports its calls."""
    import subprocess
    import sys

    script = ("from gfm_napari.models import openvino_runtime as e; e.import_openvino(); e.import_nncf(); "
              "from nncf.telemetry import wrapper; print(type(wrapper.telemetry).__name__)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "HOME": str(tmp_path)})
    assert not (tmp_path / "intel").exists()
    assert result.stdout.strip() != "NNCFTelemetry"


@pytest.mark.parametrize(("folder", "image", "labels", "selection"), [
    ("ct_totalseg", "example_ct_sm.nii.gz", "example_seg.nii.gz", Selection(max_slices=3)),
    ("sat_spacenet_atlanta_buildings", "sample_geotiff.tif", "buildings_instances_derived.tif",
     Selection(instances=True, max_slices=1)),
], ids=["ct", "satellite"])
def test_int8_box_and_click_dice_stay_within_a_hundredth_of_float(
    shared_data, float_model, int8_model, folder, image, labels, selection
):
    source, truth = read_image(shared_data / folder / image), read_image(shared_data / folder / labels)
    means = [evaluate_prompts(source, truth, model, selection, prompt_kinds=("box", "click"))["mean_dice"]
             for model in (float_model, int8_model)]
    for kind in ("box", "click"):
        assert abs(means[1][kind] - means[0][kind]) <= 0.01, (kind, means)  # measured: CT +0.000 / -0.007,
        # Atlanta -0.008 / +0.005 (box / click)


def test_a_model_with_changed_weights_gets_its_own_8_bit_export(int8_model):
    import copy

    from gfm_napari.models.file_pairs import derived_model

    segmenter = copy.deepcopy(int8_model.segmenter)
    with torch.no_grad():
        next(segmenter.image_encoder.parameters()).mul_(1.01)
    changed = derived_model(int8_model, segmenter, int8_model.model_id + "_changed-0123abcd")
    runtime = changed.segmenter.encoder_runtime
    assert changed.precision == "int8" and runtime.path != int8_model.segmenter.encoder_runtime.path
    assert "changed-0123abcd_int8" in runtime.path.name and runtime.is_current()


@pytest.mark.parametrize(("device", "fast", "has_dot", "environment", "expected"), [
    ("cpu", True, True, None, "int8"),
    ("cpu", True, False, None, "float"),  # no 8-bit dot products: 8 bits barely pay, may saturate
    ("cpu", False, True, None, "float"),  # the plain path (training) has no 8-bit encoder
    ("cuda", True, True, None, "float"),
    ("cpu", True, True, "float", "float"),
    ("cpu", True, False, "int8", "int8"),
    ("cuda", True, True, "int8", "float"),  # the user's preference where 8 bits can run
])
def test_auto_picks_8_bits_on_the_cpu_fast_path_of_a_cpu_with_8_bit_dot_products(
    monkeypatch, device, fast, has_dot, environment, expected
):
    from gfm_napari.models import precision

    monkeypatch.setattr(precision, "cpu_has_int8_dot", lambda: has_dot)
    if environment is None:
        monkeypatch.delenv(precision.ENVIRONMENT, raising=False)
    else:
        monkeypatch.setenv(precision.ENVIRONMENT, environment)
    chosen = precision.resolve_precision("auto", device=torch.device(device), fast=fast, preprocessing="minmax")
    assert chosen == expected


def test_auto_keeps_sam_checkpoints_in_float(monkeypatch):
    from gfm_napari.models import precision

    monkeypatch.setattr(precision, "cpu_has_int8_dot", lambda: True)
    monkeypatch.delenv(precision.ENVIRONMENT, raising=False)
    assert precision.resolve_precision("auto", device=torch.device("cpu"), fast=True, preprocessing="sam") == "float"


def test_switching_precision_keeps_the_weights_and_changes_the_embeddings_key(float_model, int8_model):
    from gfm_napari.models.registry import with_precision

    switched = with_precision(float_model, "int8")
    assert switched.precision == "int8" and switched.cache_id == int8_model.cache_id
    assert switched.segmenter.encoder_runtime.path == int8_model.segmenter.encoder_runtime.path
    assert switched.segmenter.image_encoder is float_model.segmenter.image_encoder  # no second copy of the weights
    assert float_model.precision == "float" and "int8" not in float_model.segmenter.encoder_runtime.path.name
    assert with_precision(switched, "float").cache_id == float_model.cache_id


def test_an_adapter_made_over_the_float_model_loads_over_the_8_bit_one(float_model, int8_model, tmp_path):
    import copy
    import dataclasses

    from gfm_napari.models import AdapterConfig, apply_adapters, load_adapter, save_adapter

    segmenter = copy.deepcopy(float_model.segmenter)
    apply_adapters(segmenter, AdapterConfig(kind="lora", rank=4, last_n_blocks=1))
    tensors, _ = save_adapter(dataclasses.replace(float_model, segmenter=segmenter), tmp_path / "run")
    adapted = load_adapter(int8_model, tensors)
    assert adapted.precision == "int8" and adapted.cache_id == adapted.model_id + "+int8"
    assert adapted.model_id.startswith(float_model.model_id + "+adapter-")


def test_the_8_bit_decoder_answers_every_prompt_path_and_float_has_none(float_model, int8_model):
    raster = int8_model.decoder_for("raster")
    assert int8_model.segmenter.decoder_runtime is not None and raster.decoder_runtime is not None
    assert raster.decoder_runtime.path != int8_model.segmenter.decoder_runtime.path  # other weights, own model
    assert raster.decoder_runtime.path.name.startswith("decoder-")
    assert float_model.segmenter.decoder_runtime is None and float_model.decoder_for("raster").decoder_runtime is None


@pytest.mark.parametrize(("folder", "image"), [
    ("dicom_ct_series_totalseg", "series"),
    ("sat_spacenet_atlanta_buildings", "sample_geotiff.tif"),  # the raster prompt path's own 8-bit decoder
], ids=["ct", "satellite"])
def test_8_bit_decoder_masks_match_the_float_decoders_on_the_same_real_embedding(shared_data, int8_model, folder, image):
    source = read_image(shared_data / folder / image)
    predictor = Predictor(int8_model)
    embedding = predictor.embed(source, *Plane.of(source).key, normalization=fit_normalization(source))
    rows, cols = embedding.plane_shape
    segmenter = int8_model.decoder_for(embedding.modality)
    runtime = segmenter.decoder_runtime
    dices = []
    for x, y in ((0.5, 0.5), (0.3, 0.6), (0.7, 0.35), (0.45, 0.75)):
        prompts = Prompts(np.array([[x * cols, y * rows]]), np.array([1]))
        eight_bit = predictor.predict_prompts(embedding, prompts, search=False)
        segmenter.decoder_runtime = None
        try:
            float_decoder = predictor.predict_prompts(embedding, prompts, search=False)
        finally:
            segmenter.decoder_runtime = runtime
        dices.append(dice(eight_bit.mask, float_decoder.mask))
    assert min(dices) >= 0.95, dices  # measured on CT: 0.973-1.0 over 30 clicks, mean 0.99


def test_the_8_bit_decoder_answers_a_mask_prompt_like_the_float_one(int8_model, shared_data):
    source = read_image(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz")
    predictor = Predictor(int8_model)
    embedding = predictor.embed(source, *Plane.of(source).key, normalization=fit_normalization(source))
    rows, cols = embedding.plane_shape
    first = predictor.predict_prompts(embedding, Prompts(np.array([[cols / 2, rows / 2]]), np.array([1])))
    again = Prompts(np.array([[cols / 2, rows / 2], [cols / 2 + 5, rows / 2 + 3]]), np.array([1, 1]))
    eight_bit = predictor.predict_prompts(embedding, again, first.low_res_logits)
    segmenter = int8_model.segmenter
    runtime, segmenter.decoder_runtime = segmenter.decoder_runtime, None
    try:
        float_decoder = predictor.predict_prompts(embedding, again, first.low_res_logits)
    finally:
        segmenter.decoder_runtime = runtime
    assert dice(eight_bit.mask, float_decoder.mask) >= 0.95


def test_changed_decoder_weights_fall_back_to_pytorch_and_get_their_own_8_bit_decoder(int8_model):
    import copy

    from gfm_napari.models.file_pairs import derived_model

    segmenter = copy.deepcopy(int8_model.segmenter)
    assert segmenter.decoder_runtime.is_current()
    with torch.no_grad():
        segmenter.mask_decoder.iou_token.weight.mul_(1.01)
    assert not segmenter.decoder_runtime.is_current()  # PyTorch answers until it is made again
    changed = derived_model(int8_model, segmenter, int8_model.model_id + "_changed-decoder")
    assert changed.segmenter.decoder_runtime.is_current()
    assert changed.segmenter.decoder_runtime.path != int8_model.segmenter.decoder_runtime.path


def test_switching_to_float_drops_the_8_bit_decoder_of_every_prompt_path(int8_model):
    from gfm_napari.models.registry import with_precision

    switched = with_precision(int8_model, "float")
    assert switched.segmenter.decoder_runtime is None and switched.decoder_for("raster").decoder_runtime is None
    assert int8_model.decoder_for("raster").decoder_runtime is not None  # the 8-bit model itself is unchanged
    assert switched.decoder_for("raster").mask_decoder is int8_model.decoder_for("raster").mask_decoder
