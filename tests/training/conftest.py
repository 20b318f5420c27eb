"""Training objects from one real CT plane, shared by the training tests."""

import copy

import numpy as np
import pytest

from gfm_napari.images import fit_normalization
from gfm_napari.training.objects import labelled_objects


@pytest.fixture(scope="session")
def ct_objects(shared_predictor, ct, ct_labels):
    """Every labelled component on the CT's first labelled axial slice, as training objects (one embedding)."""
    objects = list(labelled_objects(shared_predictor, ct, ct_labels, normalization=fit_normalization(ct),
                                    domain="CT", axes=[2], planes_per_axis=1))
    assert objects
    return objects


@pytest.fixture
def fresh_segmenter(litemedsam):
    """A private copy of the model's segmenter that a test may train."""
    return copy.deepcopy(litemedsam.segmenter)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
