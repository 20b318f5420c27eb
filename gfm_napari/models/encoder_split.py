"""Cutting an image encoder before one of its attention blocks: a frozen prefix and a trainable tail.

When adapters sit only in the last blocks, everything before the first adapted block is a fixed function of the
image. A trainer can run that prefix once per image (no gradients), keep its output, and run only the tail with
gradients on every step: ``forward_tail(enc, forward_prefix(enc, x, k), k) == enc(x)`` exactly.

Blocks are numbered over the whole encoder in forward order (:func:`attention_blocks`): LiteMedSAM's TinyViT has
10 (stages 1, 2, 3 hold 2, 6 and 2), SAM ViT-B 12, ViT-L 24, ViT-H 32. The features between prefix and tail are
NCHW for TinyViT (the stage's input, or its tokens laid out as an image between two blocks of a stage) and
[B, H, W, C] for SAM's ViT (its blocks' own layout).
"""

from __future__ import annotations

from segment_anything.modeling.image_encoder import ImageEncoderViT
from torch import Tensor, nn

from gfm_napari.models.tiny_vit import BasicLayer, TinyViT

__all__ = ["attention_blocks", "forward_prefix", "forward_tail"]


def attention_blocks(encoder: nn.Module) -> list[nn.Module]:
    """The encoder's transformer blocks (each with ``.attn.qkv``, ``.attn.proj`` and ``.mlp``) in forward order."""
    if isinstance(encoder, TinyViT):
        return [block for layer in encoder.layers if isinstance(layer, BasicLayer) for block in layer.blocks]
    if isinstance(encoder, ImageEncoderViT):
        return list(encoder.blocks)
    raise TypeError(f"no attention blocks known for {type(encoder).__name__} (TinyViT or SAM's ImageEncoderViT)")


def forward_prefix(encoder: nn.Module, images: Tensor, start: int) -> Tensor:
    """Everything before attention block ``start`` (0 ≤ start ≤ number of blocks): the features it receives."""
    _check_start(encoder, start)
    if isinstance(encoder, TinyViT):
        stage, offset = _locate(encoder, start)
        x = encoder.patch_embed(images)
        for layer in encoder.layers[:stage]:
            x = layer(x)
        return encoder.layers[stage](x, 0, offset) if offset else x
    x = encoder.patch_embed(images)
    if encoder.pos_embed is not None:
        x = x + encoder.pos_embed
    for block in encoder.blocks[:start]:
        x = block(x)
    return x


def forward_tail(encoder: nn.Module, features: Tensor, start: int) -> Tensor:
    """Attention blocks ``start``... and the neck, from :func:`forward_prefix`'s output: the image embedding."""
    _check_start(encoder, start)
    if isinstance(encoder, TinyViT):
        stage, offset = _locate(encoder, start)
        x = encoder.layers[stage](features, offset)
        for layer in encoder.layers[stage + 1 :]:
            x = layer(x)
        return encoder.neck(x)
    x = features
    for block in encoder.blocks[start:]:
        x = block(x)
    return encoder.neck(x.permute(0, 3, 1, 2))


def _check_start(encoder: nn.Module, start: int) -> None:
    n = len(attention_blocks(encoder))
    if not 0 <= start <= n:
        raise ValueError(f"start must be in 0..{n} (the encoder has {n} attention blocks), got {start}")


def _locate(encoder: TinyViT, start: int) -> tuple[int, int]:
    """(stage index, block index inside it) of global block ``start``; the end of the last stage for ``n``."""
    first = 0
    stages = [i for i, layer in enumerate(encoder.layers) if isinstance(layer, BasicLayer)]
    for i in stages:
        depth = len(encoder.layers[i].blocks)
        if start < first + depth:
            return i, start - first
        first += depth
    return stages[-1], len(encoder.layers[stages[-1]].blocks)
