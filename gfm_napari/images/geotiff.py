"""GeoTIFF / TIFF reading and mask writing with rasterio.

Reading: array (row, col) for one band, (row, col, band) for several (channel axis last). A file with a CRS is
modality "raster" with ``geometry.crs`` (WKT), ``geometry.transform`` (GDAL a, b, c, d, e, f), ``nodata`` and
``area_or_point``; spacing = (row step, col step) in CRS units. A TIFF without a CRS is a plain "photo" (no
geometry; an alpha band is dropped). rasterio's NotGeoreferencedWarning is silenced: a missing CRS is expected
for plain TIFFs and is visible as ``geometry.crs is None``. NaN pixels are allowed only when nodata is NaN.

Writing: one band, uint8 (uint16 when the largest label is > 255), DEFLATE compression, the source's CRS,
transform, size and AREA_OR_POINT. The mask band has NO nodata value: 0 is the "background" label, not missing
data. A source without CRS (photo, 2D DICOM) gives a plain TIFF without georeferencing. 3D sources -> ExportError.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gfm_napari.errors import ExportError, ImageReadError
from gfm_napari.images._reading import check_finite, existing_file, native_byte_order, one_line
from gfm_napari.images._writing import check_destination, label_mask
from gfm_napari.images.atomic import atomic_path
from gfm_napari.images.geometry import Geometry
from gfm_napari.images.image import Image, ImageMetadata



@contextmanager
def _quiet() -> Iterator[None]:
    """Silence rasterio's NotGeoreferencedWarning for the duration of a call (thread-local-ish: warnings state)."""
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


def read(path: str | os.PathLike[str]) -> Image:
    """Read a (Geo)TIFF.

    Returns:
        Image with array (row, col) or (row, col, band) in the file's dtype; modality "raster" with CRS and
        transform when georeferenced, else "photo" with a bare geometry (spacing 1, no CRS).

    Raises:
        ImageReadError: missing / empty / unreadable file, no bands, NaN values that are not nodata.
    """
    import rasterio
    from rasterio.enums import ColorInterp

    p = existing_file(path)
    try:
        with _quiet(), rasterio.open(p) as ds:
            count, height, width = ds.count, ds.height, ds.width
            if count == 0 or height == 0 or width == 0:
                raise ImageReadError(f"image is empty ({count} bands, {height}x{width}): '{p.name}'")
            crs = ds.crs.to_wkt() if ds.crs else None
            interp = tuple(ds.colorinterp)
            keep = [i for i in range(count) if not (crs is None and count > 1 and interp[i] == ColorInterp.alpha)]
            bands = ds.read([i + 1 for i in keep])
            descriptions = tuple(ds.descriptions[i] for i in keep)
            nodata = None if crs is None or ds.nodata is None else float(ds.nodata)
            transform = tuple(ds.transform)[:6] if crs is not None else None
            area_or_point = ds.tags().get("AREA_OR_POINT") if crs is not None else None
            stored = ds.dtypes[0]
    except ImageReadError:
        raise
    except Exception as exc:  # rasterio.errors.RasterioIOError and friends
        raise ImageReadError(f"cannot read '{p.name}' as TIFF: {one_line(exc)}") from exc

    array = native_byte_order(bands[0] if bands.shape[0] == 1 else np.moveaxis(bands, 0, -1))
    check_finite(array, p.name, nan_is_nodata=nodata is not None and np.isnan(nodata))
    multi = array.ndim == 3
    if crs is not None:
        a, b, _, d, e, _ = transform
        geometry = Geometry(
            spacing=(float(np.hypot(b, e)), float(np.hypot(a, d))),
            crs=crs,
            transform=transform,
            nodata=nodata,
            area_or_point=area_or_point,
        )
    else:
        geometry = Geometry(spacing=(1.0, 1.0))
    return Image(
        array=array,
        geometry=geometry,
        modality="raster" if crs is not None else "photo",
        source=p,
        channel_axis=2 if multi else None,
        axis_names=("row", "col", "band") if multi else ("row", "col"),
        metadata=ImageMetadata(
            format="geotiff" if crs is not None else "tiff",
            stored_dtype=str(stored),
            band_descriptions=descriptions if multi else (),
        ),
    )


def write_mask(path: str | os.PathLike[str], mask: np.ndarray, source: Image) -> Path:
    """Write a 2D label mask as a single-band, DEFLATE-compressed (Geo)TIFF on the source's grid, atomically.

    Args:
        path: output .tif / .tiff; must not be the source file.
        mask: (row, col) labels with ``mask.shape == source.spatial_shape``.
        source: the image the mask was drawn on; its CRS / transform / AREA_OR_POINT are copied when present.

    Raises:
        GeometryError: shape mismatch. ExportError: 3D source, bad path or labels, write failure.
    """
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import Affine

    out = check_destination(path, source)
    if source.spatial_ndim != 2:
        raise ExportError("TIFF export needs a 2D image; write a 3D mask as .nii.gz")
    data = label_mask(mask, source)
    geometry = source.geometry
    profile: dict = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": data.dtype.name,
        "compress": "deflate",
        "nodata": None,
    }
    if geometry.is_georeferenced:
        profile["crs"] = CRS.from_wkt(geometry.crs)
        profile["transform"] = Affine(*geometry.transform)
    try:
        with atomic_path(out) as tmp, _quiet(), rasterio.open(tmp, "w", **profile) as dst:
            dst.write(data, 1)
            if geometry.is_georeferenced and geometry.area_or_point:
                dst.update_tags(AREA_OR_POINT=geometry.area_or_point)
    except Exception as exc:
        if isinstance(exc, ExportError):
            raise
        raise ExportError(f"cannot write '{out.name}': {one_line(exc)}") from exc
    return out
