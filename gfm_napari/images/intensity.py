"""Intensity normalisation to float32 [0, 1], fitted once per image, described exactly for cache keys.

Kinds (the default follows :attr:`Image.modality`):

- ``"ct_window"`` (CT): clip(HU, L - W/2, L + W/2) scaled to [0, 1]; default level 40, width 400.
- ``"mr_percentile"`` (MR): 0.5 / 99.5 percentiles of the NON-ZERO values of the whole volume (all channels),
  so that every slice is normalised the same way; clip and scale.
- ``"band_percentile"`` (raster, photo): per band, 2 / 98 percentiles over the whole image, ignoring nodata
  pixels when the image has a nodata value; clip and scale each band with its own numbers. A raster with more than
  3 bands first keeps the three of its :class:`~gfm_napari.images.bands.BandSelection` (default: true colour when
  the bands are named, else the first three); the selection is part of ``describe()``.

Nodata: pixels where every band equals the nodata value are left out of the percentiles, map to 0, and
:meth:`Normalization.valid` reports them so that masks never cover them.

A :class:`Normalization` is a frozen value: ``describe()`` is a stable one-line string with the concrete numbers
(``repr`` of each float), ``to_dict()`` / ``from_dict()`` serialise it, ``apply(plane)`` maps pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gfm_napari.images.bands import BandSelection, default_bands
from gfm_napari.images.image import Image

KINDS = ("ct_window", "mr_percentile", "band_percentile")
DEFAULT_CT_WINDOW = (40.0, 400.0)
"""(level, width) in HU of the CT window used unless the user picks another: soft tissue."""
DEFAULT_MR_PERCENTILES = (0.5, 99.5)
DEFAULT_BAND_PERCENTILES = (2.0, 98.0)
_DEFAULT_KIND = {"CT": "ct_window", "MR": "mr_percentile", "raster": "band_percentile", "photo": "band_percentile"}


@dataclass(frozen=True)
class Normalization:
    """How to map an image's values to float32 [0, 1].

    Attributes:
        kind: one of :data:`KINDS`.
        low, high: values mapped to 0 and 1; one entry for all channels, or one per band (band_percentile).
        percentiles: the (low, high) percentiles that gave ``low`` / ``high``; None for ct_window.
        nonzero_only: percentiles were taken over non-zero values (mr_percentile).
        nodata: pixels equal to it (NaN: NaN pixels) were ignored when fitting and map to 0.
        bands: the three bands of a multi-band raster that are kept (``low`` / ``high`` are theirs), or None.
    """

    kind: str
    low: tuple[float, ...]
    high: tuple[float, ...]
    percentiles: tuple[float, float] | None = None
    nonzero_only: bool = False
    nodata: float | None = None
    bands: BandSelection | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        low = tuple(float(v) for v in self.low)
        high = tuple(float(v) for v in self.high)
        if not low or len(low) != len(high):
            raise ValueError(f"low and high need the same non-zero length, got {low} and {high}")
        if not all(np.isfinite(low + high)):
            raise ValueError("low and high must be finite")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if self.percentiles is not None:
            object.__setattr__(self, "percentiles", (float(self.percentiles[0]), float(self.percentiles[1])))
        if self.nodata is not None:
            object.__setattr__(self, "nodata", float(self.nodata))

    @classmethod
    def ct_window(cls, level: float = DEFAULT_CT_WINDOW[0], width: float = DEFAULT_CT_WINDOW[1]) -> Normalization:
        """A CT window: [level - width/2, level + width/2] -> [0, 1]."""
        if not width > 0:
            raise ValueError(f"window width must be > 0, got {width}")
        return cls(kind="ct_window", low=(level - width / 2,), high=(level + width / 2,))

    @property
    def level(self) -> float | None:
        """Window level (ct_window only)."""
        return (self.low[0] + self.high[0]) / 2 if self.kind == "ct_window" else None

    @property
    def width(self) -> float | None:
        """Window width (ct_window only)."""
        return self.high[0] - self.low[0] if self.kind == "ct_window" else None

    def describe(self) -> str:
        """Stable one-line description with every number, e.g. ``ct_window(level=40.0,width=400.0)``."""
        if self.kind == "ct_window":
            return f"ct_window(level={self.level!r},width={self.width!r})"
        p = self.percentiles or (0.0, 100.0)
        extra = ",nonzero" if self.nonzero_only else ""
        extra += f",nodata={self.nodata!r}" if self.nodata is not None else ""
        extra += f",bands={self.bands.describe()}" if self.bands is not None else ""
        lows = "/".join(repr(v) for v in self.low)
        highs = "/".join(repr(v) for v in self.high)
        return f"{self.kind}(p={p[0]!r}-{p[1]!r}{extra},low={lows},high={highs})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (NaN nodata as the string "nan")."""
        nodata: float | str | None = self.nodata
        if nodata is not None and np.isnan(nodata):
            nodata = "nan"
        return {
            "kind": self.kind,
            "low": list(self.low),
            "high": list(self.high),
            "percentiles": None if self.percentiles is None else list(self.percentiles),
            "nonzero_only": self.nonzero_only,
            "nodata": nodata,
            "bands": None if self.bands is None else {"indices": list(self.bands.indices), "name": self.bands.name},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalization:
        """Inverse of :meth:`to_dict`."""
        nodata = data.get("nodata")
        bands = data.get("bands")
        return cls(
            kind=data["kind"],
            low=tuple(data["low"]),
            high=tuple(data["high"]),
            percentiles=None if data.get("percentiles") is None else tuple(data["percentiles"]),
            nonzero_only=bool(data.get("nonzero_only", False)),
            nodata=None if nodata is None else float(nodata),
            bands=None if bands is None else BandSelection(tuple(bands["indices"]), bands["name"]),
        )

    def apply(self, plane: np.ndarray) -> np.ndarray:
        """Map values to float32 [0, 1].

        Args:
            plane: (rows, cols) or (rows, cols, C) array (any shape works with a single low/high; with per-band
                numbers the LAST axis must have one entry per band).

        Returns:
            float32 array of the same shape; values clipped to [0, 1]; nodata and NaN pixels are 0; where
            high <= low (a constant image) the output is 0.
        """
        x = np.asarray(self.select(plane), dtype=np.float64)
        low = np.asarray(self.low)
        high = np.asarray(self.high)
        if low.size > 1:
            if x.ndim == 0 or x.shape[-1] != low.size:
                raise ValueError(f"expected {low.size} bands on the last axis, got shape {x.shape}")
        else:
            low, high = low[0], high[0]
        span = high - low
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(span > 0, (x - low) / np.where(span > 0, span, 1.0), 0.0)
        out = np.clip(out, 0.0, 1.0)
        invalid = np.isnan(x)
        if self.nodata is not None and not np.isnan(self.nodata):
            invalid |= x == self.nodata
        out[invalid] = 0.0
        return out.astype(np.float32)

    def select(self, plane: np.ndarray) -> np.ndarray:
        """The plane's chosen bands (the plane itself without a band selection)."""
        if self.bands is None:
            return plane
        self.bands.check(plane.shape[-1])
        return plane[..., list(self.bands.indices)]

    def valid(self, plane: np.ndarray) -> np.ndarray | None:
        """Bool (rows, cols): pixels that hold data, i.e. not nodata in every band; None without a nodata value."""
        if self.nodata is None:
            return None
        x = np.asarray(self.select(plane))
        missing = np.isnan(x) if np.isnan(self.nodata) else x == self.nodata
        return ~(missing.all(axis=-1) if x.ndim == 3 else missing)


def fit_normalization(
    image: Image,
    *,
    kind: str | None = None,
    ct_window: tuple[float, float] | None = None,
    mr_percentiles: tuple[float, float] = DEFAULT_MR_PERCENTILES,
    band_percentiles: tuple[float, float] = DEFAULT_BAND_PERCENTILES,
    bands: BandSelection | None = None,
) -> Normalization:
    """Fit the normalisation for ``image`` (whole image / volume, once).

    Args:
        image: the image.
        kind: override the modality's default kind (see module docstring).
        ct_window: (level, width) for ct_window (default :data:`DEFAULT_CT_WINDOW`).
        mr_percentiles: (low, high) percentiles for mr_percentile, of the non-zero values that are not a constant
            background fill (:data:`BACKGROUND_SHARE`).
        band_percentiles: (low, high) per-band percentiles for band_percentile.
        bands: the three bands to keep (band_percentile; default :func:`~gfm_napari.images.bands.default_bands`).
    """
    kind = kind or _DEFAULT_KIND[image.modality]
    if kind == "ct_window":
        return Normalization.ct_window(*(ct_window or DEFAULT_CT_WINDOW))
    pixels = image.array.sample() if image.is_lazy else image.array
    if kind == "mr_percentile":
        values = pixels[np.isfinite(pixels)] if pixels.dtype.kind == "f" else pixels.ravel()
        values = _foreground(values[values != 0])
        low, high = _percentiles(values, mr_percentiles)
        return Normalization(kind, (low,), (high,), percentiles=mr_percentiles, nonzero_only=True)
    if kind == "band_percentile":
        return fit_band_stretch(
            pixels, image.metadata.band_descriptions if image.channel_axis is not None else (None,),
            nodata=image.geometry.nodata, percentiles=band_percentiles, bands=bands,
        )
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


BACKGROUND_SHARE = 0.2
"""An MR volume whose minimum fills at least this share of its non-zero voxels has a constant background at that
value (e.g. BraTS volumes stored z-scored: 83 % of the FLAIR voxels are -3.62): it is left out like zeros."""


def _foreground(values: np.ndarray) -> np.ndarray:
    """``values`` without a constant background fill at their minimum (see :data:`BACKGROUND_SHARE`)."""
    if values.size == 0:
        return values
    floor = values.min()
    at_floor = values == floor
    return values[~at_floor] if at_floor.mean() >= BACKGROUND_SHARE and not at_floor.all() else values


def fit_band_stretch(
    array: np.ndarray,
    descriptions: tuple[str | None, ...],
    *,
    nodata: float | None,
    percentiles: tuple[float, float] = DEFAULT_BAND_PERCENTILES,
    bands: BandSelection | None = None,
) -> Normalization:
    """Per-band percentile stretch of ``array`` ((rows, cols) or (rows, cols, B)), over its pixels that hold data.

    Also what a raster too large for memory uses, on a decimated read of the whole scene.
    """
    n_bands = 1 if array.ndim == 2 else array.shape[-1]
    if bands is None:
        bands = default_bands(descriptions if len(descriptions) == n_bands else (None,) * n_bands)
    if bands is not None and n_bands <= 3 and bands.indices == (0, 1, 2)[:n_bands]:
        bands = None  # a 3-band raster's natural order needs no selection (and keeps its cache keys)
    stretch = Normalization("band_percentile", (0.0,), (1.0,), nodata=nodata, bands=bands)
    chosen = stretch.select(array if array.ndim == 3 else array[..., np.newaxis])
    valid = replace(stretch, bands=None).valid(chosen)
    lows, highs = [], []
    for b in range(chosen.shape[-1]):
        values = chosen[..., b] if valid is None else chosen[..., b][valid]
        low, high = _percentiles(values.ravel(), percentiles)
        lows.append(low)
        highs.append(high)
    return Normalization(
        "band_percentile", tuple(lows), tuple(highs), percentiles=percentiles, nodata=nodata, bands=bands
    )


def _percentiles(values: np.ndarray, q: tuple[float, float]) -> tuple[float, float]:
    """(low, high) percentiles of a 1D array; (0, 0) when it is empty (everything then maps to 0)."""
    if values.size == 0:
        return 0.0, 0.0
    low, high = np.percentile(values, q)
    return float(low), float(high)
