"""A label map made elsewhere, on an image's grid: the starting labels for proofreading.

Any image :func:`~gfm_napari.images.io.read_image` reads (NIfTI, label GeoTIFF, ...), a DICOM-SEG of a DICOM
image, or polygons (.geojson / .gpkg) burnt onto a georeferenced image's grid. The label map must lie on the image's
grid (:func:`~gfm_napari.images.align.labels_on_grid`: exact up to axis order, flips and whole-voxel offsets);
anything else is a :class:`~gfm_napari.errors.GeometryError` — or, when asked for, resampled by nearest neighbour —
never a silent shift.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from gfm_napari.errors import GeometryError, ImageReadError
from gfm_napari.images._writing import full_suffix
from gfm_napari.images.align import labels_on_grid, resample_labels
from gfm_napari.images.image import Image, ImageWarning
from gfm_napari.images.io import looks_like_dicom, read_image

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


class OffGridError(GeometryError):
    """A label map that is not on the image's grid but has a geometry it could be resampled by."""


def read_labels(path: str | os.PathLike[str], image: Image, *, resample: bool = False) -> np.ndarray:
    """The label map at ``path`` as uint16 ids on ``image``'s spatial grid (0 = background).

    Negative values (a "no data" class such as Sen1Floods11's -1) are read as background, with a warning.
    ``resample``: a map off the image's grid is resampled onto it (nearest neighbour through both geometries,
    :func:`~gfm_napari.images.align.resample_labels`) instead of refused.

    Raises:
        ImageReadError: unreadable file, several bands, fractional or too large label values.
        OffGridError: the label map is not on the image's grid (and ``resample`` is off).
        GeometryError: polygons or a DICOM-SEG for an image they cannot lie on; nothing to resample by.
    """
    path = Path(path)
    suffix = full_suffix(path)
    if suffix in (".geojson", ".gpkg"):
        return _polygons_on_grid(path, image)
    if path.is_file() and (suffix in (".dcm", ".dicom") or looks_like_dicom(path)) and _is_dicom_seg(path):
        from gfm_napari.images.dicom_seg import read_dicom_seg

        if image.metadata.format != "dicom" or not image.metadata.frames:
            raise GeometryError("a DICOM-SEG opens on the DICOM image it was made for; open that series first")
        return read_dicom_seg(path, image)[0]
    labels = read_image(path)
    if labels.channel_axis is not None and labels.n_channels > 1:
        raise ImageReadError(f"'{path.name}' has {labels.n_channels} bands; a label map has one")
    try:
        on_grid = labels_on_grid(image, labels)
    except GeometryError as error:
        if not resample:
            raise OffGridError(str(error)) from None
        on_grid = resample_labels(image, labels)
    return _as_ids(on_grid, path.name)


def _polygons_on_grid(path: Path, image: Image) -> np.ndarray:
    from gfm_napari.images.vector import rasterize_polygons, read_polygons

    if image.spatial_ndim != 2 or not image.geometry.is_georeferenced:
        raise GeometryError("polygons open on a georeferenced 2D image (a GeoTIFF with a CRS)")
    return rasterize_polygons(read_polygons(path, image.geometry.crs), image.spatial_shape, image.geometry)


def _is_dicom_seg(path: Path) -> bool:
    import pydicom

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID", "Modality"])
    except Exception:
        return False
    return str(header.get("SOPClassUID", "")) == SEG_SOP_CLASS or header.get("Modality") == "SEG"


def _as_ids(values: np.ndarray, name: str) -> np.ndarray:
    """Integral label values as uint16; negatives -> 0 (with a warning)."""
    values = np.asarray(values)
    if values.dtype == np.bool_:
        return values.astype(np.uint16)
    if not np.issubdtype(values.dtype, np.integer) and (
        not np.isfinite(values).all() or not np.array_equal(values, np.round(values))
    ):
        raise ImageReadError(f"'{name}' holds fractional values: not a label map")
    negative = values < 0
    if negative.any():
        warnings.warn(f"'{name}': {int(negative.sum())} pixels with negative values (no data) read as background",
                      ImageWarning, stacklevel=3)
        values = np.where(negative, 0, values)
    if values.size and values.max() > np.iinfo(np.uint16).max:
        raise ImageReadError(f"'{name}' has label {int(values.max())}; at most 65535 objects are supported")
    return values.astype(np.uint16)
