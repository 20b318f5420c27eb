"""Fixtures for the images tests: paths into shared/data and images that are slow to read (read once)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gfm_napari.images import Image, read_image

SAMPLES = {
    "ct": "ct_totalseg/example_ct_sm.nii.gz",
    "ct_seg": "ct_totalseg/example_seg.nii.gz",
    "mr": "mr_totalseg/example_mr_sm.nii.gz",
    "mr_seg": "mr_totalseg/example_seg_mr.nii.gz",
    "series": "dicom_ct_series_totalseg/series",
    "series_seg": "dicom_ct_series_totalseg/example_seg_dicom.nii.gz",
    "ct_small": "dicom_single_pydicom/CT_small.dcm",
    "mr_small": "dicom_single_pydicom/MR_small.dcm",
    "mni_t1": "mri_brain_mni152/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "mni_gm": "mri_brain_mni152/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "mni_wm": "mri_brain_mni152/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
    "mni_gm_mask": "mri_brain_mni152/mni152_gm_mask_derived.nii.gz",
    "mni_wm_mask": "mri_brain_mni152/mni152_wm_mask_derived.nii.gz",
    "atlanta": "sat_spacenet_atlanta_buildings/sample_geotiff.tif",
    "atlanta_labels": "sat_spacenet_atlanta_buildings/buildings_instances_derived.tif",
    "vegas": "sat_spacenet_vegas_roads/road_mask_input.tif",
    "vegas_labels": "sat_spacenet_vegas_roads/sample_road_raster_mask.tif",
    "rgb_byte": "sat_landsat_rgb_rasterio/RGB.byte.tif",
    "quicklook": "quicklook.png",
    "lung1": "radiomics_nrrd_manual/lung1_image_crop.nrrd",
    "lung1_label": "radiomics_nrrd_manual/lung1_label_crop.nrrd",
    "brain1": "radiomics_nrrd_manual/brain1_image.nrrd",
    "breast1": "radiomics_nrrd_manual/breast1_image.nrrd",
}
"""Short names of the samples in shared/data (see its MANIFEST.md) -> path relative to shared/data."""


@pytest.fixture(scope="session")
def sample(shared_data: Path) -> Callable[[str], Path]:
    """``sample("ct")`` -> absolute path of that sample (names in :data:`SAMPLES`)."""
    return lambda name: shared_data / SAMPLES[name]


@pytest.fixture(scope="session")
def series_dir(sample: Callable[[str], Path]) -> Path:
    """The 20-file JPEG 2000 CT series folder."""
    return sample("series")


@pytest.fixture(scope="session")
def series_files(series_dir: Path) -> list[Path]:
    """The series' files in name order."""
    return sorted(series_dir.iterdir())


@pytest.fixture(scope="session")
def ct_series(series_dir: Path) -> Image:
    """The DICOM CT series, read once per session (decoding JPEG 2000 takes ~1 s)."""
    return read_image(series_dir)


@pytest.fixture(scope="session")
def series_seg(sample: Callable[[str], Path]) -> Image:
    """TotalSegmentator's label map of the DICOM series (LAS NIfTI on the same physical grid)."""
    return read_image(sample("series_seg"))


@pytest.fixture(scope="session")
def lung1(sample: Callable[[str], Path]) -> Image:
    """The lung CT saved by 3D Slicer (NRRD, 512x512x15 LPS, HU), read once."""
    return read_image(sample("lung1"))


@pytest.fixture(scope="session")
def lung1_tumour(sample: Callable[[str], Path], lung1: Image):
    """The tumour drawn in Slicer on that CT, on its grid (int16 label map, 0 / 1)."""
    from gfm_napari.images.align import labels_on_grid

    return labels_on_grid(lung1, read_image(sample("lung1_label")))
