"""The working resolution around a prompt: a plane far larger than the model's input is not shrunk whole.

The model sees a square of ``input_size`` pixels (256 for LiteMedSAM). Shrinking a 900 px aerial tile whole to 256 px
leaves a building a few pixels wide, and a click on it gives nothing (one-click Dice 0.16 on the Atlanta tile against
0.55 in native windows). So, when a plane's longest side is more than :func:`zoom_above` times the input size — for
rasters and photos any plane larger than the input, for CT and MR planes over twice it — an object is segmented in a
*working window* around its prompts:

* **levels**: square windows of ``input_size * 2**k`` plane pixels (k = 0, 1, ...; level 0 is native resolution),
  each on a grid with half-window stride (so windows repeat and their embeddings are cached), up to the whole plane;
* **choice**: the smallest level with a grid window that holds the prompts with a margin of an eighth of its side
  (a click is then at least a quarter of the side from the window's edges), the one whose centre is nearest; a
  larger box that fits a level's side with its margins but straddles its grid gets a window centred on it;
* **growth**: when the mask touches an edge of its window that lies inside the plane, the object goes on beyond
  the window, so it is segmented again one level up, until it does not or the window is the whole plane;
* **continuity**: an object keeps its window while its prompts fit in it, and the previous low-res logits are fed
  back only inside the same window.

Everything else (encoding, caching, decoding, nodata) is the ordinary :class:`~.predictor.Predictor`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..images import Image, Normalization
from ..images.windowed import Window
from .predictor import Prediction, Predictor
from .prompts import Prompts
from .tiles import TileGrid, centred_window, contains, prompt_extent, touches_inner_edge

ZOOM_ABOVE = {"CT": 2.0, "MR": 2.0}
"""Per modality: zoom when the plane's longest side is more than this many times the model's input size. CT and MR
slices are segmented whole up to 512 px, as the medical models were trained (zooming a 512 px CT slice measured
one-click Dice 0.75 -> 0.54, box 0.89 -> 0.82); rasters and photos (:data:`ZOOM_ABOVE_OTHERS`) zoom above the input
size (a 512 px Sentinel-2 chip: one-click Dice 0.24 -> 0.39 on flood water, box 0.68 -> 0.69)."""
ZOOM_ABOVE_OTHERS = 1.0


def zoom_above(modality: str) -> float:
    """How many times the model's input size a plane of ``modality`` may be before it is segmented in windows."""
    return ZOOM_ABOVE.get(modality, ZOOM_ABOVE_OTHERS)


MARGIN = 1 / 8
"""The prompts' distance from a working window's edges, at least, as a fraction of its side."""


