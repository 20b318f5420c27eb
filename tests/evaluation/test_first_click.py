"""The first click: centre (the RITM rule's most interior pixel) or random in the object's inner half (issue 19)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.prompts import Prompts, depth_map, interior_point
from gfm_napari.engine.propagate import dice
from gfm_napari.evaluation.clicker import (
    first_click,
    inner_half,
    next_click,
    object_rng,
    simulate,
)
from gfm_napari.images import fit_normalization


def test_random_first_click_lies_in_the_inner_half_of_the_real_ct_liver(ct_liver_plane):
    truth = ct_liver_plane
    depth = depth_map(truth)
    centre = first_click(truth, "center")
    clicks = [first_click(truth, "random", object_rng(seed, 5, 0)) for seed in range(50)]
    for x, y, label in clicks:
        assert label == 1 and truth[y, x] and depth[y, x] >= depth.max() / 2
    assert all(click != centre for click in clicks[:5])  # the liver's inner half has 579 pixels
    assert len(set(clicks)) >= 40  # spread over the inner half, not stuck on a few pixels
    assert first_click(truth, "random", object_rng(0, 5, 0)) == clicks[0]  # same seed, same click
    assert first_click(truth, "random", object_rng(0, 5, 1)) != clicks[0]  # another object, another draw
    inner = inner_half(truth)
    assert inner.sum() == 579 and not (inner & ~truth).any()


def test_centre_first_click_is_the_ritm_rule_on_an_empty_prediction(ct_liver_plane):
    truth = ct_liver_plane
    x, y = interior_point(truth)
    assert first_click(truth, "center") == next_click(np.zeros_like(truth), truth) == (int(x), int(y), 1)
    with pytest.raises(ValueError, match="Generator"):
        first_click(truth, "random")
    with pytest.raises(ValueError, match="first click must be one of"):
        first_click(truth, "middle")


class _Echo:
    """Logits +10 on the truth except a 3x3 hole round the first click, -10 elsewhere: the trace depends on it."""

    def __init__(self, truth):
        self.truth = truth
        self.plane_shape = truth.shape

    def predict(self, prompts, previous=None, *, feedback=True):
        logits = np.where(self.truth, 10.0, -10.0)
        x, y = (int(v) for v in prompts.points[0])
        logits[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = -10.0
        return SimpleNamespace(low_res_logits=torch.from_numpy(logits))

    def plane_logits(self, prediction):
        return prediction.low_res_logits


def test_only_the_first_click_changes_and_centre_is_todays_trace(ct_liver_plane):
    truth = ct_liver_plane
    today = simulate(_Echo(truth), truth, max_clicks=3)
    assert simulate(_Echo(truth), truth, max_clicks=3, first="center") == today
    assert today.clicks[0] == next_click(np.zeros_like(truth), truth)
    drawn = simulate(_Echo(truth), truth, max_clicks=3, first="random", rng=object_rng(0, 5, 0))
    assert drawn.clicks[0] == first_click(truth, "random", object_rng(0, 5, 0)) != today.clicks[0]
    prediction = truth.copy()  # the echo's mask after the first click: the truth less a 3x3 hole round it
    x, y, _ = drawn.clicks[0]
    prediction[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = False
    clicked = np.zeros_like(truth)
    clicked[y, x] = True
    assert drawn.clicks[1] == next_click(prediction, truth, clicked)  # later clicks: the RITM rule
    with pytest.raises(ValueError, match="start='click' only"):
        simulate(_Echo(truth), truth, start="box", first="random", rng=object_rng(0, 5, 0))


def test_random_one_click_dice_on_real_ct_liver_is_near_the_centre_click(litemedsam_clicks, ct, ct_labels):
    liver = ct_labels == 5
    index = int(np.argmax(liver.sum(axis=(0, 1))))
    truth = liver[:, :, index]
    predictor = Predictor(litemedsam_clicks)
    embedding = predictor.embed(ct, 2, index, normalization=fit_normalization(ct))

    def one_click_dice(click):
        prompts = Prompts(np.array([click[:2]], np.float64), np.array([1]))
        return dice(predictor.predict_prompts(embedding, prompts).mask, truth)

    centre = one_click_dice(first_click(truth, "center"))
    drawn = [one_click_dice(first_click(truth, "random", object_rng(seed, 5, 0))) for seed in range(6)]
    # Measured (litemedsam_clicks, CPU, axial slice 24, 2083 px, inner half 579 px): centre (49, 86) Dice 0.6764;
    # random seeds 0..5: 0.6948, 0.6800, 0.6570, 0.3932 (seed 3: (72, 70), near the inner half's edge), 0.6235,
    # 0.6040 — mean 0.6088, gap to the centre 0.068; seed 0 (the CLI default) is 0.018 above the centre.
    # Thresholds: measured gap + 0.05.
    assert abs(drawn[0] - centre) <= 0.018 + 0.05
    assert float(np.mean(drawn)) >= centre - (0.068 + 0.05)
    assert min(drawn) > 0.3  # no random click inside the inner half loses the liver entirely (worst: 0.39)


def test_evaluate_records_the_first_click_and_its_seed(evaluate_ct):
    centre = evaluate_ct("--clicks", "2")
    assert centre["first_click"] == "center" and centre["seed"] is None
    drawn = evaluate_ct("--clicks", "2", "--first-click", "random")
    again = evaluate_ct("--clicks", "2", "--first-click", "random")
    assert drawn["first_click"] == "random" and drawn["seed"] == 0
    drawn.pop("plot"), again.pop("plot")
    assert drawn == again  # seeded: the same report twice
    assert drawn["overall"]["objects"] == centre["overall"]["objects"] == 4
    prompted = evaluate_ct("--prompt", "click", "--first-click", "random", "--seed", "3")
    assert prompted["first_click"] == "random" and prompted["seed"] == 3
    assert set(prompted["mean_dice"]) == {"click"} and prompted["mean_dice"]["click"] > 0.3
