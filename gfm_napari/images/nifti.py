"""NIfTI-1 / NIfTI-2 (.nii, .nii.gz) reading and mask writing with nibabel.

Reading keeps nibabel's stored (i, j, k) axis order — nothing is reoriented — and the affine is nibabel's
``img.affine`` (sform if its code > 0, else qform, else pixdim). Shapes:

- 2D file (I, J) -> 2D image; 3D (I, J, K) -> 3D image, also when K == 1 (kept 3D so a mask round-trips with
  the exact shape);
- 4D (I, J, K, T) -> ImageReadError naming the shape, unless ``volume=N`` picks one volume; T == 1 is read as
  volume 0 without asking; 5D and more -> ImageReadError.

Pixel dtype: unscaled files (scl_slope 0/NaN, or 1 with inter 0) keep their stored dtype (CT int16 stays int16);
scaled files give int16/int32 when slope and intercept are whole numbers and the result fits, else float32.

Modality guess: "CT" when the values are whole numbers with min in [-32768, -500] and max <= 32767 (HU range),
else "MR".

Writing: :func:`write_mask` copies the source's raw header (so sform/qform codes, srow, quaternion and pixdim are
bit-identical), sets the data dtype to uint8/uint16, scl_slope/scl_inter to NaN (no scaling), cal_min/max to 0
and descrip to "gfm-napari mask". A DICOM source (affine, no NIfTI header) gets a fresh header with
sform_code = qform_code = 1 (scanner) and xyzt_units mm. Sources without an affine (GeoTIFF, PNG) raise
ExportError: a NIfTI mask would lose their georeferencing — write .tif or .png instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gfm_napari.errors import ExportError, ImageReadError
from gfm_napari.images._reading import check_finite, existing_file, native_byte_order, one_line
from gfm_napari.images._writing import check_destination, label_mask
from gfm_napari.images.atomic import atomic_path
from gfm_napari.images.geometry import Geometry, nifti_header_from_bytes
from gfm_napari.images.image import Image, ImageMetadata



class VolumeChoiceError(ImageReadError):
    """A 4D file read without picking one of its ``count`` volumes, or with one out of range (``requested``);
    front ends re-word it for their own way of picking (the CLI's ``--volume``)."""

    def __init__(self, message: str, *, name: str, shape: tuple[int, ...], count: int, requested: object = None):
        super().__init__(message)
        self.name, self.shape, self.count, self.requested = name, shape, count, requested


def read(path: str | os.PathLike[str], *, volume: int | None = None) -> Image:
    """Read a .nii / .nii.gz file.

    Args:
        path: the file.
        volume: index of the volume to take from a 4D file (required when T > 1).

    Returns:
        Image with array (I, J[, K]) in stored order, ``geometry.affine`` = nibabel affine,
        ``geometry.nifti_header`` = the raw header bytes, modality "CT" or "MR".

    Raises:
        ImageReadError: missing / empty / unreadable file, unsupported dimensionality or dtype, NaN values.
    """
    import nibabel as nib

    p = existing_file(path)
    try:
        img = nib.load(p)
    except Exception as exc:  # nibabel raises ImageFileError, EOFError, zlib / gzip errors, ValueError...
        raise ImageReadError(f"cannot read '{p.name}' as NIfTI: {one_line(exc)}") from exc
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise ImageReadError(f"'{p.name}' is not a NIfTI-1/2 file ({type(img).__name__})")
    shape = tuple(int(s) for s in img.shape)
    index = _volume_index(shape, volume, p.name)
    try:
        array = _load_data(img, index)
    except ImageReadError:
        raise
    except Exception as exc:  # truncated gzip, bad vox_offset, ...
        raise ImageReadError(f"cannot read the pixel data of '{p.name}': {one_line(exc)}") from exc
    check_finite(array, p.name)

    spatial_ndim = array.ndim
    affine = np.asarray(img.affine, dtype=np.float64)
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :spatial_ndim], axis=0))
    header_bytes = bytes(img.header.binaryblock)
    geometry = Geometry(spacing=spacing, affine=affine, nifti_header=header_bytes)
    metadata = ImageMetadata(
        format="nifti2" if len(header_bytes) == 540 else "nifti1",
        stored_dtype=np.dtype(img.header.get_data_dtype()).newbyteorder("=").name,
    )
    return Image(
        array=array,
        geometry=geometry,
        modality=guess_modality(array),
        source=p,
        axis_names=("i", "j", "k")[:spatial_ndim],
        metadata=metadata,
    )


