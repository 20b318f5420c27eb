"""MetaImage (.mha, .mhd + its data file) reading and .mha mask writing with SimpleITK (ITK's own MetaIO).

Axis order: as stored, fastest-varying axis first — (x, y, z) index order, the (i, j, k) of NIfTI and NRRD (the
transpose of SimpleITK's (z, y, x) arrays); nothing is reoriented. Axis names ("i", "j", "k").

Geometry: ITK places voxels in LPS mm — ``LPS = Offset + TransformMatrix @ diag(ElementSpacing) @ index`` — and
the affine is that flipped to RAS, ``diag(-1, -1, 1) @ LPS`` (``AnatomicalOrientation`` is ignored, as ITK does).
A 2D file gives a 2D image whose affine's third column is the unit normal of its plane.

Only 2D and 3D scalar images are read (vector / multi-component pixels and 4D give ImageReadError). Modality guess:
as for NIfTI (:func:`~gfm_napari.images.nifti.guess_modality`).

Writing: :func:`write_mask` gives a compressed .mha (one file, so it can be written atomically; .mhd + .raw is read
only) in uint8 / uint16 with the source's geometry; always 3D — a 2D image's mask is one slice thick, along the
affine's third column — so an oblique slice keeps its orientation. Medical sources only (an affine).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from gfm_napari.errors import ExportError, ImageReadError
from gfm_napari.images._reading import check_finite, existing_file, native_byte_order, one_line
from gfm_napari.images._writing import label_mask, required_affine
from gfm_napari.images.atomic import atomic_path
from gfm_napari.images.geometry import Geometry, affine_from_lps, lps_from_affine
from gfm_napari.images.image import Image, ImageMetadata
from gfm_napari.images.nifti import guess_modality



def read(path: str | os.PathLike[str]) -> Image:
    """Read a .mha / .mhd file (see the module docstring for axes and geometry).

    Raises:
        ImageReadError: missing / empty / unreadable / truncated file, vector pixels, 4D, NaN values.
    """
    import SimpleITK as sitk

    p = existing_file(path)
    reader = sitk.ImageFileReader()
    reader.SetImageIO("MetaImageIO")
    reader.SetFileName(str(p))
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise ImageReadError(f"cannot read '{p.name}' as MetaImage: {_itk_reason(exc, p)}") from exc
    ndim = image.GetDimension()
    if image.GetNumberOfComponentsPerPixel() != 1 or ndim not in (2, 3):
        raise ImageReadError(
            f"'{p.name}' has {ndim} dimensions and {image.GetNumberOfComponentsPerPixel()} values per voxel; "
            "only 2D and 3D scalar MetaImages are supported"
        )
    array = native_byte_order(sitk.GetArrayViewFromImage(image).T.copy(order="K"))
    check_finite(array, p.name)
    direction = np.asarray(image.GetDirection(), float).reshape(ndim, ndim)
    steps = (direction * np.asarray(image.GetSpacing(), float)).T  # row a: the LPS step of array axis a
    affine = affine_from_lps(steps, np.asarray(image.GetOrigin(), float))
    return Image(
        array=array,
        geometry=Geometry(spacing=tuple(float(s) for s in image.GetSpacing()), affine=affine),
        modality=guess_modality(array),
        source=p,
        axis_names=("i", "j", "k")[:ndim],
        metadata=ImageMetadata(format="metaimage", stored_dtype=array.dtype.name),
    )


def write_mask(path: str | os.PathLike[str], mask: np.ndarray, source: Image) -> Path:
    """Write a label mask as a compressed .mha on the source's grid, atomically.

    Raises:
        GeometryError: shape mismatch. ExportError: bad labels, a source without an affine, a failed write.
    """
    import SimpleITK as sitk

    out = Path(path)
    affine = required_affine(source, "MetaImage")
    data = label_mask(mask, source)
    volume = data if data.ndim == 3 else data[..., np.newaxis]
    steps, origin = lps_from_affine(affine, 3)
    spacing = np.linalg.norm(steps, axis=1)
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.T))
    image.SetSpacing(spacing.tolist())
    image.SetOrigin(origin.tolist())
    image.SetDirection((steps.T / spacing).ravel().tolist())
    try:
        with atomic_path(out) as tmp:
            sitk.WriteImage(image, str(tmp), True)
    except RuntimeError as exc:
        raise ExportError(f"cannot write '{out.name}': {_itk_reason(exc, out)}") from exc
    return out


def _itk_reason(exc: BaseException, path: Path) -> str:
    """The reason in an ITK exception, without its source-file location, object address, the file's folder and
    the "Reason: Success" of a read that failed without a system error."""
    reason = str(exc).rsplit("ERROR:", 1)[-1].replace(str(path), path.name).replace("Reason: Success", "")
    return one_line(re.sub(r"^\s*\w+\(0x[0-9a-fA-F]+\):\s*", "", reason))
