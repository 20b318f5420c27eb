"""The clicks preset trains only the prompt path, improves on real data, and resumes exactly."""

from pathlib import Path

import numpy as np
import pytest
import torch

from gfm_napari.cli import build_parser
from gfm_napari.jobs import run
from gfm_napari.training.clicks import ClickMix, click_step, trainable_parameters, validate_clicks
from gfm_napari.training.loop import LoopConfig, train_loop
from gfm_napari.training.run_files import BEST, CHECKPOINT, LOG


def _loop(segmenter, objects, out_dir, steps):
    params = trainable_parameters(segmenter)
    config = LoopConfig(steps=steps, lr=1e-4, warmup=1, val_every=100, checkpoint_every=100)
    def step(rng):
        return click_step(segmenter, [objects[i] for i in rng.choice(len(objects), 2)], ClickMix(), rng)

    return params, train_loop(params, step, lambda: {"score": 0.0}, out_dir, config)


def test_only_the_prompt_encoder_and_mask_decoder_change(fresh_segmenter, ct_objects, tmp_path):
    encoder_before = {n: p.clone() for n, p in fresh_segmenter.image_encoder.named_parameters()}
    decoder_before = {n: p.clone() for n, p in fresh_segmenter.mask_decoder.named_parameters()}
    run(_loop(fresh_segmenter, ct_objects, tmp_path, steps=2)[1])
    assert all(torch.equal(p, encoder_before[n]) for n, p in fresh_segmenter.image_encoder.named_parameters())
    assert any(not torch.equal(p, decoder_before[n]) for n, p in fresh_segmenter.mask_decoder.named_parameters())
    assert (tmp_path / BEST).exists() and (tmp_path / CHECKPOINT).exists()
    assert len((tmp_path / LOG).read_text().splitlines()) >= 3


def test_a_cancelled_run_resumes_to_the_same_weights(litemedsam, ct_objects, tmp_path):
    import copy

    straight = copy.deepcopy(litemedsam.segmenter)
    params_straight, job = _loop(straight, ct_objects, tmp_path / "straight", steps=4)
    run(job)
    interrupted = copy.deepcopy(litemedsam.segmenter)
    _, job = _loop(interrupted, ct_objects, tmp_path / "resumed", steps=4)
    next(job), next(job)  # two steps done
    job.close()  # cancel: the checkpoint is written on the way out
    resumed = copy.deepcopy(litemedsam.segmenter)
    params_resumed, job = _loop(resumed, ct_objects, tmp_path / "resumed", steps=4)
    run(job)
    for name, value in params_straight.items():
        torch.testing.assert_close(params_resumed[name], value, rtol=0, atol=1e-6)


def test_validation_reports_click_and_box_dice_per_domain(litemedsam, ct_objects):
    report = validate_clicks(litemedsam.segmenter, ct_objects[:3])
    assert {"CT/click1", "CT/click3", "CT/click5", "CT/box", "click1", "click3", "click5", "box", "score"} <= set(report)
    assert report["box"] > report["click1"]  # the base model is box-trained: a lone click gives ~nothing
    assert np.isclose(report["score"], (report["click1"] + report["click3"] + report["box"]) / 3, atol=1e-3)


def test_the_click_mix_is_set_from_the_command_line_and_refused_when_it_cannot_work():
    parser = build_parser()
    args = parser.parse_args(["train-adapter", "--preset", "clicks", "--out", "run",
                              "--mix", "single_click=0.25,click_corrections=0.45,max_corrections=10"])
    assert args.mix == ClickMix(single_click=0.25, click_corrections=0.45, box_only=0.2, max_corrections=10)
    for bad in ("sharpness=1", "max_corrections=many", "single_click=0.9,box_only=0.5", "max_corrections=0"):
        with pytest.raises(SystemExit):
            parser.parse_args(["train-adapter", "--preset", "clicks", "--out", "run", "--mix", bad])


def test_a_clicks_run_can_start_from_other_prompt_path_weights():
    args = build_parser().parse_args(["train-adapter", "--preset", "clicks", "--out", "run", "--model",
                                      "litemedsam_clicks", "--start-from", "runs/raster_path.safetensors"])
    assert args.start_from == Path("runs/raster_path.safetensors")