def guess_modality(array: np.ndarray) -> str:
    """"CT" for whole-number data with min in [-32768, -500] and max <= 32767 (Hounsfield units), else "MR".

    Judged on at most ~16 slices spread along the last axis, so that opening a memory-mapped volume reads (and
    keeps resident) only those, not the whole file.
    """
    if array.ndim == 3 and array.shape[-1] > 16:
        array = array[..., np.linspace(0, array.shape[-1] - 1, 16).round().astype(int)]
    low, high = float(array.min()), float(array.max())
    integral = np.issubdtype(array.dtype, np.integer) or bool(np.all(np.mod(array, 1) == 0))
    return "CT" if integral and -32768 <= low <= -500 and high <= 32767 else "MR"


def write_mask(path: str | os.PathLike[str], mask: np.ndarray, source: Image) -> Path:
    """Write a label mask as .nii / .nii.gz on the source's grid, atomically.

    Args:
        path: output file (.nii or .nii.gz); must not be the source file.
        mask: labels, shape ``source.spatial_shape`` in the source's stored axis order; stored as uint8, or
            uint16 when the largest label is > 255.
        source: the image the mask was drawn on (NIfTI or DICOM).

    Returns:
        The written path.

    Raises:
        GeometryError: shape mismatch. ExportError: bad path / labels, or a source without an affine.
    """
    import nibabel as nib

    out = check_destination(path, source)
    data = label_mask(mask, source)
    geometry = source.geometry
    if geometry.affine is None:
        raise ExportError("NIfTI export needs a medical image (affine); write this mask as .tif or .png")
    if geometry.nifti_header is not None:
        header = nifti_header_from_bytes(geometry.nifti_header)
        cls = nib.Nifti2Image if len(geometry.nifti_header) == 540 else nib.Nifti1Image
        header.set_data_dtype(data.dtype)
        image = cls(data, None, header=header)
    else:
        image = nib.Nifti1Image(data, geometry.affine)
        image.header.set_data_dtype(data.dtype)
        image.header.set_sform(geometry.affine, code=1)
        image.header.set_qform(geometry.affine, code=1)
        image.header.set_xyzt_units("mm")
    header = image.header
    header["scl_slope"] = np.nan
    header["scl_inter"] = np.nan
    header["cal_min"] = 0
    header["cal_max"] = 0
    header["descrip"] = b"gfm-napari mask"
    try:
        with atomic_path(out) as tmp:
            nib.save(image, tmp)
    except OSError as exc:
        raise ExportError(f"cannot write '{out.name}': {one_line(exc)}") from exc
    return out


def _volume_index(shape: tuple[int, ...], volume: int | None, name: str) -> int | None:
    """Which 4th-axis index to take (None for 2D/3D files)."""
    ndim = len(shape)
    if ndim in (2, 3):
        if volume not in (None, 0):
            raise ImageReadError(f"'{name}' has shape {shape}: it has no volume {volume}")
        return None
    if ndim == 4:
        n = shape[3]
        if volume is None:
            if n == 1:
                return 0
            raise VolumeChoiceError(f"'{name}' is 4D with shape {shape}; pick one volume with volume=0..{n - 1}",
                                    name=name, shape=shape, count=n)
        if isinstance(volume, bool) or not isinstance(volume, (int, np.integer)) or not 0 <= volume < n:
            raise VolumeChoiceError(f"volume={volume!r} is out of range for '{name}' with shape {shape} (0..{n - 1})",
                                    name=name, shape=shape, count=n, requested=volume)
        return int(volume)
    raise ImageReadError(f"'{name}' has shape {shape}; only 2D, 3D and 4D (with volume=N) NIfTI are supported")


def _load_data(img, index: int | None) -> np.ndarray:
    """Pixel data of the chosen volume, scaled, in native byte order."""
    proxy = img.dataobj
    dtype = np.dtype(img.header.get_data_dtype())
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise ImageReadError(f"unsupported NIfTI data type {dtype} (RGB / complex images are not supported)")
    raw = np.asanyarray(proxy.get_unscaled() if hasattr(proxy, "get_unscaled") else proxy)
    if index is not None:
        raw = raw[..., index]
    raw = native_byte_order(np.asarray(raw))
    slope = float(getattr(proxy, "slope", 1.0))
    inter = float(getattr(proxy, "inter", 0.0))
    if slope == 1.0 and inter == 0.0:
        return raw
    if slope.is_integer() and inter.is_integer() and raw.dtype.kind in "biu":
        scaled = raw.astype(np.int64) * int(slope) + int(inter)
        for target in (np.int16, np.int32):
            info = np.iinfo(target)
            if scaled.min() >= info.min and scaled.max() <= info.max:
                return scaled.astype(target)
    return (raw.astype(np.float64) * slope + inter).astype(np.float32)
