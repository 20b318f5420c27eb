"""write_mask: exact geometry round trips for every sample, dtype choice, refusals, atomic writes."""

from __future__ import annotations

import os
import shutil
import stat

import nibabel as nib
import numpy as np
import pytest
import rasterio

from gfm_napari.errors import ExportError, GeometryError
from gfm_napari.images import Image, read_image, write_mask
from gfm_napari.images.align import labels_on_grid
from gfm_napari.images.atomic import atomic_write_text

NIFTI_GEOMETRY_FIELDS = (
    "dim", "pixdim", "sform_code", "qform_code", "srow_x", "srow_y", "srow_z",
    "quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z", "xyzt_units",
)  # fmt: skip


def _simple_mask(image: Image) -> np.ndarray:
    """A deterministic two-label mask from the image itself (for samples without labels)."""
    first = np.asarray(image.array if image.channel_axis is None else image.array[..., 0])
    threshold = np.median(first)
    return (first > threshold).astype(np.uint8) + (first > np.percentile(first, 90)).astype(np.uint8)


# (source sample, labels sample or None, output suffix)
NIFTI_CASES = [
    ("ct", "ct_seg", ".nii.gz"),
    ("ct_seg", "ct_seg", ".nii.gz"),
    ("mr", "mr_seg", ".nii.gz"),
    ("mr_seg", "mr_seg", ".nii.gz"),
    ("series_seg", "series_seg", ".nii.gz"),
    ("mni_t1", "mni_gm_mask", ".nii"),
    ("mni_gm", "mni_gm_mask", ".nii"),
    ("mni_wm", "mni_wm_mask", ".nii"),
    ("mni_gm_mask", "mni_gm_mask", ".nii"),
    ("mni_wm_mask", "mni_wm_mask", ".nii"),
]


@pytest.mark.parametrize(("name", "labels", "suffix"), NIFTI_CASES)
def test_nifti_round_trip_keeps_header_geometry_bit_for_bit(sample, tmp_path, name, labels, suffix):
    source = read_image(sample(name))
    mask = read_image(sample(labels)).array
    out = write_mask(tmp_path / f"mask{suffix}", mask, source)
    written, original = nib.load(out), nib.load(sample(name))
    for field in NIFTI_GEOMETRY_FIELDS:
        np.testing.assert_array_equal(written.header[field], original.header[field], err_msg=field)
    np.testing.assert_array_equal(written.affine, original.affine)
    assert written.header.get_data_dtype() == np.uint8
    again = read_image(out)
    np.testing.assert_array_equal(again.array, mask)
    assert again.geometry.orientation == source.geometry.orientation
    assert again.geometry.spacing == source.geometry.spacing


def test_dicom_series_mask_as_nifti_keeps_shape_and_affine(ct_series, series_seg, tmp_path):
    labels = labels_on_grid(ct_series, series_seg)
    out = write_mask(tmp_path / "liver.nii.gz", labels, ct_series)
    written = nib.load(out)
    assert written.shape == (20, 512, 512)
    assert (int(written.header["sform_code"]), int(written.header["qform_code"])) == (1, 1)
    np.testing.assert_allclose(written.affine, ct_series.geometry.affine, atol=1e-4)  # NIfTI stores float32
    np.testing.assert_array_equal(np.asanyarray(written.dataobj), labels)
    assert read_image(out).geometry.orientation == "SPL"


@pytest.mark.parametrize(("name", "suffix"), [("ct_small", ".nii.gz"), ("mr_small", ".nii"), ("ct_small", ".png")])
def test_single_dicom_slice_round_trip(sample, tmp_path, name, suffix):
    source = read_image(sample(name))
    mask = _simple_mask(source)
    out = write_mask(tmp_path / f"mask{suffix}", mask, source)
    again = read_image(out)
    np.testing.assert_array_equal(again.array, mask)
    if suffix != ".png":
        np.testing.assert_allclose(again.geometry.affine, source.geometry.affine, atol=1e-4)
        assert again.geometry.orientation == "PL"


