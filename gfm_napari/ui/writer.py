"""npe2 writer: a Labels layer → a mask file on the source image's exact grid (NIfTI, NRRD, 3D Slicer .seg.nrrd,
MetaImage .mha, GeoTIFF, PNG), polygons (GeoJSON in WGS84, GeoPackage in the scene's CRS) or a DICOM-SEG referencing
the source series."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExportError
from ..images import write_mask
from .layers import IMAGE_KEY


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Write ``data`` with the geometry of the image in ``meta["metadata"][IMAGE_KEY]`` (format by suffix)."""
    image = (meta.get("metadata") or {}).get(IMAGE_KEY)
    if image is None:
        raise ExportError(
            f"layer '{meta.get('name', '?')}' does not belong to an image opened with gfm-napari, so its geometry "
            "is unknown; segment an image opened through gfm-napari to export masks"
        )
    return [str(write_mask(path, np.asarray(data), image))]
