"""The model options every model-running command shares (--model, --checkpoint, --encoder, ...), the model they
load, and the model files that extend it (an encoder adapter, prompt-path overlay weights)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..images.intensity import DEFAULT_CT_WINDOW
from .arguments import window
from .parser import add_deferred


def _model_names(default: str | None) -> str:
    """The registry's model names, ``default`` (None: the registry's default) first."""
    from ..models.registry import DEFAULT_MODEL, available_models, get_spec

    default = default or DEFAULT_MODEL
    others = [f"{name} (the box-trained base)" if get_spec(name).box_only else name
              for name in available_models() if name != default]
    return ", ".join([f"{default} (default)", *others])


def add_model_options(parser: argparse.ArgumentParser, default: str | None = None, *, views: bool = True) -> None:
    """--model (``default``: None is the registry's default model), --checkpoint, --encoder, --window, --device,
    --click-strategy, --zoom and, for commands that segment (``views``), --views."""
    add_deferred(parser, "--model", default=default, help="%(deferred)s", deferred=lambda: _model_names(default))
    parser.add_argument("--checkpoint", type=Path, help="weights file for SAM models")
    parser.add_argument("--encoder", type=Path,
                        help="a pretrained encoder (gfm-napari pretrain: <run>/encoder.safetensors with its .json)")
    level, width = DEFAULT_CT_WINDOW
    parser.add_argument("--window", type=window, help=f"CT window LEVEL,WIDTH in HU (default {level:g},{width:g})")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    # models.precision.CHOICES, spelled out: importing gfm_napari.models would load torch for every --help
    parser.add_argument("--precision", choices=["auto", "float", "int8"], default="auto",
                        help="int8: the image encoder's matrix products in 8 bits on the CPU (LiteMedSAM models): "
                        "faster encoding, masks within 0.01 Dice of float where measured; auto (the default): int8 "
                        "where the CPU has 8-bit dot products, else float; $GFM_NAPARI_PRECISION replaces auto's choice")
    parser.add_argument("--click-strategy", choices=["direct", "box-search"],
                        help="an object's first click: decode it as is (direct), or search square boxes centred on it "
                        "and keep the one most consistent with its mask (box-search); default: direct")
    parser.add_argument("--zoom", choices=["auto", "off"],
                        help="planes over twice the model's input size: segment each object in a window around its "
                        "prompts, at the finest scale that holds it (auto, the default), or shrink the whole plane "
                        "(off)")
    if views:
        # models.views.VIEW_COUNTS, spelled out (no torch import for --help)
        parser.add_argument("--views", type=int, choices=[1, 4, 8], default=1,
                            help="answer each plane through this many mirror images and average their masks: 4 = "
                            "mirrored left-right, upside-down and both (better masks on every domain measured, at 4 "
                            "times the encoding and decoding time), 8 = also transposed (rasters); default 1")


def model_inputs(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    """The model files a command reads (no output may overwrite them)."""
    return [("--checkpoint", getattr(args, "checkpoint", None)), ("--encoder", getattr(args, "encoder", None))]


def load(args: argparse.Namespace, *, fast: bool = True):
    """The model the options name, with its --click-strategy, --zoom, --encoder, --adapter and --views."""
    from ..models import DEFAULT_MODEL, load_model

    model = load_model(args.model or DEFAULT_MODEL, checkpoint=args.checkpoint, device=args.device, fast=fast,
                       precision=getattr(args, "precision", "auto"))
    if getattr(args, "click_strategy", None) is not None:
        model = dataclasses.replace(model, click_strategy=args.click_strategy)
    if getattr(args, "zoom", None) is not None:
        model = dataclasses.replace(model, zoom=args.zoom == "auto")
    if args.encoder is not None:
        from ..models.encoder_files import load_encoder

        model = load_encoder(model, args.encoder)
    if getattr(args, "adapter", None) is not None:
        model = with_adapter(model, args.adapter)
    from ..models.registry import with_views

    return with_views(model, getattr(args, "views", 1))


def with_adapter(model, path: Path):
    """``model`` with an encoder adapter (a file with a JSON sidecar) or, for any other file, prompt-path overlay
    weights."""
    from ..models.extensions import Extension, describe, extend

    extension = describe(path)
    if extension is None or extension.kind != "adapter":
        extension = Extension("overlay", Path(path), model.model_id, model.spec.name)
    return extend(model, extension)
