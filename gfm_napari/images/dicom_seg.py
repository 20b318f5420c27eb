"""DICOM-SEG export (highdicom) of a label volume drawn on a DICOM series, for sending masks back to PACS.

The SEG references the source series: one BINARY segment per label id (segment numbers 1..N in id order), its
label and description from the object's name, ``TrackingID`` = ``"label <id>"`` so the ids survive a round trip;
frames are the source slices (or enhanced frames) the mask covers, with their exact plane positions (highdicom
derives them from the source). Only what the Segmentation IOD requires comes from the source: highdicom is given
a reduced copy of each source header (:data:`FROM_SOURCE`: the required Patient and General Study attributes, the
frame of reference, and the image-plane and reference facts), so optional patient or study details (age, weight,
physicians, descriptions, institution) never reach the SEG; nothing is logged. The source files are taken from
``Image.metadata.frames`` (their headers only; the pixels are not decoded again).

:func:`read_dicom_seg` brings a SEG back onto the source image's grid (labels by TrackingID) for checks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gfm_napari.errors import ExportError
from gfm_napari.images._reading import one_line
from gfm_napari.images._writing import label_mask
from gfm_napari.images.atomic import atomic_path
from gfm_napari.images.image import Image

SERIES_DESCRIPTION = "gfm-napari segmentation"
FROM_SOURCE = (
    # Patient module (type 2) and General Study module (types 1, 2): required in every SEG, so that PACS files it
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
    # what the SEG references and where its frames lie
    "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "Modality", "FrameOfReferenceUID",
    "PositionReferenceIndicator", "Rows", "Columns", "NumberOfFrames", "PixelSpacing", "SliceThickness",
    "SpacingBetweenSlices", "ImagePositionPatient", "ImageOrientationPatient", "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence", "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "SpecificCharacterSet",
)
"""The source header attributes handed to highdicom (everything else stays out of the SEG)."""


def write_mask(path: str | os.PathLike[str], mask: np.ndarray, source: Image, names: Mapping[int, str] | None = None) -> Path:
    """Write ``mask`` (label ids on ``source``'s grid) as a DICOM-SEG referencing ``source``'s DICOM files.

    Raises:
        ExportError: the source is not DICOM, the mask is empty, or highdicom refuses the data.
        GeometryError: the mask's shape differs from the source's.
    """
    import highdicom as hd

    from gfm_napari import __version__

    out = Path(path)
    if source.metadata.format != "dicom" or not source.metadata.frames:
        raise ExportError("DICOM-SEG needs a DICOM source (a series folder or file); export this mask as .nii.gz")
    labels = label_mask(mask, source)
    volume = labels if labels.ndim == 3 else labels[np.newaxis]
    ids = [int(i) for i in np.unique(volume) if i != 0]
    if not ids:
        raise ExportError("the mask is empty: there is no segment to write as DICOM-SEG")
    numbers = np.zeros(int(volume.max()) + 1, np.uint16)
    numbers[ids] = np.arange(1, len(ids) + 1)
    datasets, frame_of_slice = _source_datasets(source)
    pixels = numbers[volume]
    if frame_of_slice is not None:  # one multi-frame source: SEG frames follow the source's frame order
        ordered = np.zeros((int(datasets[0].NumberOfFrames),) + pixels.shape[1:], pixels.dtype)
        ordered[frame_of_slice] = pixels
        pixels = ordered
    algorithm = hd.AlgorithmIdentificationSequence(
        name="gfm-napari", version=__version__, family=hd.sr.CodedConcept("123109", "DCM", "Manual Processing")
    )
    tissue = hd.sr.CodedConcept("85756007", "SCT", "Tissue")
    descriptions = []
    for number, label in enumerate(ids, start=1):
        name = (names or {}).get(label) or f"object {label}"
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=name[:64], segmented_property_category=tissue,
            segmented_property_type=tissue, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=algorithm, tracking_uid=hd.UID(), tracking_id=f"label {label}",
        ))
    try:
        seg = hd.seg.Segmentation(
            source_images=datasets, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=9901,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="gfm-napari",
            manufacturer_model_name="gfm-napari", software_versions=__version__, device_serial_number="none",
            series_description=SERIES_DESCRIPTION,
        )
        with atomic_path(out) as tmp:
            seg.save_as(tmp)
    except Exception as exc:
        raise ExportError(f"cannot write DICOM-SEG '{out.name}': {one_line(exc)}") from exc
    return out


def read_dicom_seg(path: str | os.PathLike[str], source: Image) -> tuple[np.ndarray, dict[int, str]]:
    """A SEG written by :func:`write_mask`, back on ``source``'s grid: (uint16 label ids, {label id: name})."""
    import highdicom as hd

    seg = hd.seg.segread(path)
    datasets, frame_of_slice = _source_datasets(source)
    labels = np.zeros((len(source.metadata.frames),) + source.spatial_shape[-2:], np.uint16)
    names = {}
    for number in (int(n) for n in seg.segment_numbers):
        description = seg.get_segment_description(number)
        label = int(str(description.TrackingID).split()[-1])
        names[label] = str(description.SegmentLabel)
        if frame_of_slice is None:
            uids = [str(ds.SOPInstanceUID) for ds in datasets]
            stack = seg.get_pixels_by_source_instance(uids, segment_numbers=[number])
        else:
            frames = [int(f) + 1 for f in frame_of_slice]
            stack = seg.get_pixels_by_source_frame(str(datasets[0].SOPInstanceUID), frames, segment_numbers=[number])
        labels[np.asarray(stack)[..., 0] > 0] = label
    return (labels if source.spatial_ndim == 3 else labels[0]), names


def _source_datasets(source: Image) -> tuple[list, np.ndarray | None]:
    """Headers of the source files in slice order, and (one multi-frame file) the frame index of each slice."""
    import pydicom

    paths = list(dict.fromkeys(path for path, _ in source.metadata.frames))
    datasets = []
    for path in paths:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception as exc:
            raise ExportError(f"cannot re-read the source DICOM '{Path(path).name}': {one_line(exc)}") from exc
        reduced = pydicom.Dataset()
        reduced.file_meta = ds.file_meta
        for keyword in FROM_SOURCE:
            if keyword in ds:
                reduced[keyword] = ds[keyword]
        # Some de-identified files (the shared CT series) keep their SOP identity only in the file meta.
        for keyword in ("SOPClassUID", "SOPInstanceUID"):
            if not reduced.get(keyword):
                setattr(reduced, keyword, ds.file_meta.get(f"MediaStorage{keyword}"))
        datasets.append(reduced)
    frames = [frame for _, frame in source.metadata.frames]
    if frames[0] is None:
        return datasets, None
    if len(datasets) != 1:
        raise ExportError("DICOM-SEG export supports one multi-frame file or a series of single-frame files")
    return datasets, np.asarray(frames)
