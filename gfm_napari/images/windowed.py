"""Rasters larger than memory: windowed reads, decimated overviews and a display pyramid (rasterio).

:class:`RasterFile` holds only the file's facts; every read opens the file, reads one window (or the whole scene
decimated, which uses the GeoTIFF's overviews when it has them) and closes it, with GDAL's block cache capped at
:data:`GDAL_CACHE_MB` — so memory grows with the window, never with the scene, and reads are safe from any thread.
A window comes back as an :class:`~gfm_napari.images.image.Image` with its own transform, so that the predictor,
the writers and the polygon export treat it like any small raster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gfm_napari.errors import GfmError, ImageReadError
from gfm_napari.images._reading import existing_file, native_byte_order, one_line
from gfm_napari.images.geometry import Geometry
from gfm_napari.images.image import Image, ImageMetadata, LazyArray
from gfm_napari.images.intensity import Normalization

GDAL_CACHE_MB = 64
LARGE_RASTER_PIXELS = 8192 * 8192
"""Rasters with more pixels than this are read window by window and segmented by tiles (``gfm-napari segment``,
and the dock), and napari shows them as a multiscale pyramid."""


@dataclass(frozen=True)
class Window:
    """A rectangle of pixels: top-left ``(row, col)`` and size ``(rows, cols)``."""

    row: int
    col: int
    rows: int
    cols: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.row, self.row + self.rows), slice(self.col, self.col + self.cols)


@dataclass(frozen=True)
class RasterFile:
    """A georeferenced raster read window by window (see the module docstring)."""

    path: Path
    shape: tuple[int, int]
    n_bands: int
    dtype: str
    geometry: Geometry
    band_descriptions: tuple[str | None, ...]

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RasterFile:
        """The raster's facts (no pixels read). ImageReadError: unreadable, or without CRS."""
        p = existing_file(path)
        try:
            with _env(), _open(p) as ds:
                if ds.crs is None:
                    raise ImageReadError(f"'{p.name}' has no CRS: windowed reading is for georeferenced rasters")
                transform = tuple(ds.transform)[:6]
                a, b, _, d, e, _ = transform
                geometry = Geometry(
                    spacing=(float(np.hypot(b, e)), float(np.hypot(a, d))), crs=ds.crs.to_wkt(), transform=transform,
                    nodata=None if ds.nodata is None else float(ds.nodata),
                    area_or_point=ds.tags().get("AREA_OR_POINT"),
                )
                return cls(p, (ds.height, ds.width), ds.count, ds.dtypes[0], geometry, tuple(ds.descriptions))
        except ImageReadError:
            raise
        except Exception as exc:
            raise ImageReadError(f"cannot read '{p.name}' as a raster: {one_line(exc)}") from exc

    @property
    def n_pixels(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        """Size of the whole scene in memory (all bands)."""
        return self.n_pixels * self.n_bands * np.dtype(self.dtype).itemsize

    def read(self, window: Window, out_shape: tuple[int, int] | None = None) -> np.ndarray:
        """Pixels of ``window`` as (rows, cols) or (rows, cols, band); decimated to ``out_shape`` when given."""
        from rasterio.enums import Resampling
        from rasterio.windows import Window as RioWindow

        size = out_shape or (window.rows, window.cols)
        with _env(), _open(self.path) as ds:
            bands = ds.read(
                window=RioWindow(window.col, window.row, window.cols, window.rows),
                out_shape=(self.n_bands, *size), resampling=Resampling.nearest,
            )
        return native_byte_order(bands[0] if self.n_bands == 1 else np.moveaxis(bands, 0, -1))

    def overview(self, max_side: int = 2048) -> np.ndarray:
        """The whole scene decimated so that its longest side is at most ``max_side`` (for fitting a stretch).

        The factor is a power of two, as GeoTIFF overviews are: GDAL then reads the matching overview (0.03 s on a
        10240² scene) where another factor (5) made it read the full-resolution scene (40 s)."""
        factor = 2 ** max(0, int(np.ceil(np.log2(max(self.shape) / max_side))))
        out = (max(1, self.shape[0] // factor), max(1, self.shape[1] // factor))
        return self.read(Window(0, 0, *self.shape), out)

    def window_geometry(self, window: Window) -> Geometry:
        """The scene's geometry with the transform moved to the window's top-left pixel."""
        a, b, c, d, e, f = self.geometry.transform
        return replace(
            self.geometry, transform=(a, b, c + a * window.col + b * window.row, d, e, f + d * window.col + e * window.row)
        )

    def window_image(self, window: Window) -> Image:
        """``window`` as an Image whose transform places its pixel (0, 0) at the window's corner."""
        return self._image(self.read(window), self.window_geometry(window))

    @property
    def is_large(self) -> bool:
        """More pixels than :data:`LARGE_RASTER_PIXELS`: read by windows, segmented by tiles."""
        return self.n_pixels > LARGE_RASTER_PIXELS

    def image(self) -> Image:
        """The whole scene as a lazy :class:`Image` (``is_lazy``): its array reads only the windows indexed."""
        return self._image(RasterLevel(self, 1), self.geometry)

    def _image(self, array: np.ndarray | LazyArray, geometry: Geometry) -> Image:
        return Image(
            array=array, geometry=geometry, modality="raster", source=self.path,
            channel_axis=2 if array.ndim == 3 else None,
            metadata=ImageMetadata(format="geotiff", stored_dtype=self.dtype,
                                   band_descriptions=self.band_descriptions if array.ndim == 3 else ()),
        )

    def digest(self) -> str:
        """Identity of the file's pixels without reading them all: name, size, modification time and shape."""
        import hashlib

        stat = self.path.stat()
        text = f"{self.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{self.shape}|{self.n_bands}|{self.dtype}"
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def pyramid(self, min_side: int = 512) -> list[RasterLevel]:
        """Display levels, full resolution first, each half the previous, down to ``min_side`` (napari multiscale)."""
        levels, factor = [], 1
        while True:
            levels.append(RasterLevel(self, factor))
            if max(self.shape) // (factor * 2) < min_side:
                return levels
            factor *= 2


class RasterLevel(LazyArray):
    """One pyramid level as a read-only array-like: ``level[rows, cols]`` reads just that window (decimated)."""

    def __init__(self, raster: RasterFile, factor: int) -> None:
        self.raster = raster
        self.factor = factor
        rows, cols = (max(1, s // factor) for s in raster.shape)
        self.shape = (rows, cols) if raster.n_bands == 1 else (rows, cols, raster.n_bands)
        self.dtype = np.dtype(raster.dtype)
        self.ndim = len(self.shape)

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        spans = []
        for axis in range(2):
            part = key[axis]
            if isinstance(part, (int, np.integer)):
                index = range(self.shape[axis])[part]
                part = slice(index, index + 1)
            start, stop, step = part.indices(self.shape[axis])
            spans.append((start, max(start + 1, stop), step))
        (r0, r1, rs), (c0, c1, cs) = spans
        f, (height, width) = self.factor, self.raster.shape
        window = Window(r0 * f, c0 * f, min((r1 - r0) * f, height - r0 * f), min((c1 - c0) * f, width - c0 * f))
        pixels = self.raster.read(window, (r1 - r0, c1 - c0))[::rs, ::cs]
        local = tuple(0 if isinstance(key[a], (int, np.integer)) else slice(None) for a in range(2)) + key[2:]
        return pixels[local]

    def sample(self) -> np.ndarray:
        return self.raster.overview()


class DisplayLevel(LazyArray):
    """A pyramid level shown as the model sees it: its 3 chosen bands, each stretched by ``normalization``, as
    uint8 RGB — computed for each window napari reads, so a band choice never reads the whole scene."""

    def __init__(self, level: RasterLevel, normalization: Normalization) -> None:
        self.level = level
        self.normalization = normalization
        self.shape = (*level.shape[:2], 3)
        self.dtype = np.dtype(np.uint8)
        self.ndim = 3

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        spatial = tuple(slice(k, k + 1) if isinstance(k, (int, np.integer)) else k for k in key[:2])
        spatial += (slice(None),) * (2 - len(spatial))
        pixels = self.level[spatial]
        rgb = np.round(self.normalization.apply(pixels) * 255).astype(np.uint8)
        squeeze = tuple(0 if isinstance(k, (int, np.integer)) else slice(None) for k in key[:2])
        return rgb[squeeze + (slice(None),) * (2 - len(squeeze)) + key[2:]]

    def sample(self) -> np.ndarray:
        return self.level.sample()


def large_raster(path: str | os.PathLike[str]) -> RasterFile | None:
    """The georeferenced raster at ``path`` when it is too large to read whole (:attr:`RasterFile.is_large`);
    None for any other file (another format, a TIFF without a CRS, an unreadable one: :func:`read_image` reads it
    or says what is wrong)."""
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        return None
    try:
        raster = RasterFile.open(path)
    except GfmError:
        return None
    return raster if raster.is_large else None


def raster_of(image: Image) -> RasterFile | None:
    """The raster a lazy image (:meth:`RasterFile.image`) reads from; None for an image held in memory."""
    return image.array.raster if isinstance(image.array, RasterLevel) else None


def _env():
    import rasterio

    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)


def _open(path: Path):
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path)


def write_window_mask(path: str | os.PathLike[str], raster: RasterFile, window: Window, mask: np.ndarray) -> Path:
    """Write a mask known on ``window`` as a full-size single-band GeoTIFF on ``raster``'s grid (0 elsewhere),
    tiled and DEFLATE-compressed, atomically; only the window's blocks are held in memory.

    Raises:
        ExportError: a path that is the source, or a write failure. GeometryError: mask shape != window size.
    """
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import Affine
    from rasterio.windows import Window as RioWindow

    from gfm_napari.errors import ExportError, GeometryError
    from gfm_napari.images.atomic import atomic_path

    out = Path(path)
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ExportError(f"a mask of a large raster is written as .tif, .geojson or .gpkg, not '{out.suffix}'")
    if out.resolve() == raster.path.resolve():
        raise ExportError(f"refusing to overwrite the input image '{out.name}'; choose another file name")
    if mask.shape != (window.rows, window.cols):
        raise GeometryError(f"mask shape {mask.shape} does not match the window ({window.rows}, {window.cols})")
    profile = {
        "driver": "GTiff", "height": raster.shape[0], "width": raster.shape[1], "count": 1, "dtype": "uint8",
        "compress": "deflate", "tiled": True, "blockxsize": 256, "blockysize": 256, "nodata": None,
        "crs": CRS.from_wkt(raster.geometry.crs), "transform": Affine(*raster.geometry.transform),
    }
    try:
        with atomic_path(out) as tmp, _env(), rasterio.open(tmp, "w", **profile) as dst:
            dst.write(mask.astype(np.uint8), 1, window=RioWindow(window.col, window.row, window.cols, window.rows))
            if raster.geometry.area_or_point:
                dst.update_tags(AREA_OR_POINT=raster.geometry.area_or_point)
    except Exception as exc:
        raise ExportError(f"cannot write '{out.name}': {one_line(exc)}") from exc
    return out
