"""Where the pixels of an image are: a 4x4 affine (medical) or a CRS + transform (rasters).

Conventions
-----------
- ``affine`` maps an ARRAY INDEX, in the reader's stored axis order and over the spatial axes only, to RAS+
  millimetres (nibabel's convention): ``world = affine @ (i0, i1, i2, 1)``. For a 2D medical image (one DICOM
  slice, a 2D NIfTI) the affine is still 4x4: index ``(i0, i1, 0)``; its third column is the out-of-plane
  direction (slice thickness for DICOM, the NIfTI pixdim for NIfTI).
- ``transform`` is the GDAL / ``affine.Affine`` six-tuple ``(a, b, c, d, e, f)`` mapping ``(col, row)`` of the
  pixel's top-left corner to CRS ``(x, y)``: ``x = a*col + b*row + c``, ``y = d*col + e*row + f``. Array index
  ``(row, col)`` therefore maps through ``(col, row)``.
- ``spacing`` has one entry per spatial array axis, in array order: the length of the affine column (mm) for
  medical images, ``(row step, col step)`` in CRS units for rasters, ``1.0`` for photos.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from gfm_napari.errors import GeometryError

Transform = tuple[float, float, float, float, float, float]

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
"""DICOM / ITK / Slicer files place voxels in LPS mm; this flips them to RAS (it is its own inverse)."""


@dataclass(frozen=True, eq=False)
class Geometry:
    """Spatial placement of an image's pixels; exactly what an exported mask must reproduce.

    Attributes:
        spacing: one positive float per spatial array axis (array order).
        affine: 4x4 float64 array-index -> RAS+ mm, or None (rasters, photos). Stored read-only.
        crs: coordinate reference system as WKT, or None.
        transform: GDAL six-tuple (a, b, c, d, e, f), ``(col, row) -> (x, y)``, or None.
        nodata: the raster's nodata value (applies to every band), or None.
        area_or_point: the GeoTIFF ``AREA_OR_POINT`` tag ("Area" / "Point"), or None.
        nifti_header: the source's raw NIfTI-1 (348 bytes) or NIfTI-2 (540 bytes) header block, or None.
    """

    spacing: tuple[float, ...]
    affine: np.ndarray | None = None
    crs: str | None = None
    transform: Transform | None = None
    nodata: float | None = None
    area_or_point: str | None = None
    nifti_header: bytes | None = None

    def __post_init__(self) -> None:
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) not in (2, 3) or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise GeometryError(f"spacing must be 2 or 3 positive numbers, got {spacing}")
        object.__setattr__(self, "spacing", spacing)
        if self.affine is not None:
            affine = np.array(self.affine, dtype=np.float64)
            if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
                raise GeometryError(f"affine must be a finite 4x4 matrix, got shape {affine.shape}")
            if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
                raise GeometryError("affine is singular (zero voxel size or collinear axes)")
            affine.setflags(write=False)
            object.__setattr__(self, "affine", affine)
        if self.transform is not None:
            transform = tuple(float(v) for v in self.transform)
            if len(transform) != 6:
                raise GeometryError(f"transform must have 6 numbers (a, b, c, d, e, f), got {len(transform)}")
            object.__setattr__(self, "transform", transform)
        if self.nifti_header is not None and len(self.nifti_header) not in (348, 540):
            raise GeometryError(f"a NIfTI header has 348 or 540 bytes, got {len(self.nifti_header)}")

    @property
    def ndim(self) -> int:
        """Number of spatial axes (2 or 3)."""
        return len(self.spacing)

    @property
    def is_medical(self) -> bool:
        """True when the geometry is an affine in RAS+ mm (NIfTI, DICOM)."""
        return self.affine is not None

    @property
    def is_georeferenced(self) -> bool:
        """True when the geometry has a CRS and a transform (GeoTIFF)."""
        return self.crs is not None and self.transform is not None

    @property
    def orientation(self) -> str | None:
        """Axis codes of the spatial array axes in stored order, e.g. "RAS", "LPS" ("LA" in 2D); None without affine.

        Each letter names the anatomical direction in which the index of that axis increases (nibabel
        ``aff2axcodes``). For a 2D image only the two in-plane letters are given.
        """
        if self.affine is None:
            return None
        from nibabel.orientations import aff2axcodes

        codes = aff2axcodes(self.affine)
        return "".join(str(c) for c in codes[: self.ndim])

    def index_to_world(self, index: np.ndarray) -> np.ndarray:
        """Map array indices to world coordinates.

        Args:
            index: (N, ndim) float array of indices in stored array order (ndim = number of spatial axes).

        Returns:
            (N, 3) float64 RAS+ mm for medical images, (N, 2) CRS ``(x, y)`` of pixel CORNERS for rasters
            (add 0.5 to the index for pixel centres).

        Raises:
            GeometryError: the geometry has neither affine nor transform, or ``index`` has the wrong width.
        """
        idx = np.atleast_2d(np.asarray(index, dtype=np.float64))
        if idx.shape[1] != self.ndim:
            raise GeometryError(f"expected indices with {self.ndim} columns, got shape {idx.shape}")
        if self.affine is not None:
            padded = np.zeros((idx.shape[0], 3))
            padded[:, : self.ndim] = idx
            return padded @ self.affine[:3, :3].T + self.affine[:3, 3]
        if self.transform is not None and self.ndim == 2:
            a, b, c, d, e, f = self.transform
            row, col = idx[:, 0], idx[:, 1]
            return np.stack([a * col + b * row + c, d * col + e * row + f], axis=1)
        raise GeometryError("this image has no world coordinates (no affine, no georeferencing)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (for ``gfm-napari info --json``); the raw NIfTI header is summarised."""
        out: dict[str, Any] = {
            "spacing": list(self.spacing),
            "affine": None if self.affine is None else self.affine.tolist(),
            "orientation": self.orientation,
            "crs": self.crs,
            "transform": None if self.transform is None else list(self.transform),
            "nodata": _json_float(self.nodata),
            "area_or_point": self.area_or_point,
            "nifti": None,
        }
        if self.nifti_header is not None:
            header = nifti_header_from_bytes(self.nifti_header)
            out["nifti"] = {
                "version": 2 if len(self.nifti_header) == 540 else 1,
                "sform_code": int(header["sform_code"]),
                "qform_code": int(header["qform_code"]),
                "zooms": [float(z) for z in header.get_zooms()],
            }
        return out


