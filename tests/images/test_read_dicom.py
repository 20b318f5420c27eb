"""DICOM reading: slice sorting, HU, LPS->RAS affine for (slice, row, col), gaps, several series, single files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pydicom
import pytest

from gfm_napari.errors import ImageReadError
from gfm_napari.images import ImageWarning, dicom, read_image

SERIES_AFFINE = np.array(
    [
        [0.0, 0.0, -0.9765625, 249.51171875],
        [0.0, -0.9765625, 0.0, 437.51171875],
        [2.0, 0.0, 0.0, -804.5],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


def test_series_reads_as_slice_row_col_int16_hu(ct_series):
    assert ct_series.array.shape == (20, 512, 512)
    assert ct_series.array.dtype == np.int16
    assert ct_series.axis_names == ("slice", "row", "col")
    assert ct_series.modality == "CT"
    assert ct_series.metadata.stored_dtype == "uint16"
    assert int(ct_series.array.min()) == -1024  # stored 0 + RescaleIntercept -1024


def test_series_spacing_affine_and_orientation(ct_series):
    assert ct_series.geometry.spacing == (2.0, 0.9765625, 0.9765625)
    np.testing.assert_array_equal(ct_series.geometry.affine, SERIES_AFFINE)
    assert ct_series.geometry.orientation == "SPL"  # LPS read in (col, row, slice) order
    assert ct_series.geometry.nifti_header is None


def test_series_slices_are_sorted_along_the_normal_from_inferior_to_superior(ct_series, series_files):
    positions = [float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]) for f in series_files]
    assert sorted(positions) == [-804.5 + 2.0 * k for k in range(20)]
    first_slice_z = ct_series.geometry.index_to_world([[0, 0, 0]])[0, 2]
    last_slice_z = ct_series.geometry.index_to_world([[19, 0, 0]])[0, 2]
    assert (first_slice_z, last_slice_z) == (-804.5, -766.5)


def test_first_slice_is_the_pixel_data_of_the_lowest_file(ct_series, series_files):
    lowest = min(series_files, key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]))
    ds = pydicom.dcmread(lowest)
    np.testing.assert_array_equal(ct_series.array[0], ds.pixel_array.astype(np.int32) - 1024)


def test_file_order_does_not_matter(ct_series, series_files):
    shuffled = [series_files[i] for i in np.random.default_rng(0).permutation(len(series_files))]
    image = read_image(shuffled)
    np.testing.assert_array_equal(image.array, ct_series.array)
    np.testing.assert_array_equal(image.geometry.affine, ct_series.geometry.affine)


def test_series_voxel_centres_match_the_las_segmentation_affine(ct_series, series_seg):
    # TotalSegmentator's NIfTI stores the same grid as (col, 511 - row, slice): y is flipped.
    rng = np.random.default_rng(1)
    ours = np.stack([rng.integers(0, n, 50) for n in (20, 512, 512)], axis=1)
    theirs = np.stack([ours[:, 2], 511 - ours[:, 1], ours[:, 0]], axis=1)
    np.testing.assert_allclose(
        ct_series.geometry.index_to_world(ours), series_seg.geometry.index_to_world(theirs), atol=1e-3
    )


def _labels_on_series_grid(ct_series, series_seg) -> np.ndarray:
    """Resample the segmentation onto the series grid through physical coordinates (nearest voxel)."""
    to_seg = np.linalg.inv(series_seg.geometry.affine) @ ct_series.geometry.affine
    index = np.indices(ct_series.spatial_shape).reshape(3, -1)
    seg_index = np.rint(to_seg[:3, :3] @ index + to_seg[:3, 3:]).astype(int)
    return series_seg.array[tuple(seg_index)].reshape(ct_series.spatial_shape)


def test_organ_mean_hu_matches_the_manifest(ct_series, series_seg, sample):
    labels = _labels_on_series_grid(ct_series, series_seg)
    names = json.loads((sample("series").parent / "labels.json").read_text())["labels_present"]
    ids = {name: int(key) for key, name in names.items()}
    means = {organ: float(ct_series.array[labels == ids[organ]].mean()) for organ in ("liver", "spleen", "aorta")}
    assert means["liver"] == pytest.approx(89, abs=1)
    assert means["spleen"] == pytest.approx(80, abs=1)
    assert means["aorta"] == pytest.approx(177, abs=1)


def test_non_dicom_files_in_the_folder_are_skipped(series_files, tmp_path):
    for f in series_files[:3]:
        (tmp_path / f.name).symlink_to(f)
    (tmp_path / "README.txt").write_text("notes")
    (tmp_path / "empty").write_bytes(b"")
    image = read_image(tmp_path)
    assert image.array.shape == (3, 512, 512)


def test_missing_slice_warns_naming_the_gap(series_files, tmp_path):
    for f in series_files:
        z = float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2])
        if z != -784.5:  # sorted index 10
            (tmp_path / f.name).symlink_to(f)
    with pytest.warns(ImageWarning, match=r"4 mm between slices 9 and 10 \(positions -786.5 and -782.5 mm"):
        image = read_image(tmp_path)
    assert image.array.shape == (19, 512, 512)
    assert len(image.metadata.warnings) == 1
    assert "about 1 missing slice" in image.metadata.warnings[0]
    assert image.geometry.spacing[0] == 2.0  # the median step, not the gap


def test_regular_series_has_no_warnings(ct_series):
    assert ct_series.metadata.warnings == ()


def _two_series(series_files, tmp_path) -> str:
    """Link half of the files and save the other half with a new SeriesInstanceUID; return that UID."""
    uid = "1.2.826.0.1.3680043.99.1"
    for k, f in enumerate(series_files):
        if k < 10:
            (tmp_path / f.name).symlink_to(f)
        else:
            ds = pydicom.dcmread(f)
            ds.SeriesInstanceUID = uid
            ds.SeriesDescription = "copy"
            ds.save_as(tmp_path / f"copy{k}.dcm")
    return uid


def test_two_series_in_one_folder_are_listed_in_the_error(series_files, tmp_path):
    uid = _two_series(series_files, tmp_path)
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path)
    message = str(info.value)
    assert "found 2 DICOM series" in message
    assert f"{uid} 'copy' (10 slices)" in message
    assert "<no SeriesInstanceUID> 'CT Body 3.0' (10 slices)" in message
    assert "series_uid=" in message and "\n" not in message


def test_series_uid_option_picks_one_series(series_files, tmp_path):
    uid = _two_series(series_files, tmp_path)
    image = read_image(tmp_path, series_uid=uid)
    assert image.array.shape == (10, 512, 512)
    assert image.metadata.series_uid == uid


def test_unknown_series_uid_is_refused(series_files, tmp_path):
    _two_series(series_files, tmp_path)
    with pytest.raises(ImageReadError, match="series_uid '9.9' not found"):
        read_image(tmp_path, series_uid="9.9")


def test_duplicate_positions_are_refused(series_files, tmp_path):
    shutil.copy(series_files[0], tmp_path / "a.dcm")
    shutil.copy(series_files[0], tmp_path / "b.dcm")
    with pytest.raises(ImageReadError, match="already-used position"):
        read_image(tmp_path)


def test_folder_without_dicom_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageReadError, match="no DICOM images found"):
        read_image(tmp_path)


def test_folder_of_another_format_names_the_file_to_open(tmp_path):
    (tmp_path / "scene.tif").write_bytes(b"not read")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageReadError, match=r"no DICOM images found in folder '.*'; it holds scene.tif: open that "
                                             r"file instead$"):
        read_image(tmp_path)


def test_single_ct_file_is_a_2d_image_in_hu(sample):
    image = read_image(sample("ct_small"))
    assert image.array.shape == (128, 128) and image.array.dtype == np.int16
    assert image.spatial_ndim == 2 and image.axis_names == ("row", "col")
    assert image.modality == "CT"
    assert image.geometry.spacing == (0.661468, 0.661468)
    assert image.geometry.orientation == "PL"
    raw = pydicom.dcmread(sample("ct_small")).pixel_array
    np.testing.assert_array_equal(image.array, raw.astype(np.int32) - 1024)


def test_single_file_affine_uses_position_and_thickness(sample):
    affine = read_image(sample("ct_small")).geometry.affine
    np.testing.assert_allclose(affine[:3, 3], [158.135803, 179.035797, -75.699997])
    np.testing.assert_allclose(affine[:3, :3], np.diag([-0.661468, -0.661468, 5.0])[:, [1, 0, 2]])


def test_single_mr_file(sample):
    image = read_image(sample("mr_small"))
    assert image.array.shape == (64, 64) and image.array.dtype == np.int16
    assert image.modality == "MR"
    assert image.geometry.spacing == (0.3125, 0.3125)


def test_no_patient_identifier_is_kept(sample):
    ds = pydicom.dcmread(sample("ct_small"))
    image = read_image(sample("ct_small"))
    text = json.dumps(image.to_dict()) + repr(image.metadata)
    for value in (str(ds.PatientName), str(ds.PatientID)):
        assert value not in text
    assert "patient" not in text.lower()


def test_non_dicom_file_given_explicitly_is_refused(tmp_path):
    path = tmp_path / "x.dcm"
    path.write_text("not dicom")
    with pytest.raises(ImageReadError, match="cannot read 'x.dcm' as DICOM"):
        dicom.read(path)
