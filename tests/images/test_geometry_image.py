"""Geometry and Image values: validation, read-only pixels, JSON summaries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gfm_napari.errors import GeometryError
from gfm_napari.images import Geometry, Image, read_image


def test_image_pixels_are_read_only(sample):
    image = read_image(sample("ct"))
    with pytest.raises(ValueError):
        image.array[0, 0, 0] = 1


def test_geometry_refuses_bad_spacing_and_affine():
    with pytest.raises(GeometryError):
        Geometry(spacing=(1.0, 0.0))
    with pytest.raises(GeometryError):
        Geometry(spacing=(1.0, 1.0, 1.0), affine=np.zeros((4, 4)))
    with pytest.raises(GeometryError):
        Geometry(spacing=(1.0, 1.0, 1.0), affine=np.eye(3))


def test_image_refuses_geometry_of_another_dimensionality():
    with pytest.raises(GeometryError, match="geometry has 3 spatial axes but the image has 2"):
        Image(array=np.zeros((4, 4)), geometry=Geometry(spacing=(1.0, 1.0, 1.0)), modality="MR", source=Path("x"))


def test_geometry_summary_reports_nifti_codes(sample):
    summary = json.loads(json.dumps(read_image(sample("mr")).geometry.to_dict()))
    assert summary["orientation"] == "LPS"
    assert summary["nifti"] == {"version": 1, "sform_code": 2, "qform_code": 0, "zooms": [3.0, 3.0, 3.0]}
    assert summary["crs"] is None


def test_geometry_summary_reports_crs_and_transform(sample):
    summary = json.loads(json.dumps(read_image(sample("atlanta")).geometry.to_dict()))
    assert summary["transform"] == [0.5, 0.0, 733601.0, 0.0, -0.5, 3725139.0]
    assert "UTM zone 16N" in summary["crs"] and summary["nodata"] == 0.0
    assert summary["affine"] is None and summary["orientation"] is None


def test_photo_has_no_world_coordinates(sample):
    with pytest.raises(GeometryError, match="no world coordinates"):
        read_image(sample("quicklook")).geometry.index_to_world([[0, 0]])