@dataclass(frozen=True)
class ZoomLevels:
    """Working windows on a plane of ``shape`` for a model whose input is ``input_size`` pixels square."""

    shape: tuple[int, int]
    input_size: int
    zoom_above: float = ZOOM_ABOVE_OTHERS

    @property
    def active(self) -> bool:
        """Whether the plane is large enough to be segmented in windows (else always whole)."""
        return max(self.shape) > self.zoom_above * self.input_size

    def sides(self) -> list[int]:
        """Window sides of the levels below the whole plane, smallest first."""
        if not self.active:
            return []
        sides, side = [], self.input_size
        while side < max(self.shape):
            sides.append(side)
            side *= 2
        return sides

    def choose(self, prompts: Prompts, at_least: int = 0) -> Window | None:
        """The working window for ``prompts`` at the smallest level whose side is at least ``at_least``; None: the
        whole plane."""
        extent = prompt_extent(prompts)
        for side in self.sides():
            if side < at_least:
                continue
            wanted = _grown(extent, math.ceil(MARGIN * side), self.shape)
            window = TileGrid(self.shape, side, side // 2).containing(wanted)
            if window is not None:
                return window
            if max(wanted.rows, wanted.cols) <= side:  # fits, but across grid windows: one centred on it
                return centred_window(wanted, self.shape, side)
        return None

    def larger(self, window: Window, prompts: Prompts) -> Window | None:
        """The window one level above ``window`` for ``prompts`` (None: the whole plane)."""
        return self.choose(prompts, at_least=2 * _side(window))

    def keeps(self, window: Window | None, prompts: Prompts) -> bool:
        """Whether ``prompts`` all lie in ``window`` (the whole plane when None)."""
        return window is None or contains(window, prompt_extent(prompts))

    def touches_inner_edge(self, window: Window, mask: np.ndarray) -> bool:
        """Whether ``mask`` (on ``window``) reaches an edge of the window that lies inside the plane."""
        return touches_inner_edge(window, self.shape, mask)


class PlaneSegmenter:
    """Prompts on one plane of ``image`` -> masks on the whole plane, each answered at its working resolution.

    Args:
        predictor: the model and its embedding cache; ``predictor.zoom`` False answers everything on the whole plane.
        image, axis, index: the plane (``axis``/``index`` None for a 2D image).
        normalization: fitted once on the whole image (``fit_normalization``) by whoever prepared it.
    """

    def __init__(
        self, predictor: Predictor, image: Image, axis: int | None, index: int | None, normalization: Normalization
    ) -> None:
        self.predictor = predictor
        self.image = image
        self.axis, self.index = axis, index
        self.normalization = normalization
        self.levels = ZoomLevels(image.plane_shape(axis), predictor.model.spec.input_size,
                                 zoom_above(image.modality) if predictor.zoom else math.inf)

    @property
    def plane_shape(self) -> tuple[int, int]:
        return self.levels.shape

    def predict(self, prompts: Prompts, previous: Prediction | None = None, *, feedback: bool = True) -> Prediction:
        """The mask of ``prompts`` on the whole plane; ``previous`` (the same object's last prediction) keeps its
        window while the prompts fit in it and, with ``feedback``, gives its low-res logits as mask input there."""
        prompts.check(self.plane_shape)
        window = self.window_for(prompts, previous)
        logits = None
        if feedback and previous is not None and previous.window == window and previous.low_res_logits.numel():
            logits = previous.low_res_logits
        while True:
            prediction = self._predict_in(window, prompts, logits)
            if window is None or not self.levels.touches_inner_edge(window, prediction.mask[window.slices]):
                return prediction
            window, logits = self.levels.larger(window, prompts), None

    def window_for(self, prompts: Prompts, previous: Prediction | None = None) -> Window | None:
        """The window :meth:`predict` starts from (before any growth); None: the whole plane."""
        if previous is not None and self.levels.keeps(previous.window, prompts):
            return previous.window
        # a first prompt, or prompts beyond their window (never the whole plane): at least that window's level
        return self.levels.choose(prompts, 0 if previous is None else _side(previous.window))

    def needs_encoding(self, prompts: Prompts, previous: Prediction | None = None) -> bool:
        """Whether :meth:`predict` will run the encoder first (its starting window is not cached)."""
        return not self.predictor.is_cached(self.image, self.axis, self.index, self.normalization,
                                            self.window_for(prompts, previous))

    def plane_logits(self, prediction: Prediction) -> torch.Tensor:
        """A prediction's logits on the whole plane (rows, cols); -inf outside its window."""
        window = prediction.window
        shape = self.plane_shape if window is None else (window.rows, window.cols)
        logits = self.predictor.upscale(prediction.low_res_logits, shape)[0, 0]
        if window is None:
            return logits
        full = torch.full(self.plane_shape, -math.inf, dtype=logits.dtype, device=logits.device)
        full[window.slices] = logits
        return full

    def _predict_in(self, window: Window | None, prompts: Prompts, feedback: torch.Tensor | None) -> Prediction:
        embedding = self.predictor.embed(self.image, self.axis, self.index, normalization=self.normalization,
                                         window=window)
        if window is None:
            return self.predictor.predict_prompts(embedding, prompts, feedback)
        local = self.predictor.predict_prompts(embedding, prompts.shifted(-window.col, -window.row), feedback)
        mask = np.zeros(self.plane_shape, bool)
        mask[window.slices] = local.mask
        return replace(local, mask=mask, window=window)


def _grown(extent: Window, margin: int, shape: tuple[int, int]) -> Window:
    """``extent`` grown by ``margin`` pixels on every side, clipped to a plane of ``shape``."""
    row0, col0 = max(extent.row - margin, 0), max(extent.col - margin, 0)
    row1 = min(extent.row + extent.rows + margin, shape[0])
    col1 = min(extent.col + extent.cols + margin, shape[1])
    return Window(row0, col0, row1 - row0, col1 - col0)


def _side(window: Window) -> int:
    return max(window.rows, window.cols)
