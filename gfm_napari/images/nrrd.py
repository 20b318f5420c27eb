"""NRRD (.nrrd, .nhdr + its data file) and 3D Slicer segmentation (.seg.nrrd) reading and mask writing with pynrrd.

Axis order: as stored, fastest-varying axis first (pynrrd's ``index_order="F"``), the (i, j, k) of Slicer and of
NIfTI — array ``[i, j, k]`` is the voxel ``i`` steps along the first ``space directions`` vector; nothing is
reoriented. Axis names ("i", "j", "k").

Geometry: ``space directions`` and ``space origin`` are read exactly and turned into the RAS affine::

    LPS = space origin + i * dir_0 + j * dir_1 + k * dir_2      RAS = diag(-1, -1, 1) @ LPS

for ``space: left-posterior-superior`` (what Slicer and ITK write); right-anterior-superior coordinates are RAS
already and left-anterior-superior ones differ from RAS in the sign of x (short names RAS / LAS / LPS too). A file
without ``space`` is taken as LPS, as ITK reads it: its ``space directions`` (3-vectors, or 2-vectors of a 2D
``space dimension: 2`` file) or else its ``spacings`` (1 where absent) along the axes, origin 0 where absent. Other
spaces (scanner-xyz, 3D-right-handed, the -time spaces) give ImageReadError. A 2D file gives a 2D image whose
affine's third column is its plane's unit normal.

Shapes: 2D and 3D. A non-spatial axis (direction "none", kind list / vector / RGB-color ...) of size 1 is dropped;
a larger one gives ImageReadError — so does a .seg.nrrd with several layers (overlapping segments), whose voxels
have no single label each.

Segments: a Slicer segmentation's names (``SegmentN_Name`` / ``SegmentN_LabelValue``, :mod:`.seg_nrrd`) go to
``metadata.segment_names``. The rest of the header (free text, possibly patient details) is not kept.

Modality guess: as for NIfTI (:func:`~gfm_napari.images.nifti.guess_modality`, Hounsfield-like values -> "CT").

Writing: :func:`write_mask` gives a gzip-compressed uint8 / uint16 label map with ``space:
left-posterior-superior`` and the source's affine as LPS ``space directions`` / ``space origin`` (exactly Slicer's
layout); ``.seg.nrrd`` adds Slicer's segment fields (one segment per label present, named from ``names``) and is
always 3D — a 2D image's mask is one slice thick, along the affine's third column — because Slicer's
segmentations are volumes. Medical sources only (an affine).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gfm_napari.errors import ExportError, ImageReadError
from gfm_napari.images import seg_nrrd
from gfm_napari.images._reading import check_finite, existing_file, native_byte_order, one_line
from gfm_napari.images._writing import full_suffix, label_mask, required_affine
from gfm_napari.images.atomic import atomic_path
from gfm_napari.images.geometry import Geometry, affine_from_lps, lps_from_affine
from gfm_napari.images.image import Image, ImageMetadata
from gfm_napari.images.nifti import guess_modality

LPS = "left-posterior-superior"
TO_LPS = {
    "left-posterior-superior": (1.0, 1.0, 1.0), "lps": (1.0, 1.0, 1.0),
    "right-anterior-superior": (-1.0, -1.0, 1.0), "ras": (-1.0, -1.0, 1.0),
    "left-anterior-superior": (1.0, -1.0, 1.0), "las": (1.0, -1.0, 1.0),
}
"""Sign of each coordinate from a NRRD anatomical space to LPS."""


def read(path: str | os.PathLike[str]) -> Image:
    """Read a .nrrd / .nhdr / .seg.nrrd file (see the module docstring for axes, geometry and segments).

    Raises:
        ImageReadError: missing / empty / unreadable / truncated file, unsupported space or dimensionality,
            a multi-layer segmentation, NaN values.
    """
    import nrrd

    p = existing_file(path)
    with p.open("rb") as fh:
        try:
            header = nrrd.read_header(fh)
        except Exception as exc:  # pynrrd raises NRRDError, ValueError, UnicodeDecodeError...
            raise ImageReadError(f"cannot read '{p.name}' as NRRD: {one_line(exc)}") from exc
        try:
            data = nrrd.read_data(header, fh, str(p), index_order="F")
        except Exception as exc:  # truncated or corrupt data (ValueError, zlib / gzip errors), missing data file
            raise ImageReadError(f"the pixel data of '{p.name}' is truncated or unreadable: {one_line(exc)}") from exc
    spatial = _spatial_axes(header, data.ndim)
    extra = [a for a in range(data.ndim) if a not in spatial]
    layers = [data.shape[a] for a in extra if data.shape[a] > 1]
    if layers and seg_nrrd.is_segmentation(header):
        raise ImageReadError(
            f"'{p.name}' holds {layers[0]} layers of overlapping segments; only one-layer segmentations are read "
            "(remove the overlaps in 3D Slicer, or export it as a labelmap)"
        )
    if layers or len(spatial) not in (2, 3):
        raise ImageReadError(f"'{p.name}' has shape {data.shape}; only 2D and 3D NRRD images are supported")
    array = native_byte_order(np.squeeze(data, axis=tuple(extra)) if extra else data)
    if array.dtype.kind not in "biuf":
        raise ImageReadError(f"unsupported NRRD data type {array.dtype}")
    check_finite(array, p.name)
    affine = _affine(header, spatial, p.name)
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, : array.ndim], axis=0))
    try:
        names = seg_nrrd.segment_names(header)
    except ValueError as exc:  # a label value that is not a number
        raise ImageReadError(f"'{p.name}' has malformed segment fields: {one_line(exc)}") from exc
    metadata = ImageMetadata(format="nrrd", stored_dtype=array.dtype.name, segment_names=tuple(sorted(names.items())))
    return Image(
        array=array,
        geometry=Geometry(spacing=spacing, affine=affine),
        modality=guess_modality(array),
        source=p,
        axis_names=("i", "j", "k")[: array.ndim],
        metadata=metadata,
    )


def write_mask(
    path: str | os.PathLike[str], mask: np.ndarray, source: Image, names: Mapping[int, str] | None = None
) -> Path:
    """Write a label mask as .nrrd (label map) or .seg.nrrd (Slicer segmentation) on the source's grid, atomically.

    Args:
        path: output file, already checked by ``check_destination``.
        mask: labels, shape ``source.spatial_shape`` in the source's stored axis order.
        source: the image the mask was drawn on (any medical image: NRRD, NIfTI, DICOM, MetaImage).
        names: label id -> segment name (.seg.nrrd only).

    Raises:
        GeometryError: shape mismatch. ExportError: bad labels, a source without an affine, a failed write.
    """
    import nrrd

    out = Path(path)
    affine = required_affine(source, "NRRD")
    data = label_mask(mask, source)
    header: dict[str, Any] = {"encoding": "gzip", "space": LPS}
    if full_suffix(out) == ".seg.nrrd":
        data = data if data.ndim == 3 else data[..., np.newaxis]
        header.update(seg_nrrd.segment_fields(data, names))
    header["space directions"], header["space origin"] = lps_from_affine(affine, data.ndim)
    header["kinds"] = ["domain"] * data.ndim
    try:
        with atomic_path(out) as tmp, tmp.open("wb") as fh:
            nrrd.write(fh, data, header, index_order="F")
    except OSError as exc:
        raise ExportError(f"cannot write '{out.name}': {one_line(exc)}") from exc
    return out


def _spatial_axes(header: Mapping[str, Any], ndim: int) -> list[int]:
    """The axes that have a direction in space (a 'none' direction is a NaN row in pynrrd)."""
    directions = header.get("space directions")
    if directions is not None:
        return [a for a, row in enumerate(np.asarray(directions, float)) if np.all(np.isfinite(row))]
    kinds = header.get("kinds") or ["domain"] * ndim
    return [a for a, kind in enumerate(kinds) if str(kind).lower() in ("domain", "space", "???", "none")]


def _affine(header: Mapping[str, Any], spatial: list[int], name: str) -> np.ndarray:
    """RAS affine of the spatial axes (see the module docstring)."""
    space = header.get("space")
    signs = np.ones(3)
    if space is not None:
        if str(space).lower() not in TO_LPS:
            raise ImageReadError(f"'{name}' is in space '{space}'; only the anatomical spaces LPS, RAS, LAS are read")
        signs = np.asarray(TO_LPS[str(space).lower()])
    directions = header.get("space directions")
    if directions is not None:
        steps = np.asarray(directions, float)[spatial]
    else:
        spacings = np.asarray(header.get("spacings", [1.0] * (max(spatial) + 1)), float)[spatial]
        steps = np.diag(np.where(np.isfinite(spacings), spacings, 1.0))
    width = steps.shape[1]
    origin = np.asarray(header.get("space origin", np.zeros(width)), float)
    if width not in (2, 3) or width < len(spatial) or origin.shape != (width,) or not np.all(np.isfinite(origin)):
        raise ImageReadError(f"'{name}' has an unusable geometry (space directions / space origin)")
    signs = signs[:width]
    return affine_from_lps(steps * signs, origin * signs)
