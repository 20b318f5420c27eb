"""The reader places images by their geometry and keeps the core Image for export."""

import numpy as np
import pytest

from gfm_napari.ui.layers import IMAGE_KEY
from gfm_napari.ui.reader import get_reader


def test_foreign_files_get_no_reader(tmp_path):
    assert get_reader(str(tmp_path / "notes.txt")) is None


def test_a_broken_file_is_reported_in_one_line_and_opens_nothing(tmp_path, monkeypatch):
    import napari.utils.notifications as notifications

    errors = []
    monkeypatch.setattr(notifications, "show_error", errors.append)
    broken = tmp_path / "scan.nii.gz"
    broken.write_bytes(b"\x1f\x8b truncated")
    assert get_reader(str(broken))(str(broken)) == []
    assert len(errors) == 1 and errors[0].startswith("gfm-napari: ") and "scan.nii.gz" in errors[0]
    assert "\n" not in errors[0]


def test_ct_nifti_becomes_an_image_layer_with_its_affine_and_a_soft_tissue_window(shared_data):
    path = str(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz")
    (data, kwargs, kind), = get_reader(path)(path)
    image = kwargs["metadata"][IMAGE_KEY]
    assert kind == "image" and data.shape == (122, 101, 30)
    np.testing.assert_array_equal(kwargs["affine"], image.geometry.affine)
    assert kwargs["contrast_limits"] == (-160.0, 240.0)


def test_slicer_nrrd_becomes_an_image_layer_with_its_affine(shared_data):
    path = str(shared_data / "radiomics_nrrd_manual" / "lung1_image_crop.nrrd")
    (data, kwargs, kind), = get_reader(path)(path)
    image = kwargs["metadata"][IMAGE_KEY]
    assert kind == "image" and data.shape == (512, 512, 15) and image.metadata.format == "nrrd"
    np.testing.assert_array_equal(kwargs["affine"], image.geometry.affine)


def test_geotiff_is_placed_north_up_in_crs_units(shared_data):
    path = str(shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif")
    (data, kwargs, _), = get_reader(path)(path)
    assert kwargs["scale"] == pytest.approx((0.5, 0.5))
    assert kwargs["translate"] == pytest.approx((-3725139.0, 733601.0))


def test_dicom_folder_is_read_as_one_volume(shared_data):
    path = str(shared_data / "dicom_ct_series_totalseg" / "series")
    (data, kwargs, _), = get_reader(path)(path)
    assert data.shape == (20, 512, 512) and kwargs["affine"].shape == (4, 4)


@pytest.mark.gui
def test_the_ct_sample_opens_in_the_viewer_axially(make_napari_viewer):
    from gfm_napari.ui.app import show_axial

    viewer = make_napari_viewer()
    viewer.open_sample("gfm-napari", "ct_abdomen")
    show_axial(viewer)
    assert [layer.name for layer in viewer.layers] == ["CT abdomen", "CT abdomen reference labels"]
    assert viewer.dims.order[0] == 2 and viewer.dims.current_step[2] == 15
