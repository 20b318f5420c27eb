"""Embed a plane once (slow, cached), then answer prompts with the prompt encoder + mask decoder (fast).

Stateless apart from the cache: an :class:`Embedding` carries everything :meth:`Predictor.predict` needs, so
one predictor serves many images, slices and axes at once (no "current image" kept on the predictor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..images import Image, Normalization, Plane
from ..images.windowed import Window
from ..models import LoadedModel
from ..models.device import torch_threads_kept_idle
from ..models.registry import ModelSpec
from ..models.segmenter import Segmenter
from .cache import CacheKey, EmbeddingCache, digest_plane
from .prompts import Prompts, ResizeLongestSide


@dataclass(frozen=True, eq=False)
class Embedding:
    """Image-encoder output for one plane: ``features`` (1, C, h, w) on the model's device; ``valid`` (rows,
    cols) marks the pixels that hold data (None: all of them) — masks never cover a raster's nodata pixels."""

    features: torch.Tensor
    plane_shape: tuple[int, int]
    key: CacheKey
    valid: np.ndarray | None = None
    modality: str | None = None  # the image's (Image.modality): chooses the prompt path (LoadedModel.decoder_for)


@dataclass(frozen=True, eq=False)
class Prediction:
    """A binary ``mask`` (rows, cols) on the plane grid, its predicted IoU ``score``, and the decoder's
    ``low_res_logits`` (1, 1, L, L) that can be fed back as ``mask_input`` for the next prompt; ``window``: the part
    of the plane the logits belong to (its working window, :mod:`~gfm_napari.engine.zoom`; None = the whole plane)."""

    mask: np.ndarray
    score: float
    low_res_logits: torch.Tensor
    window: Window | None = None


CLICK_STRATEGIES = ("direct", "box-search")
MASK_LOGIT = 8.0
"""Logit magnitude of a mask given as mask input (:meth:`Predictor.mask_input`)."""


