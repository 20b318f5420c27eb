"""Format dispatch: :func:`read_image` by suffix / folder, :func:`write_mask` by the OUTPUT suffix.

=======================================  ==================  ==========================
input                                    reader              options
=======================================  ==================  ==========================
folder, list of files, .dcm / .dicom     dicom.read          series_uid
other file that is DICOM (preamble)      dicom.read          series_uid
.nii, .nii.gz                            nifti.read          volume
.nrrd, .seg.nrrd, .nhdr (+ data file)    nrrd.read
.mha, .mhd (+ data file)                 metaimage.read
.tif, .tiff                              geotiff.read        (photo when no CRS)
.png, .jpg, .jpeg                        plain.read
=======================================  ==================  ==========================
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from gfm_napari.errors import ExportError, ImageReadError
from gfm_napari.images._writing import MASK_SUFFIXES, check_destination, full_suffix, required_affine
from gfm_napari.images.image import Image

SUPPORTED_FORMATS = (
    "NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr, Slicer .seg.nrrd), MetaImage (.mha, .mhd), DICOM (folder, .dcm, .dicom), "
    "(Geo)TIFF (.tif, .tiff), PNG (.png), JPEG (.jpg, .jpeg)"
)
MEDICAL_SUFFIXES = {".nii": "NIfTI", ".nii.gz": "NIfTI", ".nrrd": "NRRD", ".seg.nrrd": "NRRD", ".mha": "MetaImage"}
"""Mask formats that place voxels by an affine, so only for medical sources."""

PathLike = str | os.PathLike[str]

_READERS: dict[str, tuple[str, str, tuple[str, ...]]] = {  # suffix -> (reader module, format name, reader options)
    **dict.fromkeys((".nii", ".nii.gz"), ("nifti", "NIfTI", ("volume",))),
    **dict.fromkeys((".nrrd", ".seg.nrrd", ".nhdr"), ("nrrd", "NRRD", ())),
    **dict.fromkeys((".mha", ".mhd"), ("metaimage", "MetaImage", ())),
    **dict.fromkeys((".dcm", ".dicom"), ("dicom", "DICOM", ("series_uid",))),
    **dict.fromkeys((".tif", ".tiff"), ("geotiff", "TIFF", ())),
    **dict.fromkeys((".png", ".jpg", ".jpeg"), ("plain", "PNG/JPEG", ())),
}
READABLE_SUFFIXES = tuple(_READERS)
"""Every file suffix :func:`read_image` opens (folders and extension-less DICOM files besides): the napari
reader's and the pretraining folder scan's one list; napari.yaml's reader patterns are held to it by a test."""
LABEL_MAP_SUFFIXES = (".seg.nrrd",)
"""Readable, but segmentations rather than images."""


def read_image(path: PathLike | Sequence[PathLike], **options: object) -> Image:
    """Read any supported image; see the module table for the dispatch and the per-format options.

    Args:
        path: a file, a DICOM folder, or a sequence of DICOM files.
        **options: reader options (``volume=`` for NIfTI, ``series_uid=`` for DICOM).

    Raises:
        ImageReadError: missing path, unsupported format, an option that does not apply, or a reader failure.
    """
    reader, allowed, name = _pick_reader(path)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ImageReadError(f"option {', '.join(unknown)} does not apply to {name} images")
    return reader(path, **options)


def reader_options(path: PathLike | Sequence[PathLike]) -> tuple[str, ...]:
    """The options :func:`read_image` takes for ``path`` (e.g. ``("volume",)`` for NIfTI).

    Raises:
        ImageReadError: missing path or unsupported format (as :func:`read_image`).
    """
    return _pick_reader(path)[1]


