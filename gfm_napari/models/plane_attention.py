"""The mask decoder's two-way transformer with the prompt-independent part of its first block computed once per
plane.

In SAM's first two-way block the image tokens are not yet changed by the prompts: the token→image attention's keys
and values (``k_proj(image + pe)``, ``v_proj(image)``) and the image→token attention's queries
(``q_proj(image + pe)``) depend on the plane only, as long as no mask is given as a prompt (the dense prompt
embedding is then the constant "no mask" one). They are three of the ten [4096 × 256] projections of a click,
with the additions that feed them. :class:`PlaneParts` holds them for one embedding; :func:`two_way_transformer`
is ``TwoWayTransformer.forward`` that takes them instead of computing them. Same operations in the same order
otherwise, so the masks are the ones the plain transformer gives (tests compare them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from segment_anything.modeling.transformer import Attention, TwoWayAttentionBlock, TwoWayTransformer
from torch import Tensor


@dataclass(frozen=True)
class PlaneParts:
    """The prompt-independent tensors of the first block for one image embedding (batch 1)."""

    keys: Tensor  # [1, hw, C] image tokens (embedding + dense "no mask" prompt)
    key_pe: Tensor  # [1, hw, C] their positional encoding
    token_to_image_k: Tensor  # [1, heads, hw, c] the token→image attention's keys, heads separated
    token_to_image_v: Tensor  # [1, heads, hw, c] its values
    image_to_token_q: Tensor  # [1, heads, hw, c] the image→token attention's queries

    @classmethod
    def of(cls, transformer: TwoWayTransformer, src: Tensor, pos_src: Tensor) -> PlaneParts:
        """The parts for channels-last ``src`` ([1, C, h, w]: embedding + dense prompt) and ``pos_src``."""
        keys = src.flatten(2).permute(0, 2, 1)
        key_pe = pos_src.flatten(2).permute(0, 2, 1)
        block = transformer.layers[0]
        to_image, to_token = block.cross_attn_token_to_image, block.cross_attn_image_to_token
        keyed = keys + key_pe
        return cls(
            keys, key_pe,
            to_image._separate_heads(to_image.k_proj(keyed), to_image.num_heads),
            to_image._separate_heads(to_image.v_proj(keys), to_image.num_heads),
            to_token._separate_heads(to_token.q_proj(keyed), to_token.num_heads),
        )


def two_way_transformer(transformer: TwoWayTransformer, plane: PlaneParts, tokens: Tensor) -> tuple[Tensor, Tensor]:
    """``transformer(image, pe, tokens)`` for the plane of ``plane``: (queries [K, N, C], keys [K, hw, C])."""
    queries, keys = _first_block(transformer.layers[0], plane, tokens)
    for block in transformer.layers[1:]:
        queries, keys = block(queries=queries, keys=keys, query_pe=tokens, key_pe=plane.key_pe)
    attended = transformer.final_attn_token_to_image(q=queries + tokens, k=keys + plane.key_pe, v=keys)
    return transformer.norm_final_attn(queries + attended), keys


def _first_block(block: TwoWayAttentionBlock, plane: PlaneParts, query_pe: Tensor) -> tuple[Tensor, Tensor]:
    """``TwoWayAttentionBlock.forward`` (first block: no positional encoding in its self-attention) with the
    plane's projections taken from ``plane``."""
    queries = block.norm1(block.self_attn(q=query_pe, k=query_pe, v=query_pe))
    to_image = block.cross_attn_token_to_image
    q = to_image._separate_heads(to_image.q_proj(queries + query_pe), to_image.num_heads)
    queries = block.norm2(queries + _attend(to_image, q, plane.token_to_image_k, plane.token_to_image_v))
    queries = block.norm3(queries + block.mlp(queries))
    to_token = block.cross_attn_image_to_token
    k = to_token._separate_heads(to_token.k_proj(queries + query_pe), to_token.num_heads)
    v = to_token._separate_heads(to_token.v_proj(queries), to_token.num_heads)
    keys = block.norm4(plane.keys + _attend(to_token, plane.image_to_token_q, k, v))
    return queries, keys


def _attend(attention: Attention, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """The rest of ``Attention.forward`` once q, k, v are projected and split into heads (they broadcast over
    the prompt sets)."""
    scores = q @ k.permute(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    return attention.out_proj(attention._recombine_heads(torch.softmax(scores, dim=-1) @ v))
