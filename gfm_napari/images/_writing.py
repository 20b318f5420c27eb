"""Checks shared by the mask writers (output path, label values)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gfm_napari.errors import ExportError, GeometryError
from gfm_napari.images.image import Image

MASK_SUFFIXES = (
    ".nii.gz", ".nii", ".seg.nrrd", ".nrrd", ".mha", ".tif", ".tiff", ".png", ".geojson", ".gpkg", ".dcm",
)
DOUBLE_SUFFIXES = (".nii.gz", ".seg.nrrd")


def full_suffix(path: Path) -> str:
    """Lower-case suffix, with ``.nii.gz`` and ``.seg.nrrd`` kept whole."""
    name = path.name.lower()
    return next((s for s in DOUBLE_SUFFIXES if name.endswith(s)), path.suffix.lower())


def check_destination(path: str | os.PathLike[str], source: Image) -> Path:
    """Validate the output path: supported suffix, existing folder, not a folder, not the input image itself."""
    out = Path(path)
    if full_suffix(out) not in MASK_SUFFIXES:
        raise ExportError(f"cannot write a mask as '{out.suffix or out.name}'; use one of {', '.join(MASK_SUFFIXES)}")
    if out.is_dir():
        raise ExportError(f"'{out}' is a folder, expected a file name")
    if not out.parent.is_dir():
        raise ExportError(f"output folder does not exist: '{out.parent}'")
    if _same_file(out, source.source):
        raise ExportError(f"refusing to overwrite the input image '{out.name}'; choose another file name")
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def required_affine(source: Image, format_name: str) -> np.ndarray:
    """The source's RAS affine, or ExportError: a medical format would lose a raster's georeferencing."""
    if source.geometry.affine is None:
        raise ExportError(f"{format_name} export needs a medical image (affine); write this mask as .tif or .png")
    return source.geometry.affine


def label_mask(mask: np.ndarray, source: Image) -> np.ndarray:
    """Check ``mask`` against ``source`` and return it as uint8 (max label <= 255) or uint16.

    Args:
        mask: integer, bool or integral-float array with ``mask.shape == source.spatial_shape``; values are
            labels >= 0 (0 = background), at most 65535.

    Raises:
        GeometryError: the shape differs from the source's spatial shape.
        ExportError: negative, fractional, non-finite or too-large label values.
    """
    mask = np.asarray(mask)
    if mask.shape != source.spatial_shape:
        raise GeometryError(f"mask shape {mask.shape} does not match the image's spatial shape {source.spatial_shape}")
    if mask.dtype == np.bool_:
        return mask.astype(np.uint8)
    if not np.issubdtype(mask.dtype, np.number) or np.iscomplexobj(mask):
        raise ExportError(f"mask must hold integer labels, got dtype {mask.dtype}")
    if np.issubdtype(mask.dtype, np.floating):
        if not np.all(np.isfinite(mask)) or not np.array_equal(mask, np.round(mask)):
            raise ExportError("mask must hold whole-number labels (found fractions, NaN or inf)")
    if mask.size and mask.min() < 0:
        raise ExportError(f"mask labels must be >= 0, found {mask.min()}")
    top = mask.max() if mask.size else 0
    if top > np.iinfo(np.uint16).max:
        raise ExportError(f"mask labels must be <= 65535, found {top}")
    return mask.astype(np.uint8 if top <= np.iinfo(np.uint8).max else np.uint16)