class Predictor:
    """Interactive segmentation on one loaded model, with an embedding cache.

    ``click_strategy`` decides how the first click of an object (exactly one positive point, no box, no mask
    input) is answered: ``"direct"`` decodes the click itself; ``"box-search"`` turns it into a search over square
    boxes centred on it (:mod:`gfm_napari.engine.click_search`). Any other prompts take the direct path. None: the
    model's own setting (``LoadedModel.click_strategy``).

    ``zoom``: whether planes much larger than the model's input are segmented in working windows around the prompts
    (:mod:`gfm_napari.engine.zoom`, used through :class:`~gfm_napari.engine.zoom.PlaneSegmenter`); None: the model's
    own setting (``LoadedModel.zoom``).
    """

    def __init__(
        self, model: LoadedModel, cache: EmbeddingCache | None = None, *, click_strategy: str | None = None,
        zoom: bool | None = None,
    ) -> None:
        self.model = model
        self.cache = cache if cache is not None else EmbeddingCache()
        strategy = click_strategy if click_strategy is not None else getattr(model, "click_strategy", "direct")
        if strategy not in CLICK_STRATEGIES:
            raise ValueError(f"click_strategy must be one of {CLICK_STRATEGIES}, got {strategy!r}")
        self.click_strategy = strategy
        self.zoom = zoom if zoom is not None else getattr(model, "zoom", True)

    # ---- slow path: once per plane -------------------------------------------------------------
    def embed(
        self,
        image: Image,
        axis: int | None = None,
        index: int | None = None,
        *,
        normalization: Normalization,
        window: Window | None = None,
    ) -> Embedding:
        """Embedding of ``image`` (2D) or of slice ``index`` along ``axis`` (3D), from the cache when known; with
        ``window``, of that part of the plane only (encoded at the model's input size, so at a finer scale)."""
        return self.embed_many(image, axis, [index], normalization=normalization, window=window)[0]

    def embed_many(
        self,
        image: Image,
        axis: int | None,
        indices: Sequence[int | None],
        *,
        normalization: Normalization,
        batch_size: int = 4,
        window: Window | None = None,
    ) -> list[Embedding]:
        """Embeddings of several slices (or of ``window`` on each); the uncached ones are encoded in batches of
        ``batch_size``."""
        planes = [_plane_part(image, axis, index, window) for index in indices]
        keys = [self.key(plane, axis, index, normalization) for plane, index in zip(planes, indices)]
        features: dict[int, torch.Tensor] = {}
        missing = []
        for i, key in enumerate(keys):
            cached = self.cache.get(key)
            if cached is None:
                missing.append(i)
            else:
                features[i] = cached.to(self.model.device)
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            batch = torch.cat([self.preprocess(normalization.apply(planes[i])) for i in chunk])
            with torch.inference_mode():
                encoded = self.model.segmenter.encode(batch.to(self.model.device))
            for i, tensor in zip(chunk, encoded):
                features[i] = tensor.unsqueeze(0)
                self.cache.put(keys[i], features[i])
        return [
            Embedding(features[i], planes[i].shape[:2], keys[i], normalization.valid(planes[i]), image.modality)
            for i in range(len(planes))
        ]

    def key(self, plane: np.ndarray, axis: int | None, index: int | None, normalization: Normalization) -> CacheKey:
        return CacheKey(digest_plane(plane), axis, index, self.model.cache_id, normalization.describe())

    def is_cached(
        self, image: Image, axis: int | None, index: int | None, normalization: Normalization,
        window: Window | None = None,
    ) -> bool:
        return self.key(_plane_part(image, axis, index, window), axis, index, normalization) in self.cache

    def preprocess(self, plane: np.ndarray) -> torch.Tensor:
        """A normalised plane in [0, 1], (rows, cols) or (rows, cols, C) → model input (1, 3, S, S)."""
        return model_input(plane, self.model.spec)

    # ---- fast path: every prompt -----------------------------------------------------------------
    def predict(
        self,
        embedding: Embedding,
        points: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        box: tuple[float, float, float, float] | None = None,
        mask_input: torch.Tensor | None = None,
        *,
        multimask: bool | None = None,
        search: bool = True,
    ) -> Prediction:
        """Mask for prompts in plane pixel coordinates (x = column, y = row; labels 1 / 0).

        ``multimask=None`` asks for SAM's three candidates when the prompt is one lone point (where one mask is
        ambiguous) and keeps the one with the best predicted IoU, or the one ``prompts.candidate`` ranks there.
        ``search=False`` answers a first click directly whatever the click strategy.
        """
        prompts = Prompts(
            points if points is not None else np.zeros((0, 2)),
            labels if labels is not None else np.zeros((0,)),
            box,
        )
        return self.predict_prompts(embedding, prompts, mask_input, multimask=multimask, search=search)

    def predict_prompts(
        self,
        embedding: Embedding,
        prompts: Prompts,
        mask_input: torch.Tensor | None = None,
        *,
        multimask: bool | None = None,
        search: bool = True,
    ) -> Prediction:
        prompts.check(embedding.plane_shape)
        searched = search and self.click_strategy == "box-search" and not prompts.candidate
        if searched and is_first_click(prompts, mask_input):
            from .click_search import search_click

            return search_click(self, embedding, prompts.points[0])
        if multimask is None:
            multimask = prompts.box is None and len(prompts.points) == 1
        device = self.model.device
        resize = ResizeLongestSide(embedding.plane_shape, self.model.spec.input_size)
        point_args = None
        if len(prompts.points):
            coords = torch.as_tensor(resize.points(prompts.points), dtype=torch.float32, device=device)
            point_labels = torch.as_tensor(prompts.labels, dtype=torch.int64, device=device)
            point_args = (coords[None], point_labels[None])
        box_arg = None
        if prompts.box is not None:
            box_arg = torch.as_tensor(resize.box(prompts.box), dtype=torch.float32, device=device)[None]
        if mask_input is not None:
            mask_input = mask_input.to(device)
        decoder = self.decoder_for(embedding)
        with torch.inference_mode():
            logits, scores = decoder.decode(
                embedding.features, points=point_args, boxes=box_arg, mask_input=mask_input, multimask=multimask
            )
        best = int(torch.argsort(scores[0], descending=True)[prompts.candidate])
        low_res = logits[:, best : best + 1]
        with torch_threads_kept_idle(decoder.decoder_runtime is not None):
            mask = (self.upscale(low_res, embedding.plane_shape)[0, 0] > 0).cpu().numpy()
        if embedding.valid is not None:
            mask &= embedding.valid
        return Prediction(mask, float(scores[0, best]), low_res)

    def decoder_for(self, embedding: Embedding) -> Segmenter:
        """The segmenter whose prompt path answers prompts on ``embedding``'s plane (per modality, see
        :meth:`LoadedModel.decoder_for`)."""
        return self.model.decoder_for(embedding.modality)

    def mask_input(self, mask: np.ndarray, logit: float = MASK_LOGIT) -> torch.Tensor:
        """A binary mask on a plane (rows, cols) -> low-res logits (1, 1, 4h, 4w) for the decoder's mask input:
        ``+logit`` inside, ``-logit`` outside and in the padding (the inverse of :meth:`upscale`), so an existing
        mask can start a prediction as if the model had made it."""
        size = self.model.spec.input_size
        h, w = self.model.segmenter.embedding_size
        rows, cols = ResizeLongestSide(mask.shape, size).resized_shape
        inside = torch.from_numpy(np.asarray(mask, np.float32))[None, None]
        inside = F.interpolate(inside, size=(rows, cols), mode="bilinear", align_corners=False, antialias=True)
        inside = F.pad(inside, (0, size - cols, 0, size - rows))
        inside = F.interpolate(inside, size=(4 * h, 4 * w), mode="bilinear", align_corners=False, antialias=True)
        return (2 * inside - 1) * logit

    def upscale(self, low_res_logits: torch.Tensor, plane_shape: tuple[int, int]) -> torch.Tensor:
        """Low-res logits (B, 1, L, L) → logits on the plane grid (B, 1, rows, cols): undo pad and resize."""
        size = self.model.spec.input_size
        rows, cols = ResizeLongestSide(plane_shape, size).resized_shape
        logits = F.interpolate(low_res_logits, size=(size, size), mode="bilinear", align_corners=False)
        logits = logits[..., :rows, :cols]
        return F.interpolate(logits, size=plane_shape, mode="bilinear", align_corners=False)


