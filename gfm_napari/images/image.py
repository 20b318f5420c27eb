"""The in-memory image: an array in its stored axis order plus its geometry and a few safe facts.

Axis order per reader (spatial axes first; a channel axis, when there is one, is LAST and only for 2D):

==========================  ===============================  ==========================
reader                      array shape                      ``axis_names``
==========================  ===============================  ==========================
NIfTI 3D / 2D               (I, J, K) / (I, J) as stored     ("i", "j", "k") / ("i", "j")
NRRD, MetaImage 3D / 2D     (I, J, K) / (I, J) as stored     ("i", "j", "k") / ("i", "j")
DICOM series                (slice, row, col)                ("slice", "row", "col")
DICOM single slice          (row, col)                       ("row", "col")
GeoTIFF 1 band / B bands    (row, col) / (row, col, B)       ("row", "col"[, "band"])
PNG / JPEG / plain TIFF     (row, col) / (row, col, 3)       ("row", "col"[, "channel"])
==========================  ===============================  ==========================

No patient identifiers are ever kept: :class:`ImageMetadata` holds only technical facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gfm_napari.errors import GeometryError, ImageReadError
from gfm_napari.images.geometry import Geometry

MODALITIES = ("CT", "MR", "raster", "photo")
"""Allowed values of :attr:`Image.modality` (they choose the default intensity normalisation)."""


class ImageWarning(UserWarning):
    """Something about an image that the user should know but that does not stop reading (e.g. a slice gap)."""


class LazyArray:
    """Base of read-only array-likes that read pixels only when indexed (e.g. a GeoTIFF window by window).
    Subclasses set ``shape``, ``dtype`` and ``ndim`` and implement ``__getitem__`` returning numpy arrays."""

    shape: tuple[int, ...]
    dtype: np.dtype
    ndim: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __getitem__(self, key: Any) -> np.ndarray:
        raise NotImplementedError

    def sample(self) -> np.ndarray:
        """The whole array decimated to a size that fits in memory, for fitting intensity statistics."""
        raise NotImplementedError

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Every pixel (napari asks for this only for small pyramid levels)."""
        array = self[:, :]
        return array if dtype is None else array.astype(dtype)


