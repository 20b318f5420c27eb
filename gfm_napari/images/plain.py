"""PNG / JPEG (Pillow) and plain TIFF (tifffile) reading, PNG mask writing.

Reading gives a 2D "photo": (row, col) for grey, (row, col, 3) for colour, pixels as stored (no EXIF rotation,
so the array is the file's pixel grid). Alpha is dropped; palette and CMYK images are converted to RGB; 1-bit
images become uint8 0/1; 16-bit grey PNG stays uint16. Geometry: spacing (1, 1), nothing else.

Writing (:func:`write_mask`): PNG, 2D only, uint8 (uint16 when the largest label is > 255). PNG keeps no
geometry; use .tif for a georeferenced source or .nii.gz for a medical one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gfm_napari.errors import ExportError, ImageReadError
from gfm_napari.images._reading import check_finite, existing_file, native_byte_order, one_line
from gfm_napari.images._writing import check_destination, label_mask
from gfm_napari.images.atomic import atomic_path
from gfm_napari.images.geometry import Geometry
from gfm_napari.images.image import Image, ImageMetadata



def read(path: str | os.PathLike[str]) -> Image:
    """Read a PNG / JPEG (Pillow) or plain TIFF (tifffile) as a 2D photo image.

    Returns:
        Image, modality "photo", array (row, col) or (row, col, 3), channel_axis 2 for colour.

    Raises:
        ImageReadError: missing / empty / unreadable file, not 2D grey or colour, NaN values.
    """
    p = existing_file(path)
    suffix = p.suffix.lower()
    if suffix in (".tif", ".tiff"):
        array, fmt = _read_tiff(p), "tiff"
    else:
        array, fmt = _read_pillow(p), ("jpeg" if suffix in (".jpg", ".jpeg") else "png")
    array = native_byte_order(array)
    check_finite(array, p.name)
    colour = array.ndim == 3
    return Image(
        array=array,
        geometry=Geometry(spacing=(1.0, 1.0)),
        modality="photo",
        source=p,
        channel_axis=2 if colour else None,
        axis_names=("row", "col", "channel") if colour else ("row", "col"),
        metadata=ImageMetadata(format=fmt, stored_dtype=array.dtype.name),
    )


def _read_pillow(p: Path) -> np.ndarray:
    from PIL import Image as PILImage

    try:
        with PILImage.open(p) as im:
            im.load()
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            elif mode == "1":
                im = im.convert("L")
            array = np.asarray(im)
    except Exception as exc:  # PIL.UnidentifiedImageError, OSError on truncated files, ...
        raise ImageReadError(f"cannot read '{p.name}' as an image: {one_line(exc)}") from exc
    if mode == "1":
        array = (array > 0).astype(np.uint8)
    return _drop_alpha(array, p.name)


def _read_tiff(p: Path) -> np.ndarray:
    import tifffile

    try:
        array = tifffile.imread(p, key=0)
    except Exception as exc:
        raise ImageReadError(f"cannot read '{p.name}' as TIFF: {one_line(exc)}") from exc
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[-1] not in (3, 4):
        array = np.moveaxis(array, 0, -1)  # planar (samples, rows, cols) -> (rows, cols, samples)
    return _drop_alpha(array, p.name)


def _drop_alpha(array: np.ndarray, name: str) -> np.ndarray:
    """(r, c) stays; (r, c, 2) grey+alpha -> (r, c); (r, c, 4) RGBA -> (r, c, 3); anything else -> error."""
    if array.ndim == 2:
        return array
    if array.ndim == 3 and array.shape[-1] == 2:
        return array[..., 0]
    if array.ndim == 3 and array.shape[-1] == 4:
        return array[..., :3]
    if array.ndim == 3 and array.shape[-1] == 3:
        return array
    raise ImageReadError(f"expected a 2D grey or RGB image, got shape {array.shape}: '{name}'")


def write_mask(path: str | os.PathLike[str], mask: np.ndarray, source: Image) -> Path:
    """Write a 2D label mask as PNG (uint8, or uint16 for labels > 255), atomically.

    Raises:
        GeometryError: shape mismatch. ExportError: 3D source, bad path or labels, write failure.
    """
    from PIL import Image as PILImage

    out = check_destination(path, source)
    if source.spatial_ndim != 2:
        raise ExportError("PNG export needs a 2D image; write a 3D mask as .nii.gz")
    data = label_mask(mask, source)
    try:
        with atomic_path(out) as tmp:
            PILImage.fromarray(data).save(tmp, format="PNG")
    except Exception as exc:
        raise ExportError(f"cannot write '{out.name}': {one_line(exc)}") from exc
    return out
