"""The mask decoder's two-way transformer with the prompt-independent part of its first block computed once per
plane.

In SAM's first two-way block the image tokens are not yet changed by the prompts: the token→image attention's keys
and values (``k_proj(image + pe)``, ``v_proj(image)``) and the image→token attention's queries
(``q_proj(image + pe)``) depend on the plane only, as long as no mask is given as a prompt (the dense prompt
embedding is then the constant "no mask" one). They are three of the ten [4096 × 256] projections of a click,
with the additions that feed them. :class:`ImageSide` holds a block's image side (kept per embedding for the
first block); :func:`two_way_transformer` is ``TwoWayTransformer.forward`` that takes the first block's instead of
computing them. It also forms each block's
``keys + key_pe`` once, and runs the image→token attention (4096 queries over a few tokens) with PyTorch's fused
attention kernel; otherwise the same operations in the same order. Logits agree with the plain transformer's to
float rounding (tests compare them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from segment_anything.modeling.transformer import Attention, TwoWayAttentionBlock, TwoWayTransformer
from torch import Tensor


@dataclass(frozen=True)
class ImageSide:
    """The image-side inputs of a two-way block: its image tokens and their projections. For the first block they
    depend on the plane only (batch 1, kept per plane); for later blocks, on the prompts too (batch K)."""

    keys: Tensor  # [B, hw, C] image tokens (for the first block: embedding + dense "no mask" prompt)
    key_pe: Tensor  # [1, hw, C] their positional encoding
    token_to_image_k: Tensor  # [B, hw, c] the token→image attention's keys (heads not yet separated)
    token_to_image_v: Tensor  # [B, hw, c] its values
    image_to_token_q: Tensor  # [B, hw, c] the image→token attention's queries

    @classmethod
    def of_plane(cls, transformer: TwoWayTransformer, src: Tensor, pos_src: Tensor) -> ImageSide:
        """The first block's image side for channels-last ``src`` ([1, C, h, w]: embedding + dense prompt) and
        ``pos_src``."""
        return cls.of(transformer.layers[0], src.flatten(2).permute(0, 2, 1), pos_src.flatten(2).permute(0, 2, 1))

    @classmethod
    def of(cls, block: TwoWayAttentionBlock, keys: Tensor, key_pe: Tensor) -> ImageSide:
        """``block``'s image side for tokens ``keys`` ([B, hw, C]); ``keys + key_pe`` formed once (the keys do not
        change between the block's two cross-attentions)."""
        to_image, to_token = block.cross_attn_token_to_image, block.cross_attn_image_to_token
        keyed = keys + key_pe
        return cls(keys, key_pe, to_image.k_proj(keyed), to_image.v_proj(keys), to_token.q_proj(keyed))


def two_way_transformer(transformer: TwoWayTransformer, plane: ImageSide, tokens: Tensor) -> tuple[Tensor, Tensor]:
    """``transformer(image, pe, tokens)`` for the plane whose first-block image side is ``plane``: (queries
    [K, N, C], keys [K, hw, C])."""
    queries, keys = _block(transformer.layers[0], tokens, tokens, plane)
    for block in transformer.layers[1:]:
        queries, keys = _block(block, queries, tokens, ImageSide.of(block, keys, plane.key_pe))
    attended = transformer.final_attn_token_to_image(q=queries + tokens, k=keys + plane.key_pe, v=keys)
    return transformer.norm_final_attn(queries + attended), keys


def _block(block: TwoWayAttentionBlock, queries: Tensor, query_pe: Tensor, image: ImageSide) -> tuple[Tensor, Tensor]:
    """``TwoWayAttentionBlock.forward`` with the image-side projections given (``image``)."""
    if block.skip_first_layer_pe:
        queries = block.norm1(block.self_attn(q=queries, k=queries, v=queries))
    else:
        queries = block.norm1(queries + block.self_attn(q=queries + query_pe, k=queries + query_pe, v=queries))
    to_image, to_token = block.cross_attn_token_to_image, block.cross_attn_image_to_token
    q = _heads(to_image, to_image.q_proj(queries + query_pe))
    scores = q @ _heads(to_image, image.token_to_image_k).permute(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    attended = torch.softmax(scores, dim=-1) @ _heads(to_image, image.token_to_image_v)
    attended = to_image.out_proj(to_image._recombine_heads(attended))
    queries = block.norm2(queries + attended)
    queries = block.norm3(queries + block.mlp(queries))
    k, v = _heads(to_token, to_token.k_proj(queries + query_pe)), _heads(to_token, to_token.v_proj(queries))
    # 4096 image queries over a few tokens: the fused kernel is ~1.7x faster than product + softmax on the CPU
    image_queries = _heads(to_token, image.image_to_token_q)
    attended = F.scaled_dot_product_attention(image_queries.expand(k.shape[0], -1, -1, -1), k, v)
    return queries, block.norm4(image.keys + to_token.out_proj(to_token._recombine_heads(attended)))


def _heads(attention: Attention, x: Tensor) -> Tensor:
    return attention._separate_heads(x, attention.num_heads)
