"""How a segmentation session answers prompts, chosen once per image: whole planes or tiles of a raster.

An image held in memory is segmented plane by plane (:class:`WholePlanes`: each plane encoded whole, or in working
windows around the prompts, :mod:`.zoom`). A lazy raster larger than memory (``RasterFile.image()``) is segmented by
tiles (:class:`RasterTiles`): each prompt reads and encodes only the tiles it falls in
(:class:`~gfm_napari.engine.tiles.TiledSegmenter`), there are no plane-wide logits to feed back, and the mask takes
memory only on its window.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from ..errors import PromptError
from ..images import Image, Normalization
from ..images.plane import PlaneKey
from ..images.windowed import RasterFile, Window, raster_of
from .predictor import Prediction, Predictor
from .prompts import Prompts
from .proofread import box_holding_clicks, local_correction
from .tiles import TiledSegmenter
from .zoom import PlaneSegmenter

NO_LOGITS = torch.empty(0)
"""Low-res logits of a prediction that has none to feed back (a tiled one's belong to single tiles)."""


class SegmentingStrategy(Protocol):
    """What differs between segmenting whole planes and tiles; the predictor and normalisation are the session's
    (they may change between calls)."""

    feeds_back: bool
    """Whether a plane's low-res logits can be fed back as the next prompt's mask input."""

    def needs_embedding(self, predictor: Predictor, key: PlaneKey, normalization: Normalization) -> bool: ...

    def needs_encoding(
        self, predictor: Predictor, key: PlaneKey, normalization: Normalization, prompts: Prompts,
        previous: Prediction | None,
    ) -> bool: ...

    def embed(self, predictor: Predictor, key: PlaneKey, normalization: Normalization) -> None: ...

    def plane(self, predictor: Predictor, key: PlaneKey, normalization: Normalization) -> PlaneSegmenter: ...

    def predict(
        self, predictor: Predictor, key: PlaneKey, normalization: Normalization, prompts: Prompts, *,
        previous: Prediction | None, start: np.ndarray | None, feedback: bool,
    ) -> Prediction: ...

    def check_auto_region(self, region: Window | None) -> None: ...


class WholePlanes:
    """An image held in memory: planes are encoded whole into the predictor's cache (or in working windows)."""

    feeds_back = True

    def __init__(self, image: Image) -> None:
        self.image = image

    def needs_embedding(self, predictor: Predictor, key: PlaneKey, normalization: Normalization) -> bool:
        return not predictor.is_cached(self.image, *key, normalization)

    def needs_encoding(
        self, predictor: Predictor, key: PlaneKey, normalization: Normalization, prompts: Prompts,
        previous: Prediction | None,
    ) -> bool:
        return self.plane(predictor, key, normalization).needs_encoding(prompts, previous)

    def embed(self, predictor: Predictor, key: PlaneKey, normalization: Normalization) -> None:
        predictor.embed(self.image, *key, normalization=normalization)

    def plane(self, predictor: Predictor, key: PlaneKey, normalization: Normalization) -> PlaneSegmenter:
        return PlaneSegmenter(predictor, self.image, *key, normalization)

    def predict(
        self, predictor: Predictor, key: PlaneKey, normalization: Normalization, prompts: Prompts, *,
        previous: Prediction | None, start: np.ndarray | None, feedback: bool,
    ) -> Prediction:
        """The mask of ``prompts`` on the plane; with ``start`` (the mask of an existing object being corrected)
        the clicks correct that mask locally (:mod:`.proofread`)."""
        plane = self.plane(predictor, key, normalization)
        if start is None:
            return plane.predict(prompts, previous, feedback=feedback)
        prompts = box_holding_clicks(prompts, plane.plane_shape)
        prediction = plane.predict(prompts, previous, feedback=feedback)
        return local_correction(plane, start, prediction, prompts)

    def check_auto_region(self, region: Window | None) -> None:
        """Any plane can be segmented whole."""


class RasterTiles:
    """A raster read by windows: prompts are answered from the tiles they fall in, encoded when prompted."""

    feeds_back = False

    def __init__(self, image: Image, raster: RasterFile) -> None:
        self.image = image
        self.raster = raster

    def needs_embedding(self, predictor: Predictor, key: PlaneKey, normalization: Normalization) -> bool:
        return False

    def needs_encoding(
        self, predictor: Predictor, key: PlaneKey, normalization: Normalization, prompts: Prompts,
        previous: Prediction | None,
    ) -> bool:
        return False

    def embed(self, predictor: Predictor, key: PlaneKey, normalization: Normalization) -> None:
        """Nothing to encode ahead: tiles are encoded when prompted."""

    def plane(self, predictor: Predictor, key: PlaneKey, normalization: Normalization) -> PlaneSegmenter:
        raise PromptError("correcting an existing object needs an image held in memory, not a raster read by "
                          "windows")

    def predict(
        self, predictor: Predictor, key: PlaneKey, normalization: Normalization, prompts: Prompts, *,
        previous: Prediction | None, start: np.ndarray | None, feedback: bool,
    ) -> Prediction:
        """Only the tiles the prompts fall in are read and encoded; the scene-size mask takes memory only on its
        window (``np.zeros`` pages never written stay unallocated)."""
        window, mask = TiledSegmenter(predictor, self.raster, normalization).segment(prompts)
        full = np.zeros(self.image.spatial_shape, bool)
        full[window.slices] = mask
        return Prediction(full, float("nan"), NO_LOGITS)

    def check_auto_region(self, region: Window | None) -> None:
        if region is None:
            raise PromptError("this scene is too large to segment whole: draw a box around the part to segment")


def strategy_for(image: Image) -> WholePlanes | RasterTiles:
    """Tiles for a raster read by windows, whole planes for everything else."""
    raster = raster_of(image)
    return WholePlanes(image) if raster is None else RasterTiles(image, raster)