# (source sample, labels sample or None)
GEOTIFF_CASES = [
    ("atlanta", "atlanta_labels"),
    ("atlanta_labels", "atlanta_labels"),
    ("vegas", "vegas_labels"),
    ("vegas_labels", "vegas_labels"),
    ("rgb_byte", None),
]


@pytest.mark.parametrize(("name", "labels"), GEOTIFF_CASES)
def test_geotiff_round_trip_keeps_crs_transform_and_size(sample, tmp_path, name, labels):
    source = read_image(sample(name))
    mask = _simple_mask(source) if labels is None else read_image(sample(labels)).array
    out = write_mask(tmp_path / "mask.tif", mask, source)
    with rasterio.open(out) as written, rasterio.open(sample(name)) as original:
        assert written.crs.to_wkt() == original.crs.to_wkt()
        assert written.transform == original.transform
        assert (written.width, written.height, written.count) == (original.width, original.height, 1)
        assert written.dtypes == ("uint8",)
        assert written.nodata is None
        assert written.profile["compress"] == "deflate"
        assert written.tags()["AREA_OR_POINT"] == "Area"
        np.testing.assert_array_equal(written.read(1), mask)


def test_png_round_trip_of_a_photo(sample, tmp_path):
    source = read_image(sample("quicklook"))
    mask = _simple_mask(source)
    out = write_mask(tmp_path / "mask.png", mask, source)
    np.testing.assert_array_equal(read_image(out).array, mask)


def test_photo_mask_as_tiff_has_no_georeferencing(sample, tmp_path):
    source = read_image(sample("quicklook"))
    out = write_mask(tmp_path / "mask.tiff", _simple_mask(source), source)
    assert read_image(out).geometry.crs is None


@pytest.mark.parametrize("suffix", [".nii.gz", ".tif", ".png"])
def test_labels_above_255_are_written_as_uint16(sample, tmp_path, suffix):
    source = read_image(sample("ct_small" if suffix != ".tif" else "atlanta"))
    mask = np.zeros(source.spatial_shape, np.int32)
    mask[:5, :5] = 300
    mask[5:9, :5] = 7
    out = write_mask(tmp_path / f"big{suffix}", mask, source)
    again = read_image(out).array
    assert again.dtype == np.uint16
    np.testing.assert_array_equal(again, mask)


def test_bool_mask_is_written_as_uint8(sample, tmp_path):
    source = read_image(sample("mr"))
    mask = source.array > 100
    again = read_image(write_mask(tmp_path / "m.nii.gz", mask, source))
    assert again.array.dtype == np.uint8
    np.testing.assert_array_equal(again.array, mask.astype(np.uint8))


def test_scaling_fields_are_reset_for_the_mask(sample, tmp_path):
    written = nib.load(write_mask(tmp_path / "m.nii.gz", read_image(sample("ct_seg")).array, read_image(sample("ct"))))
    assert np.isnan(written.header["scl_slope"]) and np.isnan(written.header["scl_inter"])


def test_shape_mismatch_is_a_geometry_error(sample, tmp_path):
    source = read_image(sample("ct"))
    with pytest.raises(GeometryError, match=r"mask shape \(30, 101, 122\) does not match .* \(122, 101, 30\)"):
        write_mask(tmp_path / "m.nii.gz", np.zeros((30, 101, 122), np.uint8), source)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["ct", "atlanta", "quicklook"])
def test_output_equal_to_input_is_refused(sample, tmp_path, name):
    copy = tmp_path / sample(name).name
    shutil.copy(sample(name), copy)
    before = copy.read_bytes()
    source = read_image(copy)
    with pytest.raises(ExportError, match="refusing to overwrite the input image"):
        write_mask(copy, np.zeros(source.spatial_shape, np.uint8), source)
    assert copy.read_bytes() == before


def test_unsupported_output_suffix_is_refused(sample, tmp_path):
    source = read_image(sample("quicklook"))
    with pytest.raises(ExportError, match=r"cannot write a mask as '\.jpg'"):
        write_mask(tmp_path / "m.jpg", np.zeros(source.spatial_shape, np.uint8), source)


