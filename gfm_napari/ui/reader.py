"""npe2 reader: NIfTI, NRRD (3D Slicer's .nrrd / .seg.nrrd / .nhdr), MetaImage (.mha / .mhd), DICOM (file or folder),
GeoTIFF, PNG/JPEG → image layers placed by their geometry.

A georeferenced raster with more than ``LARGE_RASTER_PIXELS`` pixels is opened lazily (read window by window) and
shown as a multiscale pyramid; the dock segments it by tiles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import GfmError
from ..images.io import READABLE_SUFFIXES
from .layers import image_layer_data


def get_reader(path: str | list[str]) -> Callable | None:
    """A reader function for ``path``, or None for files that are not ours (never raises)."""
    paths = [path] if isinstance(path, str) else list(path)
    if not paths:
        return None
    first = Path(paths[0])
    if not (first.is_dir() or first.name.lower().endswith(READABLE_SUFFIXES)):
        return None
    return read_layers


def read_layers(path: str | list[str]) -> list[tuple]:
    paths = [path] if isinstance(path, str) else list(path)
    target = paths[0] if len(paths) == 1 else [Path(p) for p in paths]
    try:
        image = _read(target)
    except GfmError as error:
        from napari.utils.notifications import show_error

        show_error(f"gfm-napari: {error}")
        return []
    return [image_layer_data(image)]


def _read(target: str | list[Path]):
    from ..images import read_image
    from ..images.windowed import large_raster

    raster = large_raster(target) if isinstance(target, str) else None
    return raster.image() if raster is not None else read_image(target)
