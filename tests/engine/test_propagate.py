"""3D propagation from one prompted slice through a real CT volume."""

import numpy as np

from gfm_napari.engine.propagate import PropagationSettings, propagate
from gfm_napari.evaluation.prompted import dice, prompts_from_mask
from gfm_napari.images import fit_normalization
from gfm_napari.jobs import Progress, run

LIVER = 5


def _start_on_largest_slice(predictor, ct, truth):
    """(slice index, normalisation, box prediction) on the structure's largest axial cross-section."""
    index = int(np.argmax(truth.sum(axis=(0, 1))))
    normalization = fit_normalization(ct)
    embedding = predictor.embed(ct, 2, index, normalization=normalization)
    return index, normalization, predictor.predict_prompts(embedding, prompts_from_mask(truth[:, :, index], "box"))


def test_liver_propagates_from_its_largest_slice_to_a_3d_mask(shared_predictor, ct, ct_labels):
    truth = ct_labels == LIVER
    index, normalization, start = _start_on_largest_slice(shared_predictor, ct, truth)
    seen: list[Progress] = []
    volume = run(
        propagate(shared_predictor, ct, 2, index, start.mask, normalization=normalization), seen.append
    )
    assert volume.shape == ct.spatial_shape
    assert dice(volume, truth) >= 0.87  # measured 0.914
    assert seen[0].done == 1 and all(p.total == ct.spatial_shape[2] for p in seen)
    reached = np.flatnonzero(volume.any(axis=(0, 1)))
    assert reached.min() < index < reached.max()


def test_propagation_stops_at_the_end_of_the_right_kidney(shared_predictor, ct, ct_labels):
    truth = ct_labels == 2
    index, normalization, start = _start_on_largest_slice(shared_predictor, ct, truth)
    volume = run(propagate(shared_predictor, ct, 2, index, start.mask, normalization=normalization))
    last_truth, last_reached = np.flatnonzero(truth.any(axis=(0, 1)))[-1], np.flatnonzero(volume.any(axis=(0, 1)))[-1]
    assert abs(int(last_reached) - int(last_truth)) <= 1  # measured: both 18 of 0..29
    assert dice(volume, truth) >= 0.80  # measured 0.838


def test_propagation_stops_where_the_overlap_is_too_small(shared_predictor, ct, ct_labels):
    truth = ct_labels == LIVER
    index, normalization, start = _start_on_largest_slice(shared_predictor, ct, truth)
    settings = PropagationSettings(min_overlap=1.01)  # no next slice can overlap this much: stop at once
    volume = run(propagate(shared_predictor, ct, 2, index, start.mask, normalization=normalization, settings=settings))
    assert np.flatnonzero(volume.any(axis=(0, 1))).tolist() == [index]