def check_mask_output(path: PathLike, source: Image) -> Path:
    """Every check :func:`write_mask` makes before it has a mask: the path (supported suffix, existing folder, not
    the input) and whether the format can hold a mask of ``source`` (NIfTI / NRRD / MetaImage need an affine, TIFF /
    PNG / polygons a 2D image, polygons a georeferenced one, DICOM-SEG a DICOM source) — so a command can refuse
    before any work.

    Raises:
        ExportError, GeometryError: as :func:`write_mask` would for any mask.
    """
    from gfm_napari.errors import GeometryError

    out = check_destination(path, source)
    suffix = full_suffix(out)
    if suffix in MEDICAL_SUFFIXES:
        required_affine(source, MEDICAL_SUFFIXES[suffix])
    if suffix in (".tif", ".tiff", ".png", ".geojson", ".gpkg") and source.spatial_ndim != 2:
        needs = {".png": "PNG export needs a 2D image", ".geojson": "polygon export needs a 2D raster",
                 ".gpkg": "polygon export needs a 2D raster"}.get(suffix, "TIFF export needs a 2D image")
        raise ExportError(f"{needs}; write a 3D mask as .nii.gz")
    if suffix in (".geojson", ".gpkg") and not source.geometry.is_georeferenced:
        raise GeometryError("polygons need a georeferenced image (a GeoTIFF with a CRS); export the mask as .tif/.png")
    if suffix == ".dcm" and (source.metadata.format != "dicom" or not source.metadata.frames):
        raise ExportError("DICOM-SEG needs a DICOM source (a series folder or file); export this mask as .nii.gz")
    return out


def write_mask(
    path: PathLike, mask: np.ndarray, source: Image, names: Mapping[int, str] | None = None,
    scores: Mapping[int, float] | None = None,
) -> Path:
    """Write ``mask`` (labels on ``source``'s spatial grid) atomically, in the format given by ``path``'s suffix.

    .nii / .nii.gz -> NIfTI with the source's header / affine (medical sources only); .nrrd / .seg.nrrd -> NRRD
    label map / 3D Slicer segmentation in LPS (:mod:`~gfm_napari.images.nrrd`) and .mha -> MetaImage
    (:mod:`~gfm_napari.images.metaimage`), both with the source's affine (medical sources only); .tif / .tiff ->
    single-band DEFLATE GeoTIFF with the source's CRS / transform; .png -> 2D PNG (uint8, or uint16 above label 255);
    .geojson / .gpkg -> one polygon feature per label (:mod:`~gfm_napari.images.vector`); .dcm -> DICOM-SEG
    referencing a DICOM source (:mod:`~gfm_napari.images.dicom_seg`). ``names`` (label id -> object name) label
    the polygons and segments (DICOM-SEG, .seg.nrrd); ``scores`` (label id -> predicted IoU) add a ``score``
    attribute to polygons.

    Raises:
        ExportError: unsupported suffix, the input file itself, bad labels, unsupported source for the format.
        GeometryError: ``mask.shape != source.spatial_shape``.
    """
    from gfm_napari.images import dicom_seg, geotiff, metaimage, nifti, nrrd, plain, vector

    out = check_destination(path, source)
    suffix = full_suffix(out)
    if suffix in (".geojson", ".gpkg"):
        return vector.write_mask(out, mask, source, names, scores)
    named = {".dcm": dicom_seg, ".nrrd": nrrd, ".seg.nrrd": nrrd}
    if suffix in named:
        return named[suffix].write_mask(out, mask, source, names)
    writers = {".nii": nifti, ".nii.gz": nifti, ".mha": metaimage, ".tif": geotiff, ".tiff": geotiff, ".png": plain}
    if suffix not in writers:  # pragma: no cover - check_destination already refused it
        raise ExportError(f"cannot write a mask as '{suffix}'; use one of {', '.join(MASK_SUFFIXES)}")
    return writers[suffix].write_mask(out, mask, source)


def _pick_reader(path: PathLike | Sequence[PathLike]) -> tuple[Callable[..., Image], tuple[str, ...], str]:
    dicom = ("dicom", "DICOM", ("series_uid",))
    if not isinstance(path, (str, os.PathLike)):
        entry = dicom
    else:
        p = Path(path)
        if not p.exists():
            raise ImageReadError(f"no such file or folder: '{p}'")
        entry = dicom if p.is_dir() else _READERS.get(full_suffix(p)) or (dicom if looks_like_dicom(p) else None)
        if entry is None:
            raise ImageReadError(f"unsupported format '{p.suffix or p.name}'; supported: {SUPPORTED_FORMATS}")
    module, name, options = entry
    return importlib.import_module(f"gfm_napari.images.{module}").read, options, name


def looks_like_dicom(p: Path) -> bool:
    """True when the file has the DICOM Part 10 preamble ('DICM' at byte 128), e.g. extension-less series files."""
    try:
        with p.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False
