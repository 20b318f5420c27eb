"""NIfTI reading: stored axis order, nibabel's affine, raw header kept, dtype kept, clear errors."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from gfm_napari.errors import ImageReadError
from gfm_napari.images import nifti, read_image


@pytest.mark.parametrize(
    ("name", "shape", "dtype", "spacing", "orientation", "modality"),
    [
        ("ct", (122, 101, 30), np.int16, (3.0, 3.0, 3.0), "RAS", "CT"),
        ("ct_seg", (122, 101, 30), np.uint8, (3.0, 3.0, 3.0), "RAS", "MR"),
        ("mr", (117, 91, 20), np.int16, (3.0, 3.0, 3.0), "LPS", "MR"),
        ("mr_seg", (117, 91, 20), np.uint8, (3.0, 3.0, 3.0), "LPS", "MR"),
        ("series_seg", (512, 512, 20), np.uint8, (0.9765625, 0.9765625, 2.0), "LAS", "MR"),
        ("mni_t1", (197, 233, 189), np.uint8, (1.0, 1.0, 1.0), "RAS", "MR"),
        ("mni_gm_mask", (197, 233, 189), np.uint8, (1.0, 1.0, 1.0), "RAS", "MR"),
    ],
)
def test_sample_reads_with_manifest_shape_dtype_spacing_orientation(
    sample, name, shape, dtype, spacing, orientation, modality
):
    image = read_image(sample(name))
    assert image.array.shape == shape
    assert image.array.dtype == dtype
    assert image.geometry.spacing == spacing
    assert image.geometry.orientation == orientation
    assert image.modality == modality
    assert image.axis_names == ("i", "j", "k")
    assert image.spatial_shape == shape and image.spatial_ndim == 3 and image.channel_axis is None


def test_affine_and_data_are_nibabels_without_reorientation(sample):
    reference = nib.load(sample("mr"))
    image = read_image(sample("mr"))
    np.testing.assert_array_equal(image.geometry.affine, reference.affine)
    np.testing.assert_array_equal(image.array, np.asanyarray(reference.dataobj))


def test_raw_header_bytes_are_kept(sample):
    image = read_image(sample("ct"))
    assert image.geometry.nifti_header == nib.load(sample("ct")).header.binaryblock
    assert len(image.geometry.nifti_header) == 348
    assert image.metadata.format == "nifti1" and image.metadata.stored_dtype == "int16"


def test_ct_values_are_hounsfield_units(sample):
    image = read_image(sample("ct"))
    assert (int(image.array.min()), int(image.array.max())) == (-1100, 1207)


def test_2d_nifti_gives_a_2d_image(sample, tmp_path):
    ct = nib.load(sample("ct"))
    path = tmp_path / "plane.nii.gz"
    nib.save(nib.Nifti1Image(np.asanyarray(ct.dataobj)[:, :, 10], ct.affine), path)
    image = read_image(path)
    assert image.array.shape == (122, 101)
    assert image.spatial_ndim == 2 and image.axis_names == ("i", "j")
    assert image.geometry.orientation == "RA"
    assert image.geometry.spacing == (3.0, 3.0)


def test_3d_file_with_singleton_last_axis_stays_3d(tmp_path):
    path = tmp_path / "thin.nii"
    nib.save(nib.Nifti1Image(np.arange(12, dtype=np.int16).reshape(3, 4, 1), np.eye(4)), path)
    assert read_image(path).array.shape == (3, 4, 1)


def _write_4d(path, frames: int) -> np.ndarray:
    data = np.arange(2 * 3 * 4 * frames, dtype=np.int16).reshape(2, 3, 4, frames)
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    return data


def test_4d_nifti_without_volume_is_refused_naming_its_shape(tmp_path):
    path = tmp_path / "fmri.nii.gz"
    _write_4d(path, 5)
    with pytest.raises(ImageReadError, match=r"4D with shape \(2, 3, 4, 5\).*volume=0\.\.4"):
        read_image(path)


def test_4d_nifti_volume_option_picks_that_volume(tmp_path):
    path = tmp_path / "fmri.nii.gz"
    data = _write_4d(path, 5)
    image = read_image(path, volume=3)
    np.testing.assert_array_equal(image.array, data[..., 3])
    assert image.geometry.spacing == (2.0, 2.0, 2.0)


def test_4d_nifti_volume_out_of_range_is_refused(tmp_path):
    path = tmp_path / "fmri.nii.gz"
    _write_4d(path, 5)
    with pytest.raises(ImageReadError, match="volume=5 is out of range"):
        read_image(path, volume=5)


def test_4d_nifti_with_one_volume_reads_as_3d(tmp_path):
    path = tmp_path / "one.nii.gz"
    data = _write_4d(path, 1)
    np.testing.assert_array_equal(read_image(path).array, data[..., 0])


def test_integer_scaling_keeps_an_integer_dtype(tmp_path):
    path = tmp_path / "scaled.nii"
    image = nib.Nifti1Image(np.array([[[0, 1], [2, 3]]], dtype=np.int16), np.eye(4))
    image.header.set_slope_inter(2.0, -1024.0)
    nib.save(image, path)
    array = read_image(path).array
    assert array.dtype == np.int16
    np.testing.assert_array_equal(array, [[[-1024, -1022], [-1020, -1018]]])


def test_fractional_scaling_gives_float32(tmp_path):
    path = tmp_path / "scaled.nii"
    image = nib.Nifti1Image(np.array([[[0, 1], [2, 3]]], dtype=np.int16), np.eye(4))
    image.header.set_slope_inter(0.5, 1.0)
    nib.save(image, path)
    array = read_image(path).array
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, [[[1.0, 1.5], [2.0, 2.5]]])


def test_big_endian_file_gives_native_byte_order(tmp_path):
    path = tmp_path / "big.nii"
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    image = nib.Nifti1Image(data, np.eye(4))
    big = nib.Nifti1Image(data.astype(">i2"), np.eye(4), header=image.header.as_byteswapped(">"))
    nib.save(big, path)
    array = read_image(path).array
    assert array.dtype.isnative and array.dtype == np.int16
    np.testing.assert_array_equal(array, data)


def test_image_containing_nan_is_refused(tmp_path):
    path = tmp_path / "nan.nii.gz"
    data = np.ones((4, 4, 4), np.float32)
    data[1, 2, 3] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    with pytest.raises(ImageReadError, match="1 NaN values"):
        read_image(path)


def test_all_nan_image_is_refused(tmp_path):
    path = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(np.full((4, 4, 4), np.nan, np.float32), np.eye(4)), path)
    with pytest.raises(ImageReadError, match="only NaN"):
        read_image(path)


def test_garbage_file_is_refused(tmp_path):
    path = tmp_path / "broken.nii.gz"
    path.write_bytes(b"not a nifti file" * 50)
    with pytest.raises(ImageReadError, match="cannot read 'broken.nii.gz' as NIfTI"):
        nifti.read(path)


def test_modality_guess_is_ct_only_for_integer_hu_range():
    assert nifti.guess_modality(np.array([-1024, 0, 3000], np.int16)) == "CT"
    assert nifti.guess_modality(np.array([-1024.0, 0.0, 40.0], np.float32)) == "CT"
    assert nifti.guess_modality(np.array([-1024.5, 0.0, 40.0], np.float32)) == "MR"
    assert nifti.guess_modality(np.array([-47, 0, 833], np.int16)) == "MR"
    assert nifti.guess_modality(np.array([0, 255], np.uint8)) == "MR"


def test_an_uncompressed_volume_stays_memory_mapped_and_slices_are_views(shared_data, tmp_path):
    import nibabel as nib

    from gfm_napari.images import Plane, read_image

    source = nib.load(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz")
    path = tmp_path / "ct.nii"
    nib.save(nib.Nifti1Image(np.asarray(source.dataobj), source.affine, source.header), path)
    image = read_image(path)
    base = image.array
    while base.base is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)  # pages are read when used, not at open
    plane = Plane(2, 7).take(image.array)
    assert np.shares_memory(plane, image.array) and np.array_equal(plane, np.take(image.array, 7, axis=2))
    # masks and labels share the file's (Fortran) layout: writing one axial slice touches that slice's pages only
    assert image.zeros(np.uint16).flags.f_contiguous and image.zeros(bool).shape == image.spatial_shape