def test_nifti_mask_for_a_raster_is_refused(sample, tmp_path):
    source = read_image(sample("atlanta"))
    with pytest.raises(ExportError, match="NIfTI export needs a medical image"):
        write_mask(tmp_path / "m.nii.gz", np.zeros(source.spatial_shape, np.uint8), source)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_2d_formats_refuse_a_3d_mask(sample, tmp_path, suffix):
    source = read_image(sample("mr"))
    with pytest.raises(ExportError, match="needs a 2D image"):
        write_mask(tmp_path / f"m{suffix}", np.zeros(source.spatial_shape, np.uint8), source)


@pytest.mark.parametrize(
    ("values", "message"), [(-1, "labels must be >= 0"), (0.5, "whole-number labels"), (70000, "<= 65535")]
)
def test_invalid_label_values_are_refused(sample, tmp_path, values, message):
    source = read_image(sample("ct_small"))
    mask = np.zeros(source.spatial_shape, np.float64 if isinstance(values, float) else np.int64)
    mask[0, 0] = values
    with pytest.raises(ExportError, match=message):
        write_mask(tmp_path / "m.png", mask, source)


def test_missing_output_folder_is_refused(sample, tmp_path):
    source = read_image(sample("ct_small"))
    with pytest.raises(ExportError, match="output folder does not exist"):
        write_mask(tmp_path / "nope" / "m.png", np.zeros(source.spatial_shape, np.uint8), source)


def _fail_midway(real):
    """Wrap a writer: let it write the file, then fail as if the disk were full."""

    def wrapper(*args, **kwargs):
        real(*args, **kwargs)
        raise OSError(28, "No space left on device")

    return wrapper


def test_failing_nifti_write_leaves_no_file(sample, tmp_path, monkeypatch):
    source = read_image(sample("mr"))
    monkeypatch.setattr(nib, "save", _fail_midway(nib.save))
    with pytest.raises(ExportError, match="cannot write 'm.nii.gz': .*No space left"):
        write_mask(tmp_path / "m.nii.gz", np.zeros(source.spatial_shape, np.uint8), source)
    assert list(tmp_path.iterdir()) == []


def test_failing_write_keeps_the_previous_file(sample, tmp_path, monkeypatch):
    source = read_image(sample("mr"))
    previous = write_mask(tmp_path / "m.nii.gz", np.ones(source.spatial_shape, np.uint8), source)
    before = previous.read_bytes()
    monkeypatch.setattr(nib, "save", _fail_midway(nib.save))
    with pytest.raises(ExportError):
        write_mask(previous, np.zeros(source.spatial_shape, np.uint8), source)
    assert previous.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.nii.gz"]


def test_failing_geotiff_write_leaves_no_file(sample, tmp_path, monkeypatch):
    source = read_image(sample("atlanta"))
    real_write = rasterio.io.DatasetWriter.write

    def broken_write(self, *args, **kwargs):
        real_write(self, *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rasterio.io.DatasetWriter, "write", broken_write)
    with pytest.raises(ExportError, match="cannot write 'm.tif'"):
        write_mask(tmp_path / "m.tif", np.zeros(source.spatial_shape, np.uint8), source)
    assert list(tmp_path.iterdir()) == []


def test_failing_png_write_leaves_no_file(sample, tmp_path, monkeypatch):
    from PIL import Image as PILImage

    source = read_image(sample("quicklook"))
    monkeypatch.setattr(PILImage.Image, "save", _fail_midway(PILImage.Image.save))
    with pytest.raises(ExportError, match="cannot write 'm.png'"):
        write_mask(tmp_path / "m.png", np.zeros(source.spatial_shape, np.uint8), source)
    assert list(tmp_path.iterdir()) == []


def test_written_file_has_ordinary_permissions(sample, tmp_path):
    source = read_image(sample("ct_small"))
    out = write_mask(tmp_path / "m.png", np.zeros(source.spatial_shape, np.uint8), source)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_atomic_write_text_replaces_the_file(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")
    assert atomic_write_text(path, '{"ok": true}\n') == path
    assert path.read_text() == '{"ok": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