def model_input(plane: np.ndarray, spec: ModelSpec) -> torch.Tensor:
    """A normalised plane in [0, 1], (rows, cols) or (rows, cols, C) → the input (1, 3, S, S) of a ``spec`` model:
    its first three channels (or its one channel thrice), resized so the longest side is S, scaled, padded."""
    tensor = torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float32))
    tensor = tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    if tensor.shape[0] >= 3:
        tensor = tensor[:3]
    else:
        tensor = tensor[:1].expand(3, -1, -1)
    resize = ResizeLongestSide(plane.shape[:2], spec.input_size)
    tensor = F.interpolate(tensor[None], size=resize.resized_shape, mode="bilinear", align_corners=False, antialias=True)
    tensor = spec.scale_input(tensor)
    rows, cols = resize.resized_shape
    return F.pad(tensor, (0, spec.input_size - cols, 0, spec.input_size - rows))


def _plane_part(image: Image, axis: int | None, index: int | None, window: Window | None) -> np.ndarray:
    """A plane of ``image``, or only its ``window`` when given."""
    plane = Plane.at(image, axis, index).take(image.array)
    return plane if window is None else plane[window.slices]


def is_first_click(prompts: Prompts, mask_input: torch.Tensor | None = None) -> bool:
    """Exactly one positive click, no box and no previous mask: the first click of an object."""
    return prompts.is_lone_click and (mask_input is None or mask_input.numel() == 0)
