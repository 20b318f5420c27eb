"""DICOM-SEG export referencing the source series, read back onto its grid; enhanced multi-frame input.

The enhanced multi-frame file is the real CT series converted with highdicom's Legacy Converted Enhanced CT
(written to tmp_path at run time): the same pixels and positions as one file with 20 frames.
"""

import json

import nibabel as nib
import numpy as np
import pydicom
import pytest

from gfm_napari.errors import ExportError
from gfm_napari.images import read_image, write_mask
from gfm_napari.images.align import labels_on_grid
from gfm_napari.images.dicom_seg import FROM_SOURCE, read_dicom_seg

OPTIONAL_SOURCE_TAGS = ("InstitutionName", "PatientAge", "PatientWeight", "PhysiciansOfRecord", "StudyDescription",
                        "OperatorsName", "PerformingPhysicianName", "StationName", "DeviceSerialNumber")


@pytest.fixture(scope="module")
def series_labels(ct_series, series_seg):
    return labels_on_grid(ct_series, series_seg)


@pytest.fixture(scope="module")
def names(sample):
    table = json.loads((sample("series").parent / "labels.json").read_text())["labels_present"]
    return {int(k): v for k, v in table.items()}


@pytest.fixture(scope="module")
def enhanced(series_files, tmp_path_factory):
    import highdicom as hd

    datasets = []
    for f in series_files:
        ds = pydicom.dcmread(f)
        ds.decompress()
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID  # the de-identified files keep it only there
        datasets.append(ds)
    converted = hd.legacy.LegacyConvertedEnhancedCTImage(
        datasets, series_instance_uid=hd.UID(), series_number=99, sop_instance_uid=hd.UID(), instance_number=1
    )
    path = tmp_path_factory.mktemp("enhanced") / "enhanced_ct.dcm"
    converted.save_as(path)
    return path


@pytest.fixture(scope="module")
def seg_path(ct_series, series_labels, names, tmp_path_factory):
    return write_mask(tmp_path_factory.mktemp("seg") / "seg.dcm", series_labels, ct_series, names)


def test_seg_reads_back_equal_to_the_nifti_export(ct_series, series_labels, seg_path, tmp_path):
    nifti = write_mask(tmp_path / "labels.nii.gz", series_labels, ct_series)
    back, _ = read_dicom_seg(seg_path, ct_series)
    np.testing.assert_array_equal(back, np.asarray(nib.load(nifti).dataobj))
    np.testing.assert_array_equal(back, series_labels)


def test_seg_frames_lie_on_the_source_slices(ct_series, series_labels, seg_path):
    seg = pydicom.dcmread(seg_path)
    positions = {tuple(round(float(v), 4) for v in pydicom.dcmread(path, stop_before_pixels=True).ImagePositionPatient)
                 for path, _ in ct_series.metadata.frames}
    frames = seg.PerFrameFunctionalGroupsSequence
    assert {tuple(round(float(v), 4) for v in f.PlanePositionSequence[0].ImagePositionPatient) for f in frames} <= positions
    referenced = {item.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert len(referenced) == 20
    shared = seg.SharedFunctionalGroupsSequence[0]
    np.testing.assert_allclose([float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing], ct_series.geometry.spacing[1:])
    assert len(frames) == sum(int((series_labels[k] == i).any()) for i in np.unique(series_labels)[1:] for k in range(20))


def test_segments_are_named_after_the_objects(seg_path, names, series_labels):
    seg = pydicom.dcmread(seg_path, stop_before_pixels=True)
    labels = [s.SegmentLabel for s in seg.SegmentSequence]
    assert labels == [names[i] for i in np.unique(series_labels)[1:]]
    assert seg.SegmentSequence[0].TrackingID == "label 1"


def test_only_required_source_tags_reach_the_seg(seg_path, series_files):
    seg = pydicom.dcmread(seg_path, stop_before_pixels=True)
    source = pydicom.dcmread(series_files[0], stop_before_pixels=True)
    assert seg.PatientID == source.PatientID and seg.FrameOfReferenceUID == source.FrameOfReferenceUID
    for keyword in OPTIONAL_SOURCE_TAGS:
        if keyword in source and keyword not in FROM_SOURCE:
            assert seg.get(keyword) != source.get(keyword), keyword
    assert "InstitutionName" not in seg and "PatientAge" not in seg


def test_enhanced_multiframe_reads_like_the_series(enhanced, ct_series):
    image = read_image(enhanced)
    np.testing.assert_array_equal(image.array, ct_series.array)
    np.testing.assert_allclose(image.geometry.affine, ct_series.geometry.affine, atol=1e-6)
    assert image.metadata.n_files == 1 and len(image.metadata.frames) == 20


def test_seg_of_an_enhanced_multiframe_source_round_trips(enhanced, series_labels, names, tmp_path):
    image = read_image(enhanced)
    path = write_mask(tmp_path / "enhanced_seg.dcm", series_labels, image, names)
    back, back_names = read_dicom_seg(path, image)
    np.testing.assert_array_equal(back, series_labels)
    assert back_names[5] == "liver"


def test_seg_needs_a_dicom_source_and_a_non_empty_mask(ct, ct_series, tmp_path):
    with pytest.raises(ExportError, match="needs a DICOM source"):
        write_mask(tmp_path / "ct.dcm", np.ones(ct.spatial_shape, np.uint8), ct)
    with pytest.raises(ExportError, match="the mask is empty"):
        write_mask(tmp_path / "empty.dcm", np.zeros(ct_series.spatial_shape, np.uint8), ct_series)
    assert not list(tmp_path.iterdir())
