"""Bring a label map onto an image's voxel grid using both geometries (nearest neighbour, exact)."""

from __future__ import annotations

import numpy as np

from gfm_napari.errors import GeometryError
from gfm_napari.images.image import Image


def labels_on_grid(image: Image, labels: Image) -> np.ndarray:
    """``labels.array`` re-indexed onto ``image``'s spatial grid.

    Medical images: the two affines must agree up to an axis permutation, flips and an integer voxel offset
    (e.g. a LAS segmentation of an LPS DICOM series); voxels outside the label grid become 0. Rasters and plain
    images: the same shape (and the same CRS/transform when both have one).

    Returns:
        array of ``image.spatial_shape`` with ``labels.array``'s dtype.

    Raises:
        GeometryError: the label map is not on the image's grid (other voxel size, rotation, fractional offset,
            another shape / CRS / transform for rasters).
    """
    source, target = labels.geometry, image.geometry
    if source.affine is None or target.affine is None or source.crs is not None or target.crs is not None:
        if labels.spatial_shape != image.spatial_shape:
            raise GeometryError(f"label shape {labels.spatial_shape} differs from image shape {image.spatial_shape}")
        if source.transform is not None and target.transform is not None and (
            source.crs != target.crs or not np.allclose(source.transform, target.transform)
        ):
            raise GeometryError("the label raster has another CRS or transform than the image")
        return np.asarray(labels.array)
    ndim = image.spatial_ndim
    # image voxel index -> label voxel index
    mapping = np.linalg.inv(np.asarray(source.affine, float)) @ np.asarray(target.affine, float)
    rotation, offset = mapping[:3, :3], mapping[:3, 3]
    label_axes = np.argmax(np.abs(rotation), axis=0)[:ndim]
    signs = np.sign(rotation[label_axes, np.arange(ndim)])
    # same voxel size, axes only permuted / flipped: |entry| is 1 where an image axis meets its label axis, else 0
    expected = np.zeros((3, ndim))
    expected[label_axes, np.arange(ndim)] = 1.0
    is_permutation = sorted(label_axes.tolist()) == list(range(ndim)) and np.allclose(
        np.abs(rotation[:, :ndim]), expected, atol=1e-4
    )
    if labels.spatial_ndim != ndim or not is_permutation or not np.allclose(offset, offset.round(), atol=1e-3):
        raise GeometryError("the label map is not on the image's voxel grid (up to axis order and flips)")
    reordered = np.transpose(np.asarray(labels.array), label_axes)  # axis a <- label axis label_axes[a]
    indices, keep = [], np.ones(image.spatial_shape, bool)
    for axis in range(ndim):
        index = (signs[axis] * np.arange(image.spatial_shape[axis]) + offset[label_axes[axis]]).round().astype(int)
        inside = (index >= 0) & (index < reordered.shape[axis])
        indices.append(np.where(inside, index, 0))
        keep &= inside.reshape([-1 if a == axis else 1 for a in range(ndim)])
    return np.where(keep, reordered[np.ix_(*indices)], 0).astype(reordered.dtype)


def resample_labels(image: Image, labels: Image) -> np.ndarray:
    """``labels.array`` resampled onto ``image``'s spatial grid by nearest neighbour through both geometries (each
    image voxel takes the label of the voxel its centre falls in; outside the label map: 0). For a label map that
    :func:`labels_on_grid` refuses, when the user asks for it.

    Raises:
        GeometryError: the two do not both have a world geometry (affines, or CRS and transform).
    """
    source, target = labels.geometry, image.geometry
    values = np.asarray(labels.array)
    if source.is_georeferenced and target.is_georeferenced:
        from rasterio.transform import Affine
        from rasterio.warp import Resampling, reproject

        if labels.spatial_ndim != 2 or image.spatial_ndim != 2:
            raise GeometryError("raster labels resample onto a 2D raster only")
        out = np.zeros(image.spatial_shape, values.dtype)
        reproject(values, out, src_transform=Affine(*source.transform), src_crs=source.crs,
                  dst_transform=Affine(*target.transform), dst_crs=target.crs, resampling=Resampling.nearest,
                  src_nodata=None, dst_nodata=0)
        return out
    if source.affine is None or target.affine is None:
        raise GeometryError("resampling needs both images' geometry (a medical affine, or a GeoTIFF's CRS)")
    mapping = np.linalg.inv(np.asarray(source.affine, float)) @ np.asarray(target.affine, float)
    out = np.zeros(image.spatial_shape, values.dtype)
    grid = np.indices(image.spatial_shape[1:], dtype=float).reshape(image.spatial_ndim - 1, -1)
    for first in range(image.spatial_shape[0]):  # one slab at a time: memory of one slice's coordinates
        index = np.zeros((3, grid.shape[1]))
        index[: image.spatial_ndim] = np.vstack([np.full(grid.shape[1], first), grid])
        found = np.rint(mapping[:3, :3] @ index + mapping[:3, 3:]).astype(int)
        extent = np.array(labels.spatial_shape + (1,) * (3 - labels.spatial_ndim))[:, None]  # a 2D map: 1 deep
        inside = np.all((found >= 0) & (found < extent), axis=0)
        slab = np.zeros(grid.shape[1], values.dtype)
        slab[inside] = values[tuple(found[: labels.spatial_ndim, inside])]
        out[first] = slab.reshape(image.spatial_shape[1:])
    return out


def keep_slices(labels: np.ndarray, axis: int, slices: range) -> np.ndarray:
    """``labels`` with every slice along ``axis`` outside ``slices`` set to 0 (a held-apart part of a volume)."""
    keep = np.zeros(labels.shape[axis], bool)
    keep[slices.start : slices.stop] = True
    shape = [1] * labels.ndim
    shape[axis] = -1
    return np.where(keep.reshape(shape), labels, 0).astype(labels.dtype)
