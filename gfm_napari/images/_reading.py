"""Checks shared by the readers: the file is there and not empty, the pixels are finite."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gfm_napari.errors import ImageReadError


def existing_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path after checking it is a non-empty regular file (ImageReadError otherwise)."""
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"no such file: '{p}'")
    if p.is_dir():
        raise ImageReadError(f"'{p}' is a folder, expected a file")
    if p.stat().st_size == 0:
        raise ImageReadError(f"file is empty: '{p.name}'")
    return p


def check_finite(array: np.ndarray, name: str, *, nan_is_nodata: bool = False) -> None:
    """Raise ImageReadError when a float ``array`` is empty, all NaN, or holds NaN / inf values.

    With ``nan_is_nodata`` (a raster whose nodata value is NaN) NaN pixels are allowed unless all are NaN.
    """
    if array.size == 0:
        raise ImageReadError(f"image is empty (shape {array.shape}): '{name}'")
    if not np.issubdtype(array.dtype, np.floating):
        return
    nan = np.isnan(array)
    if nan.all():
        raise ImageReadError(f"image contains only NaN values: '{name}'")
    if nan.any() and not nan_is_nodata:
        raise ImageReadError(f"image contains {int(nan.sum())} NaN values: '{name}'")
    if np.isinf(array).any():
        raise ImageReadError(f"image contains infinite values: '{name}'")


def native_byte_order(array: np.ndarray) -> np.ndarray:
    """The same values in native byte order (big-endian files give '>i2' arrays)."""
    if array.dtype.byteorder in ("=", "|") or array.dtype.isnative:
        return array
    return array.astype(array.dtype.newbyteorder("="))


def one_line(exc: BaseException) -> str:
    """An exception's text squeezed onto one line (at most 200 characters), for wrapping in a GfmError."""
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__
