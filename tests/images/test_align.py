"""labels_on_grid: a label map on the same voxel grid up to axis order / flips is re-indexed exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfm_napari.errors import GeometryError
from gfm_napari.images import Geometry, Image, read_image
from gfm_napari.images.align import labels_on_grid


def test_las_segmentation_lands_on_the_dicom_series_grid(ct_series, series_seg):
    labels = labels_on_grid(ct_series, series_seg)
    assert labels.shape == (20, 512, 512) and labels.dtype == np.uint8
    # the seg stores (col, 511 - row, slice)
    np.testing.assert_array_equal(labels, np.transpose(series_seg.array[:, ::-1, :], (2, 1, 0)))


def test_labels_on_the_same_grid_are_returned_unchanged(sample):
    ct, seg = read_image(sample("ct")), read_image(sample("ct_seg"))
    np.testing.assert_array_equal(labels_on_grid(ct, seg), seg.array)


def test_raster_labels_with_the_same_georeferencing_are_returned(sample):
    image, labels = read_image(sample("atlanta")), read_image(sample("atlanta_labels"))
    np.testing.assert_array_equal(labels_on_grid(image, labels), labels.array)


def test_raster_labels_with_another_transform_are_refused(sample):
    with pytest.raises(GeometryError):
        labels_on_grid(read_image(sample("vegas")), read_image(sample("atlanta_labels")))


def test_labels_with_another_voxel_size_are_refused():
    def volume(spacing: float) -> Image:
        affine = np.diag([spacing, spacing, spacing, 1.0])
        return Image(np.zeros((4, 4, 4), np.uint8), Geometry((spacing,) * 3, affine=affine), "MR", Path("x.nii"))

    with pytest.raises(GeometryError, match="not on the image's voxel grid"):
        labels_on_grid(volume(1.0), volume(0.5))