@dataclass(frozen=True)
class ImageMetadata:
    """Non-identifying facts about where an image came from.

    Attributes:
        format: "nifti1", "nifti2", "nrrd", "metaimage", "dicom", "geotiff", "tiff", "png", "jpeg".
        stored_dtype: dtype name of the pixels as stored in the file (before any rescale).
        description: DICOM SeriesDescription or None (NIfTI ``descrip`` is not kept: free text).
        series_uid: DICOM SeriesInstanceUID ("" when the files carry none) or None.
        source_modality: the file's own modality tag (e.g. DICOM "PT") when it differs from the mapped one.
        band_descriptions: one entry per band / channel (None where the file has none); () for 1-channel images.
        n_files: number of files read (DICOM series), else 1.
        warnings: human-readable, one line each (slice gaps, ...); also emitted as :class:`ImageWarning`.
        frames: DICOM: the file and frame number (None for single-frame files) of each slice, in array order; what a
            DICOM-SEG references. Not part of :meth:`to_dict`.
        segment_names: (label value, name) of each named segment, by value (a 3D Slicer .seg.nrrd);
            ``dict(segment_names)`` is the ``names`` mapping :func:`~gfm_napari.images.io.write_mask` takes.
    """

    format: str
    stored_dtype: str
    description: str | None = None
    series_uid: str | None = None
    source_modality: str | None = None
    band_descriptions: tuple[str | None, ...] = ()
    n_files: int = 1
    warnings: tuple[str, ...] = ()
    frames: tuple[tuple[Path, int | None], ...] = ()
    segment_names: tuple[tuple[int, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "format": self.format,
            "stored_dtype": self.stored_dtype,
            "description": self.description,
            "series_uid": self.series_uid,
            "source_modality": self.source_modality,
            "band_descriptions": list(self.band_descriptions),
            "n_files": self.n_files,
            "warnings": list(self.warnings),
            "segment_names": {str(value): name for value, name in self.segment_names},
        }


@dataclass(frozen=True, eq=False)
class Image:
    """Pixels + geometry, as read from one file, folder or file list.

    Attributes:
        array: numeric array in the reader's stored axis order (see the module table); spatial axes first, an
            optional channel axis last (2D only). Kept as a read-only view: copy it before modifying.
        geometry: where the pixels are (:class:`Geometry`); ``geometry.ndim == spatial_ndim``.
        modality: one of :data:`MODALITIES`.
        source: the path it was read from (file or, for a DICOM series, the folder / first file).
        channel_axis: ``array.ndim - 1`` for multi-channel 2D images, else None.
        axis_names: one short name per array axis, e.g. ("slice", "row", "col").
        metadata: :class:`ImageMetadata`.
    """

    array: np.ndarray | LazyArray
    geometry: Geometry
    modality: str
    source: Path
    channel_axis: int | None = None
    axis_names: tuple[str, ...] = ()
    metadata: ImageMetadata = field(default_factory=lambda: ImageMetadata(format="unknown", stored_dtype=""))

    def __post_init__(self) -> None:
        array = self.array if isinstance(self.array, LazyArray) else np.asarray(self.array)
        if array.size == 0:
            raise ImageReadError(f"image is empty (shape {array.shape})")
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) or np.issubdtype(
            array.dtype, np.complexfloating
        ):
            raise ImageReadError(f"unsupported pixel type {array.dtype}")
        if isinstance(array, np.ndarray):
            array = array.view()
            array.setflags(write=False)
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "source", Path(self.source))
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        n_channel = 0 if self.channel_axis is None else 1
        if self.channel_axis is not None and self.channel_axis != array.ndim - 1:
            raise ValueError(f"channel_axis must be the last axis ({array.ndim - 1}), got {self.channel_axis}")
        spatial_ndim = array.ndim - n_channel
        if spatial_ndim not in (2, 3) or (n_channel and spatial_ndim != 2):
            raise ImageReadError(f"expected a 2D, 3D or 2D multi-channel image, got shape {array.shape}")
        if self.geometry.ndim != spatial_ndim:
            raise GeometryError(
                f"geometry has {self.geometry.ndim} spatial axes but the image has {spatial_ndim} (shape {array.shape})"
            )
        names = tuple(self.axis_names) or _default_axis_names(spatial_ndim, n_channel)
        if len(names) != array.ndim:
            raise ValueError(f"axis_names {names} do not match array shape {array.shape}")
        object.__setattr__(self, "axis_names", names)

    @property
    def is_lazy(self) -> bool:
        """True when ``array`` is a :class:`LazyArray` read window by window (a raster larger than memory): index it
        for the pixels you need; never ``np.asarray`` it whole."""
        return isinstance(self.array, LazyArray)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape of the spatial axes (what a mask for this image must have)."""
        return tuple(self.array.shape[: self.spatial_ndim])

    @property
    def spatial_ndim(self) -> int:
        """2 or 3."""
        return self.array.ndim - (0 if self.channel_axis is None else 1)

    def plane_shape(self, axis: int | None = None) -> tuple[int, int]:
        """(rows, cols) of a plane: the spatial shape of a 2D image, that of a volume without ``axis``."""
        shape = self.spatial_shape
        return shape if self.spatial_ndim == 2 else tuple(s for d, s in enumerate(shape) if d != axis)

    @property
    def n_channels(self) -> int:
        """Number of channels / bands (1 when there is no channel axis)."""
        return 1 if self.channel_axis is None else int(self.array.shape[self.channel_axis])

    def zeros(self, dtype: np.typing.DTypeLike) -> np.ndarray:
        """A zero array on the spatial grid, laid out in memory like ``array`` (Fortran order for NIfTI files).

        Masks and labels made this way cost memory only for the slices written to: writing one slice of a
        same-layout array touches that slice's pages alone, and pages never written take none.
        """
        flags = getattr(self.array, "flags", None)
        fortran = flags is not None and flags.f_contiguous and not flags.c_contiguous
        return np.zeros(self.spatial_shape, dtype=dtype, order="F" if fortran else "C")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary for ``gfm-napari info --json`` (no pixel data)."""
        return {
            "source": str(self.source),
            "modality": self.modality,
            "shape": list(self.array.shape),
            "dtype": self.array.dtype.name,
            "axis_names": list(self.axis_names),
            "channel_axis": self.channel_axis,
            "geometry": self.geometry.to_dict(),
            "metadata": self.metadata.to_dict(),
        }


def _default_axis_names(spatial_ndim: int, n_channel: int) -> tuple[str, ...]:
    names = ("slice", "row", "col") if spatial_ndim == 3 else ("row", "col")
    return names + (("channel",) if n_channel else ())
