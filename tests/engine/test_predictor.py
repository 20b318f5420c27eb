"""Embed once per plane, answer prompts with the decoder — on the real abdominal CT and satellite tile."""

import numpy as np
import pytest

from gfm_napari.engine.cache import EmbeddingCache
from gfm_napari.engine.predictor import Predictor
from gfm_napari.evaluation.prompted import dice, prompts_from_mask
from gfm_napari.images import Plane, fit_normalization

LIVER, SPLEEN, KIDNEY_LEFT = 5, 1, 3


@pytest.mark.parametrize(("label", "min_dice"), [(LIVER, 0.90), (SPLEEN, 0.85), (KIDNEY_LEFT, 0.85)])
def test_a_box_around_a_ct_organ_gives_its_mask(shared_predictor, ct, ct_labels, label, min_dice):
    index = int(np.argmax((ct_labels == label).sum(axis=(0, 1))))
    truth = ct_labels[:, :, index] == label
    embedding = shared_predictor.embed(ct, 2, index, normalization=fit_normalization(ct))
    prediction = shared_predictor.predict_prompts(embedding, prompts_from_mask(truth, "box"))
    assert prediction.mask.shape == truth.shape
    assert dice(prediction.mask, truth) >= min_dice


def test_a_box_around_a_building_gives_its_footprint(shared_predictor, satellite, satellite_labels):
    ids, areas = np.unique(satellite_labels[satellite_labels > 0], return_counts=True)
    truth = satellite_labels == ids[np.argmax(areas)]
    embedding = shared_predictor.embed(satellite, normalization=fit_normalization(satellite))
    prediction = shared_predictor.predict_prompts(embedding, prompts_from_mask(truth, "box"))
    assert prediction.mask.shape == satellite.spatial_shape
    assert dice(prediction.mask, truth) >= 0.75


def test_prompts_on_one_plane_never_re_encode_it(litemedsam, ct, ct_labels, monkeypatch):
    predictor = Predictor(litemedsam, EmbeddingCache())
    calls = []
    encode = litemedsam.segmenter.encode
    monkeypatch.setattr(litemedsam.segmenter, "encode", lambda batch: calls.append(len(batch)) or encode(batch))
    normalization = fit_normalization(ct)
    truth = ct_labels[:, :, 15] == LIVER
    for kind in ("box", "click", "click+box"):
        embedding = predictor.embed(ct, 2, 15, normalization=normalization)
        predictor.predict_prompts(embedding, prompts_from_mask(truth, kind))
    assert calls == [1]


def test_changing_the_ct_window_never_returns_a_stale_embedding(litemedsam, ct):
    predictor = Predictor(litemedsam, EmbeddingCache())
    soft = predictor.embed(ct, 2, 15, normalization=fit_normalization(ct, ct_window=(40.0, 400.0)))
    bone = predictor.embed(ct, 2, 15, normalization=fit_normalization(ct, ct_window=(500.0, 2000.0)))
    assert predictor.cache.misses == 2 and len(predictor.cache) == 2
    assert not np.allclose(soft.features.cpu().numpy(), bone.features.cpu().numpy())


def test_batched_embedding_equals_one_by_one(litemedsam, ct):
    normalization = fit_normalization(ct)
    batched = Predictor(litemedsam, EmbeddingCache()).embed_many(ct, 2, [10, 11], normalization=normalization)
    single = Predictor(litemedsam, EmbeddingCache()).embed(ct, 2, 11, normalization=normalization)
    tolerance = 1e-4 if litemedsam.device.type == "cpu" else 5e-3  # a GPU's TF32 kernels depend on the batch size
    np.testing.assert_allclose(batched[1].features.cpu().numpy(), single.features.cpu().numpy(), atol=tolerance)


@pytest.mark.parametrize("axis", [0, 1])
def test_coronal_and_sagittal_planes_give_masks_on_their_own_grid(shared_predictor, ct, ct_labels, axis):
    index = int(np.argmax((ct_labels == LIVER).sum(axis=Plane(axis).in_plane_axes)))
    truth = np.take(ct_labels, index, axis=axis) == LIVER
    embedding = shared_predictor.embed(ct, axis, index, normalization=fit_normalization(ct))
    prediction = shared_predictor.predict_prompts(embedding, prompts_from_mask(truth, "box"))
    assert prediction.mask.shape == truth.shape
    assert dice(prediction.mask, truth) >= 0.72  # measured 0.78 (axis 0), 0.79 (axis 1): long thin planes


def test_low_res_logits_feed_back_as_mask_input(shared_predictor, ct, ct_labels):
    truth = ct_labels[:, :, 15] == LIVER
    embedding = shared_predictor.embed(ct, 2, 15, normalization=fit_normalization(ct))
    first = shared_predictor.predict_prompts(embedding, prompts_from_mask(truth, "box"))
    again = shared_predictor.predict_prompts(embedding, prompts_from_mask(truth, "box"), first.low_res_logits)
    assert first.low_res_logits.shape == (1, 1, 256, 256)
    assert again.mask.shape == truth.shape and again.mask.any()
