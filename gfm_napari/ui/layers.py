"""Core :class:`~gfm_napari.images.Image` → napari layer data tuples, placed by their geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from ..images import DEFAULT_CT_WINDOW, Image, Normalization, fit_normalization
from ..images.geometry import Geometry
from ..images.image import ImageMetadata
from ..images.windowed import DisplayLevel, raster_of

IMAGE_KEY = "gfm_image"  # layer.metadata[IMAGE_KEY] holds the core Image, so writers can copy its geometry
# Distinct colours that stay readable over grey CT/MR and satellite images (object 1 = orange, 2 = blue, ...).
OBJECT_COLOURS = ("#ff7f0e", "#1f9bff", "#2ca02c", "#e8313a", "#a66bd6", "#17becf", "#e377c2", "#bcbd22", "#8c564b")


def placement(image: Image) -> dict:
    """napari ``affine`` (medical volumes) or ``scale``/``translate`` (2D images, rasters).

    Rasters use world coordinates (-northing, easting) so that north is up on napari's downward y axis.
    """
    geometry = image.geometry
    if geometry.transform is not None:
        a, _, c, _, e, f = geometry.transform
        return {"scale": (abs(e), abs(a)), "translate": (-f if e < 0 else f, c)}
    if geometry.affine is not None and image.spatial_ndim == 3:
        return {"affine": np.asarray(geometry.affine)}
    return {"scale": tuple(geometry.spacing[: image.spatial_ndim])}


def contrast_limits(image: Image) -> tuple[float, float]:
    if image.modality == "CT":
        level, width = DEFAULT_CT_WINDOW
        return level - width / 2, level + width / 2
    normalization = fit_normalization(image)
    low, high = np.min(normalization.low), np.max(normalization.high)
    return float(low), float(high) if high > low else float(low) + 1.0


def is_multiband(image: Image) -> bool:
    """A raster with more than 3 bands: the user picks which 3 the model sees and the layer shows."""
    return image.channel_axis is not None and image.n_channels > 3 and image.geometry.transform is not None


def band_composite(image: Image, normalization: Normalization) -> np.ndarray | list[DisplayLevel]:
    """The chosen 3 bands of a multi-band raster, each stretched as the model sees it, as uint8 RGB; for a raster
    read by windows, a display pyramid that stretches each window napari reads."""
    raster = raster_of(image)
    if raster is not None:
        return [DisplayLevel(level, normalization) for level in raster.pyramid()]
    stretched = normalization.apply(np.asarray(image.array))  # apply() keeps the chosen bands
    return np.round(stretched * 255).astype(np.uint8)


def image_layer_data(image: Image, name: str | None = None) -> tuple:
    """``(data, kwargs, "image")`` for napari, with the core image kept in the layer's metadata. A raster with more
    than 3 bands shows its default 3 (true colour when named, else the first three) as RGB. A raster read by windows
    (``image.is_lazy``) is shown as a multiscale pyramid: napari reads only the windows on screen, at the level
    that fits the zoom."""
    if image.is_lazy:
        return _pyramid_layer_data(image, name)
    data = np.asarray(image.array)
    multiband = is_multiband(image)
    kwargs = {
        "name": name or image.source.name.split(".")[0],
        "metadata": {IMAGE_KEY: image},
        "rgb": multiband or (
            image.channel_axis is not None and image.n_channels in (3, 4) and image.array.dtype == np.uint8
        ),
        **placement(image),
    }
    if multiband:
        data = band_composite(image, fit_normalization(image))
    elif not kwargs["rgb"]:
        kwargs["contrast_limits"] = contrast_limits(image)
        kwargs["colormap"] = "gray"
    return data, kwargs, "image"


def _pyramid_layer_data(image: Image, name: str | None) -> tuple:
    levels = raster_of(image).pyramid()
    kwargs = {"name": name or image.source.name.split(".")[0], "metadata": {IMAGE_KEY: image},
              "multiscale": len(levels) > 1, **placement(image)}
    if image.channel_axis is None:
        kwargs.update(contrast_limits=contrast_limits(image), colormap="gray")
        data = levels
    elif image.n_channels == 3 and image.array.dtype == np.uint8:
        data = levels
    else:
        data = band_composite(image, fit_normalization(image))
    kwargs["rgb"] = image.channel_axis is not None
    return (data if len(data) > 1 else data[0]), kwargs, "image"


def labels_layer_data(labels: np.ndarray, image: Image, name: str, where: dict | None = None) -> tuple:
    """``(data, kwargs, "labels")`` on the grid of ``image`` (placed by ``where``, default :func:`placement`)."""
    where = placement(image) if where is None else where
    return np.asarray(labels), {"name": name, "metadata": {IMAGE_KEY: image}, **where}, "labels"


def adopt_layer(layer) -> Image:
    """An image layer gfm-napari did not open (napari's own reader, ``viewer.add_image``, another plugin) as a core
    Image, when it is a plain in-memory 2D or 3D array (or a 2D RGB(A) one; alpha is dropped).

    Geometry: the layer's scale as spacing, nothing else (place what is drawn on it with :func:`layer_placement`).
    Modality: "CT" when the values look like Hounsfield units (below -500 and above 200: the dock's CT window
    applies), else "MR" for a volume and "photo" for a 2D image (both stretched by percentiles).

    Raises:
        ImageReadError: a multiscale or lazy (dask, zarr) layer, more than 3 dimensions, no numbers, NaN values.
    """
    name = layer.name
    if getattr(layer, "multiscale", False) or not isinstance(layer.data, np.ndarray):
        raise ImageReadError(f"'{name}' is not an in-memory array: open its file with gfm-napari (File ▸ Open)")
    array = layer.data
    rgb = bool(getattr(layer, "rgb", False))
    spatial = array.ndim - (1 if rgb else 0)
    if spatial not in (2, 3) or (rgb and spatial != 2):
        raise ImageReadError(
            f"'{name}' has shape {array.shape}: gfm-napari segments 2D and 3D images (and 2D colour ones)"
        )
    if rgb:
        array = array[..., :3]
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ImageReadError(f"'{name}' holds {array.dtype} values, not numbers gfm-napari can segment")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise ImageReadError(f"'{name}' holds NaN or infinite values")
    low, high = (float(array.min()), float(array.max())) if not rgb else (0.0, 0.0)
    modality = "CT" if low <= -500 and high >= 200 else "MR" if spatial == 3 else "photo"
    path = getattr(getattr(layer, "source", None), "path", None)
    return Image(
        array=array,
        geometry=Geometry(spacing=tuple(abs(float(s)) or 1.0 for s in layer.scale[-spatial:])),
        modality=modality,
        source=Path(path) if path else Path(name),
        channel_axis=2 if rgb else None,
        metadata=ImageMetadata(format="napari layer", stored_dtype=array.dtype.name),
    )


def layer_placement(layer) -> dict:
    """Where ``layer`` is in the world, as layer keyword arguments: layers made with them lie exactly on it."""
    return {
        "scale": tuple(layer.scale), "translate": tuple(layer.translate), "rotate": np.asarray(layer.rotate),
        "shear": np.asarray(layer.shear), "affine": np.asarray(layer.affine.affine_matrix),
    }


def object_colormap():
    """A napari label colormap cycling through :data:`OBJECT_COLOURS` (0 stays transparent)."""
    from napari.utils.colormaps import CyclicLabelColormap

    return CyclicLabelColormap(colors=["transparent", *OBJECT_COLOURS])
