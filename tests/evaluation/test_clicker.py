"""The RITM click rule, NoC / mIoU@k, and click simulation on the real CT with LiteMedSAM."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gfm_napari.engine.prompts import Prompts, box_from_mask
from gfm_napari.engine.zoom import PlaneSegmenter
from gfm_napari.evaluation.clicker import ClickTrace, iou, next_click, noc, object_summary, simulate, summarise
from gfm_napari.images import fit_normalization


def _square(shape, row0, col0, size):
    mask = np.zeros(shape, bool)
    mask[row0 : row0 + size, col0 : col0 + size] = True
    return mask


# ---- next_click on hand-made masks ---------------------------------------------------------------------
def test_false_negative_blob_gives_a_positive_click_at_its_centre():
    truth = _square((20, 20), 6, 8, 5)  # rows 6..10, cols 8..12: centre row 8, col 10
    assert next_click(np.zeros_like(truth), truth, None) == (10, 8, 1)


def test_larger_false_positive_region_gives_a_negative_click():
    truth = _square((30, 30), 2, 2, 3)  # fn 3x3, depth 2 (prediction misses it)
    prediction = _square((30, 30), 15, 15, 7)  # fp 7x7, depth 4, centre row 18, col 18
    assert next_click(prediction, truth) == (18, 18, 0)


def test_a_clicked_pixel_is_not_chosen_again():
    truth = _square((20, 20), 6, 8, 5)
    clicked = np.zeros_like(truth)
    clicked[8, 10] = True
    # the centre is ruled out; the next deepest (depth 2) pixel first in row-major order is row 7, col 9
    assert next_click(np.zeros_like(truth), truth, clicked) == (9, 7, 1)


def test_perfect_prediction_gives_none():
    truth = _square((20, 20), 6, 8, 5)
    assert next_click(truth.copy(), truth) is None


def test_image_border_bounds_an_error_region():
    # fp: a band of rows 0..3 across the top edge. Padded, its depth is 2; unpadded it would be 4 (row 0),
    # beating the 5x5 false-negative blob (depth 3) and giving a negative click at (0, 0).
    truth = _square((20, 20), 10, 6, 5)
    prediction = np.zeros((20, 20), bool)
    prediction[0:4, :] = True
    assert next_click(prediction, truth) == (8, 12, 1)


def test_iou_of_two_empty_masks_is_one_and_of_disjoint_masks_zero():
    empty = np.zeros((4, 4), bool)
    assert iou(empty, empty) == 1.0
    assert iou(_square((4, 4), 0, 0, 2), _square((4, 4), 2, 2, 2)) == 0.0
    assert iou(_square((4, 4), 0, 0, 2), _square((4, 4), 0, 0, 1)) == 0.25


# ---- metrics on hand-written IoU lists -----------------------------------------------------------------
def test_noc_counts_prompts_to_target_and_max_clicks_when_never_reached():
    ious = [0.5, 0.82, 0.86, 0.88, 0.89]
    assert noc(ious, 0.80) == 2
    assert noc(ious, 0.85) == 3
    assert noc(ious, 0.90) == 5


def test_summarise_gives_mean_noc_failures_and_miou_at_k():
    traces = [
        ClickTrace((0.5, 0.82, 0.86, 0.88, 0.89), ((1, 1, 1),) * 5, "click"),
        [0.81, 0.91, 0.91, 0.91, 0.91],
        [0.2, 0.4, 0.6, 0.7, 0.9],  # reaches 0.90 only at the last prompt: NoC 5, not a failure
    ]
    summary = summarise(traces)
    assert summary == {
        "objects": 3,
        "max_clicks": 5,
        "NoC@80": round((2 + 1 + 5) / 3, 4),
        "NoC@85": round((3 + 2 + 5) / 3, 4),
        "NoC@90": round((5 + 2 + 5) / 3, 4),
        "failures@80": 0,
        "failures@85": 0,
        "failures@90": 1,
        "mIoU@k": [0.5033, 0.71, 0.79, 0.83, 0.9],
    }
    assert json.loads(json.dumps(summary)) == summary


def test_object_summary_gives_one_objects_noc_per_target_and_best_iou():
    trace = ClickTrace((0.5, 0.82, 0.86, 0.84, 0.88), ((1, 1, 1),) * 5, "click")
    assert object_summary(trace) == {"NoC@80": 2, "NoC@85": 3, "NoC@90": 5, "best_iou": 0.88}


# ---- simulate with a stub predictor (no model) -------------------------------------------------------
class _PerfectAtHalf:
    """A plane whose logits are 0 (sigmoid 0.5) on the truth, -10 elsewhere: foreground only at RITM's 0.49
    threshold."""

    def __init__(self, truth):
        self.plane_shape = truth.shape
        self.logits = torch.from_numpy(np.where(truth, 0.0, -10.0))
        self.previous = []

    def predict(self, prompts, previous=None, *, feedback=True):
        self.previous.append(previous)
        return SimpleNamespace(mask=np.zeros(self.plane_shape, bool), score=1.0, low_res_logits=self.logits)

    def plane_logits(self, prediction):
        return prediction.low_res_logits


def test_simulate_thresholds_at_049_and_pads_after_early_stop():
    truth = _square((20, 20), 6, 8, 5)
    stub = _PerfectAtHalf(truth)
    trace = simulate(stub, truth, max_clicks=4)
    assert trace == ClickTrace((1.0, 1.0, 1.0, 1.0), ((10, 8, 1),), "click")
    assert stub.previous == [None]


class _ThreeMasks:
    """A plane whose lone click gets ``masks[candidate]`` (logits +10 inside, -10 outside); any other prompts get the
    truth."""

    def __init__(self, truth, masks):
        self.plane_shape, self.truth, self.masks = truth.shape, truth, masks
        self.asked = []

    def predict(self, prompts, previous=None, *, feedback=True):
        self.asked.append((prompts.candidate, previous))
        mask = self.masks[prompts.candidate] if prompts.is_lone_click else self.truth
        return SimpleNamespace(mask=mask, score=1.0, low_res_logits=torch.from_numpy(np.where(mask, 10.0, -10.0)))

    def plane_logits(self, prediction):
        return prediction.low_res_logits


def test_a_user_who_presses_next_mask_pays_a_prompt_per_press_and_corrects_the_best_mask():
    truth = _square((20, 20), 4, 4, 10)
    part, nothing = _square((20, 20), 4, 4, 5), np.zeros((20, 20), bool)
    stub = _ThreeMasks(truth, [part, nothing, truth])
    trace = simulate(stub, truth, max_clicks=5, next_mask=True)
    assert trace.ious == (0.25, 0.0, 1.0, 1.0, 1.0) and trace.presses == 2 and len(trace.clicks) == 1
    assert [candidate for candidate, _ in stub.asked] == [0, 1, 2] and all(p is None for _, p in stub.asked)
    assert object_summary(trace)["next_mask_presses"] == 2


def test_a_user_whose_first_mask_is_the_best_does_not_press():
    truth = _square((20, 20), 4, 4, 10)
    part = _square((20, 20), 4, 4, 5)
    plain = simulate(_ThreeMasks(truth, [part, np.zeros_like(truth), part[:, ::-1]]), truth, max_clicks=4)
    pressed = simulate(_ThreeMasks(truth, [part, np.zeros_like(truth), part[:, ::-1]]), truth, max_clicks=4,
                       next_mask=True)
    assert pressed == plain and pressed.presses == 0


# ---- real data: LiteMedSAM on the CT liver -------------------------------------------------------------
@pytest.fixture(scope="module")
def liver_slice(shared_predictor, ct, ct_labels):
    liver = ct_labels == 5
    index = int(np.argmax(liver.sum(axis=(0, 1))))
    return PlaneSegmenter(shared_predictor, ct, 2, index, fit_normalization(ct)), liver[:, :, index]


def test_box_start_on_real_ct_liver(shared_predictor, liver_slice):
    plane, truth = liver_slice
    trace = simulate(plane, truth, start="box", max_clicks=3)
    plain = plane.predict(Prompts(box=box_from_mask(truth)))
    probability = torch.sigmoid(plane.plane_logits(plain))
    assert len(trace.ious) == 3 and trace.start == "box"
    assert trace.ious[0] == pytest.approx(iou(probability.numpy() > 0.49, truth), abs=1e-12)
    assert trace.ious[0] > 0.5
    assert len(trace.clicks) == 2


def test_click_start_on_real_ct_liver_clicks_inside_the_liver(shared_predictor, liver_slice):
    plane, truth = liver_slice
    trace = simulate(plane, truth, start="click", max_clicks=1)
    (x, y, label), = trace.clicks
    assert label == 1 and truth[y, x]
    assert len(trace.ious) == 1 and trace.ious[0] > 0.0
