"""Pixels and geometry: read images, write masks on their grid, normalise intensities.

numpy + nibabel / pynrrd / SimpleITK / pydicom / rasterio / Pillow only — never torch, napari or Qt. Format modules
(:mod:`~gfm_napari.images.nifti`, :mod:`~gfm_napari.images.nrrd`, :mod:`~gfm_napari.images.metaimage`,
:mod:`~gfm_napari.images.dicom`, :mod:`~gfm_napari.images.geotiff`, :mod:`~gfm_napari.images.plain`) import their
library lazily, so importing this package is cheap.
"""

from gfm_napari.images.geometry import Geometry
from gfm_napari.images.image import MODALITIES, Image, ImageMetadata, ImageWarning
from gfm_napari.images.intensity import DEFAULT_CT_WINDOW, Normalization, fit_normalization
from gfm_napari.images.plane import Plane, axial_axis
from gfm_napari.images.io import SUPPORTED_FORMATS, read_image, write_mask

__all__ = [
    "DEFAULT_CT_WINDOW",
    "MODALITIES",
    "SUPPORTED_FORMATS",
    "Geometry",
    "Image",
    "ImageMetadata",
    "ImageWarning",
    "Normalization",
    "Plane",
    "axial_axis",
    "fit_normalization",
    "read_image",
    "write_mask",
]
