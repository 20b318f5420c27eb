"""Continual pretraining (GFM): masking, data, the student/teacher pair, distributed runs, resume, encoder files."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from gfm_napari.errors import GfmError, ModelError
from gfm_napari.images.windowed import RasterFile
from gfm_napari.jobs import run
from gfm_napari.models import get_spec, load_model
from gfm_napari.models.encoder_files import load_encoder, read_encoder_sidecar, save_encoder
from gfm_napari.training.pretrain import PretrainConfig, StopRequest, pretrain
from gfm_napari.training.pretrain_data import UnlabelledPlanes, image_sources, raster_tiles
from gfm_napari.training.pretrain_model import (
    FrozenTeacher,
    MaskedStudent,
    TimmTeacher,
    encoder_stem,
    feature_distance,
    freeze_stem,
    random_masks,
)
from gfm_napari.training.runs import exported_encoder, read_pretrain_progress

SPEC = get_spec("litemedsam_clicks")
QUICK = PretrainConfig(steps=2, batch_size=1, lr=1e-5, warmup=1, checkpoint_every=1)


@pytest.fixture(scope="module")
def ct_planes(shared_data):
    return UnlabelledPlanes.from_paths([shared_data / "ct_totalseg" / "example_ct_sm.nii.gz"])


@pytest.fixture(scope="module")
def pretrained_run(ct_planes, tmp_path_factory):
    """A 2-step single-process run on the real CT (the model is a fresh copy: pretraining trains it in place)."""
    out = tmp_path_factory.mktemp("pretrain") / "run"
    run(pretrain(load_model("litemedsam_clicks", fast=False), ct_planes, out, QUICK))
    return out


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gfm_napari", "pretrain", *args]


def test_masks_hide_the_ratio_of_squares_exactly():
    masks = random_masks(torch.Generator().manual_seed(0), 4, 8, 0.6)
    assert masks.shape == (4, 8, 8)
    assert masks.view(4, -1).sum(dim=1).tolist() == [38] * 4  # round(0.6 * 64)
    assert not torch.equal(masks[0], masks[1])


def test_folders_give_dicom_series_and_image_files(shared_data):
    folder = shared_data / "dicom_ct_series_totalseg"
    assert image_sources([folder]) == [folder / "example_seg_dicom.nii.gz", folder / "series"]


def test_planes_are_read_from_every_format_and_sampled_as_model_input(shared_data):
    planes = UnlabelledPlanes.from_paths([
        shared_data / "dicom_ct_series_totalseg" / "series",
        shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif",
        shared_data / "sat_landsat_rgb_rasterio" / "RGB.byte.tif",
    ])
    assert len(planes) == 22  # 20 CT slices, a panchromatic tile, an RGB scene
    assert planes.planes[-1].shape == (718, 791, 3) and planes.planes[-1].dtype == np.uint8
    batch = planes.sample(np.random.default_rng(0), 3, SPEC)
    assert batch.shape == (3, 3, 256, 256)
    assert batch.amin(dim=(1, 2, 3)).tolist() == [0, 0, 0] and batch.amax(dim=(1, 2, 3)).tolist() == [1, 1, 1]


@pytest.mark.parametrize("settings", [{"mask_patch": 0}, {"mask_ratio": 1.0}, {"mim_weight": 0, "feat_weight": 0},
                                      {"teacher": "timm:resnet18"}, {"steps": 0}])
def test_settings_that_cannot_work_are_refused(settings):
    with pytest.raises(GfmError):
        PretrainConfig(**settings)


def test_no_images_is_a_clear_error(tmp_path):
    with pytest.raises(GfmError, match="no image planes"):
        UnlabelledPlanes.from_paths([tmp_path])


def test_an_untrained_student_on_an_unmasked_image_matches_its_teacher(litemedsam_clicks_plain, ct_planes):
    student_encoder = copy.deepcopy(litemedsam_clicks_plain.segmenter.image_encoder)
    freeze_stem(student_encoder)
    teacher = FrozenTeacher(student_encoder, "neck")
    segmenter = litemedsam_clicks_plain.segmenter
    stride = segmenter.input_size // segmenter.embedding_size[0]
    student = MaskedStudent(student_encoder, stride=stride, stage="neck", teacher_channels=teacher.channels)
    device = litemedsam_clicks_plain.device
    images = ct_planes.sample(np.random.default_rng(1), 2, SPEC).to(device)
    student.to(device)
    with torch.no_grad():
        stem = encoder_stem(student_encoder, images)
        reconstruction, projected = student(stem, torch.zeros(2, 8, 8, dtype=torch.bool, device=device))
        assert reconstruction.shape == (2, 3, 256, 256)
        assert float(feature_distance(projected, teacher(images, stem))) < 1e-5  # identity projection at start
        _, masked = student(stem, random_masks(None, 2, 8, 0.6).to(device))
        assert float(feature_distance(masked, teacher(images, stem))) > 0.05  # masking is what there is to learn


def test_an_unknown_stage_names_the_valid_ones(litemedsam_clicks_plain):
    with pytest.raises(GfmError, match="TinyViT stages: 1, 2, 3, neck"):
        FrozenTeacher(litemedsam_clicks_plain.segmenter.image_encoder, "7")


def test_a_timm_teacher_reads_a_local_weight_file(tmp_path):
    import timm
    from safetensors.torch import save_file

    weights = tmp_path / "resnet18.safetensors"
    save_file(timm.create_model("resnet18", pretrained=False).state_dict(), str(weights))
    teacher = TimmTeacher("resnet18", weights, "2", to_unit=lambda x: x)
    assert teacher.channels == 128
    assert teacher(torch.rand(1, 3, 256, 256), None).shape == (1, 128, 32, 32)
    save_file({"conv1.weight": torch.zeros(64, 3, 7, 7)}, str(weights))
    with pytest.raises(ModelError, match="does not fit timm model resnet18"):
        TimmTeacher("resnet18", weights, "2", to_unit=lambda x: x)


def test_a_run_logs_both_losses_and_exports_an_encoder_that_loads(pretrained_run, litemedsam_clicks, ct_planes):
    progress = read_pretrain_progress(pretrained_run, 2)
    assert progress.steps == [1, 2] and len(progress.l_mim) == len(progress.l_feat) == 2
    assert all(v > 0 for v in progress.l_mim + progress.l_feat) and progress.images_per_s > 0
    encoder = exported_encoder(pretrained_run)
    sidecar = read_encoder_sidecar(encoder)
    assert sidecar["base_model_id"] == litemedsam_clicks.model_id and sidecar["steps"] == 2
    assert sidecar["pretraining"]["mask_ratio"] == 0.6 and (pretrained_run / "done").exists()
    pretrained = load_encoder(litemedsam_clicks, encoder)
    assert pretrained.model_id.startswith(litemedsam_clicks.model_id + "+encoder-")
    images = ct_planes.sample(np.random.default_rng(2), 1, SPEC)
    with torch.no_grad():
        base, new = litemedsam_clicks.segmenter.encode(images), pretrained.segmenter.encode(images)
    assert not torch.equal(base, new)  # trained, yet close to the base: the decoder still reads it
    assert float(torch.nn.functional.cosine_similarity(base, new, dim=1).mean()) > 0.95


def test_an_encoder_from_another_base_model_is_refused(litemedsam_clicks, litemedsam, tmp_path):
    path, _ = save_encoder(litemedsam_clicks, litemedsam_clicks.segmenter.image_encoder.state_dict(), tmp_path / "e")
    expected = f"trained on {litemedsam_clicks.model_id}, not on {litemedsam.model_id}"
    with pytest.raises(ModelError, match=re.escape(expected)):
        load_encoder(litemedsam, path)


def test_an_encoder_file_round_trips_bit_for_bit(litemedsam_clicks, tmp_path, ct_planes):
    path, _ = save_encoder(litemedsam_clicks, litemedsam_clicks.segmenter.image_encoder.state_dict(), tmp_path / "e")
    same = load_encoder(litemedsam_clicks, path)
    images = ct_planes.sample(np.random.default_rng(3), 1, SPEC)
    with torch.no_grad():
        assert torch.equal(same.segmenter.encode(images), litemedsam_clicks.segmenter.encode(images))


def test_a_folder_holding_a_run_is_not_overwritten(pretrained_run, shared_data):
    data = shared_data / "ct_totalseg" / "example_ct_sm.nii.gz"
    result = subprocess.run(_command("--data", str(data), "--out", str(pretrained_run), "--steps", "1"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "--resume" in result.stderr


@pytest.mark.parametrize("frozen_stages", [0, 2])  # the full and the CPU-feasible mode
def test_a_resumed_run_matches_an_uninterrupted_one(ct_planes, tmp_path, frozen_stages):
    config = dataclasses.replace(QUICK, steps=3, frozen_stages=frozen_stages)
    straight = load_model("litemedsam_clicks", fast=False)
    run(pretrain(straight, ct_planes, tmp_path / "straight", config))
    interrupted, stop = load_model("litemedsam_clicks", fast=False), StopRequest()

    def stop_during_step_two(progress) -> None:  # a SIGTERM arriving after step 1: the run stops after step 2
        stop.requested = True

    result = run(pretrain(interrupted, ct_planes, tmp_path / "resumed", config, stop=stop), stop_during_step_two)
    assert result["stopped"] and result["step"] == 2
    resumed = load_model("litemedsam_clicks", fast=False)
    run(pretrain(resumed, ct_planes, tmp_path / "resumed", config, resume=True))
    base = load_model("litemedsam_clicks", fast=False).segmenter.image_encoder.state_dict()
    a, b = straight.segmenter.image_encoder.state_dict(), resumed.segmenter.image_encoder.state_dict()
    assert max(float((a[k] - base[k]).abs().max()) for k in a) > 1e-5  # the steps changed the encoder
    assert all(torch.allclose(a[k], b[k], rtol=1e-6, atol=1e-8) for k in a)


def test_frozen_stages_give_the_full_modes_first_losses_and_train_only_the_later_stages(ct_planes, tmp_path):
    """The CPU-feasible mode runs the same forward pass (its first step's losses equal the full mode's) and trains
    only what follows the frozen stages."""
    full, frozen = (load_model("litemedsam_clicks", fast=False, device="cpu") for _ in range(2))
    before = copy.deepcopy(frozen.segmenter.image_encoder.state_dict())
    run(pretrain(full, ct_planes, tmp_path / "full", QUICK))
    run(pretrain(frozen, ct_planes, tmp_path / "frozen", dataclasses.replace(QUICK, frozen_stages=2)))
    logs = [read_pretrain_progress(tmp_path / name) for name in ("full", "frozen")]
    assert logs[1].l_mim[0] == pytest.approx(logs[0].l_mim[0], rel=1e-5)
    assert logs[1].l_feat[0] == pytest.approx(logs[0].l_feat[0], abs=1e-7)
    after = frozen.segmenter.image_encoder.state_dict()
    changed = {k.split(".")[0] + ("." + k.split(".")[1] if k.startswith("layers.") else "")
               for k in after if not torch.equal(after[k], before[k])}
    assert changed == {"layers.3", "neck"}  # the stem (patch embedding, layers.0) and stages 1-2 stay as they were


def test_a_feature_loss_on_a_frozen_stage_is_refused(ct_planes, tmp_path):
    with pytest.raises(GfmError, match="reads stage 2, which 2 frozen stages leave untrained"):
        run(pretrain(load_model("litemedsam_clicks", fast=False), ct_planes, tmp_path / "run",
                     dataclasses.replace(QUICK, frozen_stages=2, stage="2")))


def test_two_processes_pretrain_over_gloo(shared_data, tmp_path):
    out = tmp_path / "ddp"
    result = subprocess.run(
        _command("--data", str(shared_data / "dicom_ct_series_totalseg" / "series"), "--out", str(out),
                 "--steps", "2", "--batch-size", "1", "--nproc", "2", "--device", "cpu"),
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2] and {r["processes"] for r in records} == {2}
    assert json.loads((out / "run.json").read_text())["processes"] == 2
    assert exported_encoder(out) is not None


def test_sigterm_stops_a_run_with_a_checkpoint_to_resume(shared_data, tmp_path):
    out = tmp_path / "cancelled"
    process = subprocess.Popen(
        _command("--data", str(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz"), "--out", str(out),
                 "--steps", "1000", "--batch-size", "1", "--device", "cpu"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 300
    while not (out / "log.jsonl").is_file() and time.monotonic() < deadline:
        time.sleep(0.5)
    os.kill(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 130, output[-2000:]
    assert "--resume continues" in output
    step = read_pretrain_progress(out).step
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == step >= 1 and exported_encoder(out) is not None
    resumed = subprocess.run(  # the CLI reads the run's log back: where it stopped, with what losses
        _command("--data", str(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz"), "--out", str(out),
                 "--steps", str(step), "--batch-size", "1", "--device", "cpu", "--resume"),
        capture_output=True, text=True, timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming {out} after step {step} of {step}: L_MIM " in resumed.stdout


def test_accumulated_micro_batches_make_the_same_step_as_one_batch(ct_planes, tmp_path):
    """Two micro-batches of one crop draw the same crops and masks as one batch of two, and their averaged
    gradients give the same update."""
    # on the CPU: a GPU runs pretraining in bfloat16, where the two sums round differently
    whole, accumulated = (load_model("litemedsam_clicks", fast=False, device="cpu") for _ in range(2))
    one = dataclasses.replace(QUICK, steps=1, batch_size=2)
    run(pretrain(whole, ct_planes, tmp_path / "whole", one))
    run(pretrain(accumulated, ct_planes, tmp_path / "accumulated", dataclasses.replace(one, batch_size=1, accumulate=2)))
    a, b = whole.segmenter.image_encoder.state_dict(), accumulated.segmenter.image_encoder.state_dict()
    assert all(torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-7) for k in a)
    logs = [read_pretrain_progress(tmp_path / name) for name in ("whole", "accumulated")]
    assert logs[0].l_mim == pytest.approx(logs[1].l_mim, rel=1e-4)
    assert logs[0].l_feat == pytest.approx(logs[1].l_feat, rel=1e-4)


def test_a_raster_read_by_windows_gives_random_full_resolution_tiles(shared_data):
    lazy = RasterFile.open(shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif").image()
    tiles = list(raster_tiles(lazy, rng=np.random.default_rng(0), count=4, side=256))
    assert len(tiles) == 4 and all(t.shape == (256, 256) and t.dtype == np.uint8 for t in tiles)
    assert len({t.tobytes() for t in tiles}) == 4  # four different windows of the 900 px scene
