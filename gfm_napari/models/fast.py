"""The inference fast path: the same weights, rearranged so CPUs spend their time in matrix products.

Measured with ``gfm-napari bench`` (2 CPU cores; a profile of the click path put ~60 % of a click in the mask
decoder's two 2×2 stride-2 transposed convolutions and the layout copies around them):

- **Decoder** (:class:`ChannelsLastMaskDecoder`): SAM's ``output_upscaling`` (ConvTranspose 2×2/2,
  LayerNorm2d, GELU, ConvTranspose 2×2/2, GELU) is computed as two matrix products in channels-last order; the
  hypernetwork product runs on the unshuffled 4×4 blocks, so only the final (few-channel) masks are permuted to
  image order. A 2×2 stride-2 transposed convolution writes each input pixel to its own 2×2 output block, so it
  *is* a matrix product; oneDNN's generic kernel for it is several times slower on CPU. One image's embedding
  is broadcast to the prompt sets instead of copied.
- **Encoder**: on the CPU it runs on ONNX Runtime (:mod:`.onnx_encoder`: Conv+BatchNorm folded, GELU and norms
  fused); in PyTorch (GPU, or no ONNX Runtime) modules and input are channels-last.
- **8 bits** (``precision="int8"``, CPU): the encoder (:mod:`.openvino_encoder`) and the decoder's prompt side
  (:meth:`ChannelsLastMaskDecoder.answer`, :mod:`.openvino_decoder`) run their large matrix products in 8 bits
  on OpenVINO; their masks are held to the float ones within a Dice margin, not to rounding.

Both keep parameter names, so checkpoints and adapters load the same, and both give the plain path's masks
(tests compare them on real slices). :func:`accelerate` applies them in place; ``load_model(fast=False)`` keeps
the plain reference path.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from segment_anything.modeling import MaskDecoder
from segment_anything.modeling.common import LayerNorm2d
from torch import Tensor, nn

from gfm_napari.models.plane_attention import ImageSide, two_way_transformer
from gfm_napari.models.tiny_vit import TinyViT

__all__ = ["ChannelsLastMaskDecoder", "accelerate"]

PromptSideRuntime = Callable[[ImageSide, Tensor], tuple[Tensor, Tensor]]
"""``(first block's image side, sparse prompt embeddings [K, N, C]) -> (masks [K, 4, 4h, 4w], IoUs [K, 4])``"""


class ChannelsLastMaskDecoder(MaskDecoder):
    """SAM's mask decoder with its ×4 upscaling computed as matrix products; same parameters and outputs."""

    @classmethod
    def from_decoder(cls, decoder: MaskDecoder) -> ChannelsLastMaskDecoder:
        """A copy of ``decoder`` (weights, device, train/eval mode, trainable flags) on the fast path."""
        conv1, norm, act1, conv2, act2 = decoder.output_upscaling
        shapes_ok = all(
            isinstance(conv, nn.ConvTranspose2d) and conv.kernel_size == (2, 2) and conv.stride == (2, 2)
            and conv.padding == (0, 0) and conv.bias is not None
            for conv in (conv1, conv2)
        )
        if not (shapes_ok and isinstance(norm, LayerNorm2d) and _is_exact_gelu(act1) and _is_exact_gelu(act2)):
            raise TypeError("not SAM's output_upscaling (ConvT 2x2/2, LayerNorm2d, GELU, ConvT 2x2/2, GELU)")
        fast = cls(
            transformer_dim=decoder.transformer_dim,
            transformer=copy.deepcopy(decoder.transformer),
            num_multimask_outputs=decoder.num_multimask_outputs,
            iou_head_depth=decoder.iou_prediction_head.num_layers,
            iou_head_hidden_dim=decoder.iou_prediction_head.layers[0].out_features,
        )
        fast.load_state_dict(decoder.state_dict())
        for new, old in zip(fast.parameters(), decoder.parameters()):
            new.requires_grad_(old.requires_grad)
        return fast.to(conv1.weight.device).train(decoder.training)

    _planes: tuple[tuple[tuple, ImageSide], ...] = ()  # the last planes' first-block parts and what they came from
    planes_kept = 1  # how many (a view ensemble, models.views, answers a click on each of its views' embeddings)

    def forward(
        self, image_embeddings: Tensor, image_pe: Tensor, sparse_prompt_embeddings: Tensor,
        dense_prompt_embeddings: Tensor, multimask_output: bool, *, reuse_plane: bool = False,
        runtime: PromptSideRuntime | None = None,
    ) -> tuple[Tensor, Tensor]:
        """As ``MaskDecoder.forward``. ``reuse_plane``: the dense prompt is the constant "no mask" embedding (no
        mask prompt), so the first block's image-side projections are kept for the next prompts on the same
        embedding (:mod:`.plane_attention`; outside training only). ``runtime``: what answers the prompts from the
        first block's image side (:meth:`answer` run elsewhere, e.g. the 8-bit decoder), for one image with one
        dense prompt (or one prompt set); PyTorch answers the others."""
        masks, iou_pred = self.predict_masks(
            image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings,
            reuse_plane=reuse_plane and not torch.is_grad_enabled(), runtime=runtime,
        )
        chosen = slice(1, None) if multimask_output else slice(0, 1)
        return masks[:, chosen], iou_pred[:, chosen]

    def predict_masks(
        self, image_embeddings: Tensor, image_pe: Tensor, sparse_prompt_embeddings: Tensor,
        dense_prompt_embeddings: Tensor, *, reuse_plane: bool = False, runtime: PromptSideRuntime | None = None,
    ) -> tuple[Tensor, Tensor]:
        """As ``MaskDecoder.predict_masks``; one image's embedding is broadcast, not copied, to the prompt sets."""
        one_image = image_embeddings.shape[0] == 1
        if one_image and (reuse_plane or (runtime is not None and dense_prompt_embeddings.shape[0] == 1)):
            if reuse_plane:
                plane = self._plane_parts(image_embeddings, image_pe, dense_prompt_embeddings)
            else:  # a mask prompt: the first block's image side is this prompt's own
                plane = ImageSide.of_plane(self.transformer, _channels_last(image_embeddings + dense_prompt_embeddings),
                                           _channels_last(image_pe))
            return (runtime or self.answer)(plane, sparse_prompt_embeddings)
        tokens = self._tokens(sparse_prompt_embeddings)
        k = tokens.shape[0]
        if not one_image:
            image_embeddings = torch.repeat_interleave(image_embeddings, k, dim=0)
        # channels-last, so that the transformer's flatten(2).permute(0, 2, 1) gives contiguous tokens: its
        # additions and layer norms over [4096, 256] tokens are several times slower on strided views
        src = _channels_last(image_embeddings + dense_prompt_embeddings)
        hs, src = self.transformer(src, _channels_last(image_pe).expand(k, -1, -1, -1), tokens)
        return self._masks(hs, src, image_embeddings.shape[2:])

    def answer(self, plane: ImageSide, sparse_prompt_embeddings: Tensor) -> tuple[Tensor, Tensor]:
        """Masks [K, 4, 4h, 4w] and predicted IoUs [K, 4] for K prompt sets on the plane whose first two-way block's
        image side is ``plane`` (the prompt-dependent part of a click; the 8-bit decoder is this, exported)."""
        hs, src = two_way_transformer(self.transformer, plane, self._tokens(sparse_prompt_embeddings))
        side = math.isqrt(plane.keys.shape[1])  # LiteMedSAM's and SAM's embeddings are square
        return self._masks(hs, src, (side, side))

    def _tokens(self, sparse_prompt_embeddings: Tensor) -> Tensor:
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(sparse_prompt_embeddings.size(0), -1, -1)
        return torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

    def _masks(self, hs: Tensor, src: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """The transformer's output tokens ``hs`` and image tokens ``src`` ([K, h·w, C]) → masks and IoUs."""
        (h, w), b, c = size, hs.shape[0], src.shape[-1]
        blocks = self._upscaled_blocks(src.view(b, h, w, c))  # [b, h, w, i, j, k, l, c/8]
        mask_tokens_out = hs[:, 1 : (1 + self.num_mask_tokens), :]
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        masks = blocks.reshape(b, -1, blocks.shape[-1]) @ hyper_in.transpose(1, 2)  # [b, pixels, masks]
        # output row = 4y + 2i + k, column = 4x + 2j + l
        masks = masks.view(b, h, w, 2, 2, 2, 2, -1).permute(0, 7, 1, 3, 5, 2, 4, 6).reshape(b, -1, 4 * h, 4 * w)
        return masks, self.iou_prediction_head(hs[:, 0, :])

    def _plane_parts(self, embedding: Tensor, image_pe: Tensor, dense: Tensor) -> ImageSide:
        """The first block's parts for ``embedding`` ([1, C, h, w]), computed when it is not one of the last
        ``planes_kept`` seen. An entry holds the embedding itself, so its memory cannot be reused by another one while
        it is kept."""
        versions = tuple(_version(t) for t in (embedding, image_pe, dense, *self.transformer.layers[0].parameters()))
        for (kept_embedding, kept_pe, kept_versions), parts in self._planes:
            if kept_embedding is embedding and kept_pe is image_pe and kept_versions == versions:
                return parts
        parts = ImageSide.of_plane(self.transformer, _channels_last(embedding + dense[:1]), _channels_last(image_pe))
        self._planes = (((embedding, image_pe, versions), parts), *self._planes[: self.planes_kept - 1])
        return parts

    def _upscaled_blocks(self, x: Tensor) -> Tensor:
        """``output_upscaling`` on channels-last tokens [b, h, w, c], each pixel's 4×4 block left unshuffled."""
        conv1, norm, _, conv2, _ = self.output_upscaling
        y = _stride2_transposed_conv(x, conv1)  # [b, h, w, 2, 2, c/4]
        y = F.gelu(F.layer_norm(y, (conv1.out_channels,), norm.weight, norm.bias, norm.eps))
        return F.gelu(_stride2_transposed_conv(y, conv2))


def _channels_last(x: Tensor) -> Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def _version(tensor: Tensor) -> int | None:
    """The in-place change counter of ``tensor``; None for an inference tensor (it has none: such tensors, like
    the cached embeddings, are not changed in place)."""
    return None if tensor.is_inference() else tensor._version


def _stride2_transposed_conv(x: Tensor, conv: nn.ConvTranspose2d) -> Tensor:
    """[..., C_in] channels-last → [..., 2, 2, C_out]: each input pixel's 2×2 output block (row offset first).

    A 2×2 stride-2 transposed convolution writes every input pixel to its own 2×2 output block: a matrix product.
    """
    c_in, c_out = conv.in_channels, conv.out_channels
    weight = conv.weight.permute(0, 2, 3, 1).reshape(c_in, 4 * c_out)  # (C_in, C_out, 2, 2) → (C_in, (i, j, C_out))
    out = torch.addmm(conv.bias.repeat(4), x.reshape(-1, c_in), weight)
    return out.view(*x.shape[:-1], 2, 2, c_out)


def _is_exact_gelu(module: nn.Module) -> bool:
    return isinstance(module, nn.GELU) and module.approximate == "none"


def accelerate(segmenter: nn.Module, model_id: str | None = None, precision: str = "float") -> nn.Module:
    """Switch ``segmenter`` (a :class:`~gfm_napari.models.segmenter.Segmenter`, weights loaded, eval mode) to
    the fast inference path in place; returns it.

    The TinyViT (LiteMedSAM) encoder is made channels-last; on the CPU, with ``model_id`` given, it runs on ONNX
    Runtime (:mod:`.onnx_encoder`, which folds Conv+BN itself; PyTorch stays the fallback). Parameter names and
    values are untouched, so a state dict saved from an accelerated model loads into a plain one.
    ``precision="int8"`` (CPU): the encoder (with ``model_id``) runs its matrix products in 8 bits on OpenVINO
    (:mod:`.openvino_encoder`), and so does the mask decoder's prompt side (:mod:`.openvino_decoder`).
    """
    if not isinstance(segmenter.mask_decoder, ChannelsLastMaskDecoder):
        segmenter.mask_decoder = ChannelsLastMaskDecoder.from_decoder(segmenter.mask_decoder)
    encoder = segmenter.image_encoder
    if isinstance(encoder, TinyViT):
        encoder.to(memory_format=torch.channels_last)
        segmenter.channels_last = True
        if segmenter.device.type == "cpu":
            if model_id is not None:
                segmenter.encoder_runtime = _runtime("encoder", precision, lambda: _encoder_runtime(
                    encoder, model_id, segmenter.input_size, precision))
            segmenter.decoder_runtime = None
            if precision == "int8":
                segmenter.decoder_runtime = _runtime("decoder", precision, lambda: _decoder_runtime(segmenter))
    return segmenter


def _runtime(part: str, precision: str, make: Callable[[], object]):
    """``make()``, or None with a warning when it fails (no wheel for this platform, a failed export...):
    PyTorch still runs ``part``."""
    try:
        return make()
    except Exception as error:
        warnings.warn(f"{precision} {part} runtime unavailable ({type(error).__name__}: {error}); using PyTorch",
                      RuntimeWarning, stacklevel=4)
        return None


def _encoder_runtime(encoder: nn.Module, model_id: str, input_size: int, precision: str):
    if precision == "int8":
        from gfm_napari.models.openvino_encoder import OpenVinoEncoder

        return OpenVinoEncoder.for_encoder(encoder, model_id, input_size)
    from gfm_napari.models.onnx_encoder import OnnxEncoder

    return OnnxEncoder.for_encoder(encoder, model_id, input_size)


def _decoder_runtime(segmenter: nn.Module):
    from gfm_napari.models.openvino_decoder import OpenVinoDecoder

    return OpenVinoDecoder.for_segmenter(segmenter)