def affine_from_lps(directions: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """The RAS affine of a grid given in LPS: ``directions[a]`` is the step of array axis ``a`` (2 or 3 axes, each a
    3-vector, or 2-vectors for a grid in the LPS x-y plane), ``origin`` the first voxel's centre.

    A 2D grid gets the unit normal of its plane as third column (1 mm: such files hold no slice thickness).
    """
    steps = np.asarray(directions, dtype=np.float64)
    ndim, width = steps.shape
    lps = np.eye(4)
    lps[:width, :ndim] = steps.T
    lps[:width, 3] = np.asarray(origin, dtype=np.float64)
    if ndim == 2:
        normal = np.cross(lps[:3, 0], lps[:3, 1])
        lps[:3, 2] = normal / np.linalg.norm(normal)
    return LPS_TO_RAS @ lps


def lps_from_affine(affine: np.ndarray, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`affine_from_lps`: (``ndim`` x 3 LPS steps of the array axes, 3-vector LPS origin)."""
    lps = LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)
    return lps[:3, :ndim].T.copy(), lps[:3, 3].copy()


def nifti_header_from_bytes(block: bytes) -> Any:
    """Rebuild a nibabel ``Nifti1Header`` / ``Nifti2Header`` from its raw bytes (endianness detected)."""
    import nibabel as nib

    cls = nib.Nifti2Header if len(block) == 540 else nib.Nifti1Header
    return cls.from_fileobj(io.BytesIO(block), check=False)


def _json_float(value: float | None) -> float | str | None:
    if value is None:
        return None
    if np.isnan(value):
        return "nan"
    return float(value)
