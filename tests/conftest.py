"""Shared pytest fixtures (keep small and generic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The suite holds its figures to the float path; the automatic choice of 8 bits (gfm_napari.models.precision) and
# the 8-bit path have their own tests (tests/models/test_int8.py), which set this themselves.
os.environ.setdefault("GFM_NAPARI_PRECISION", "float")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample images in ``shared/data`` beside the repository root (see its MANIFEST.md)."""
    if not (SHARED_DATA / "MANIFEST.md").is_file():
        pytest.skip(f"sample data not found at {SHARED_DATA} (expected the 'shared' folder beside the repository)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def litemedsam():
    """The box-trained base model, loaded once for the whole run on the best device (the CPU on CI)."""
    from gfm_napari.models import load_model

    return load_model("litemedsam")


@pytest.fixture(scope="session")
def litemedsam_clicks():
    """The default model: the base plus the shipped click-trained prompt path."""
    from gfm_napari.models import load_model

    return load_model("litemedsam_clicks")


def _on_the_cpu(model, name: str):
    """``model`` when the CPU is the best device (as on CI), else the same model loaded on the CPU."""
    from gfm_napari.models import load_model

    return model if model.device.type == "cpu" else load_model(name, device="cpu")


@pytest.fixture(scope="session")
def litemedsam_cpu(litemedsam):
    """The base model on the CPU, where its encoder runs on ONNX Runtime."""
    return _on_the_cpu(litemedsam, "litemedsam")


@pytest.fixture(scope="session")
def litemedsam_clicks_cpu(litemedsam_clicks):
    """The default model on the CPU, where its encoder runs on ONNX Runtime."""
    return _on_the_cpu(litemedsam_clicks, "litemedsam_clicks")


@pytest.fixture(scope="session")
def litemedsam_clicks_plain():
    """The default model on the plain reference path (modules exactly as in the checkpoints, no fast path)."""
    from gfm_napari.models import load_model

    return load_model("litemedsam_clicks", fast=False)


@pytest.fixture(scope="session")
def shared_predictor(litemedsam):
    """One predictor whose embedding cache is shared by tests that only read from it."""
    from gfm_napari.engine.predictor import Predictor

    return Predictor(litemedsam)


@pytest.fixture(scope="session")
def ct(shared_data):
    """The real abdominal CT (HU, 122x101x30, 3 mm, RAS)."""
    from gfm_napari.images import read_image

    return read_image(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz")


@pytest.fixture(scope="session")
def ct_labels(shared_data, ct):
    """TotalSegmentator's labels for that CT on its grid (1 spleen, 3 left kidney, 5 liver, ...)."""
    from gfm_napari.images import read_image
    from gfm_napari.images.align import labels_on_grid

    return labels_on_grid(ct, read_image(shared_data / "ct_totalseg" / "example_seg.nii.gz"))


@pytest.fixture(scope="session")
def series(shared_data):
    """The real contrast CT DICOM series (20 x 512², never used to train the click decoder) and TotalSegmentator's
    labels on the series grid (1 spleen, 5 liver, 6 stomach, 52 aorta, 63 inferior vena cava, ...)."""
    from gfm_napari.images import read_image
    from gfm_napari.images.align import labels_on_grid

    image = read_image(shared_data / "dicom_ct_series_totalseg" / "series")
    labels = labels_on_grid(image, read_image(shared_data / "dicom_ct_series_totalseg" / "example_seg_dicom.nii.gz"))
    return image, labels


@pytest.fixture(scope="session")
def ct_liver_plane(ct_labels):
    """The axial liver cross-section with the largest area, as a bool (rows, cols) mask."""
    import numpy as np

    liver = ct_labels == 5
    return liver[:, :, int(np.argmax(liver.sum(axis=(0, 1))))]


@pytest.fixture(scope="session")
def satellite(shared_data):
    from gfm_napari.images import read_image

    return read_image(shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif")


@pytest.fixture(scope="session")
def satellite_labels(shared_data, satellite):
    from gfm_napari.images import read_image
    from gfm_napari.images.align import labels_on_grid

    return labels_on_grid(satellite, read_image(shared_data / "sat_spacenet_atlanta_buildings" / "buildings_instances_derived.tif"))
