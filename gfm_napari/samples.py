"""Small real sample images shipped in ``resources/samples`` (read with importlib.resources)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import ImageReadError

SAMPLES = {
    "ct": "ct_abdomen.nii.gz",
    "ct_labels": "ct_abdomen_seg.nii.gz",
    "satellite": "atlanta_buildings.tif",
    "satellite_labels": "atlanta_buildings_labels.tif",
}


def sample_path(name: str) -> Path:
    """Path of the packaged sample ``name`` (one of :data:`SAMPLES`)."""
    if name not in SAMPLES:
        raise ImageReadError(f"unknown sample {name!r}; known: {', '.join(SAMPLES)}")
    return Path(str(files("gfm_napari") / "resources" / "samples" / SAMPLES[name]))
