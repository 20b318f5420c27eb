"""Segmenter: one interface over LiteMedSAM and SAM (image encoder + prompt encoder + mask decoder).

The model is assembled from injected parts, so the engine never needs to know which family it drives:

    encode(images [B, 3, S, S] float32, preprocessed)  -> embeddings [B, 256, h, w]     (slow, once per image)
    decode(embeddings, points=..., boxes=..., ...)      -> low-res logits, IoU predictions (fast, per click)

All prompt coordinates are in the model's input frame: pixels of the S×S (padded) input, x before y, as in SAM.
Child module names (``image_encoder``, ``prompt_encoder``, ``mask_decoder``) equal those of the LiteMedSAM and
SAM checkpoints, so their state dicts load into a Segmenter strictly.
"""

from __future__ import annotations

import torch
from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
from torch import Tensor, nn

from gfm_napari.models.device import torch_threads_kept_idle
from gfm_napari.models.fast import ChannelsLastMaskDecoder
from gfm_napari.models.tiny_vit import TinyViT

__all__ = ["Segmenter", "build_litemedsam"]


class Segmenter(nn.Module):
    """Promptable segmentation model (SAM family) built from its three parts.

    Args:
        image_encoder: [B, 3, S, S] -> [B, C, h, w]; C and (h, w) must match the prompt encoder.
        prompt_encoder: segment_anything ``PromptEncoder`` (its ``input_image_size`` is S×S).
        mask_decoder: segment_anything ``MaskDecoder``.
    """

    mask_threshold: float = 0.0  # logits above this are foreground
    channels_last: bool = False  # feed the encoder channels-last input (set by models.fast.accelerate)
    encoder_runtime = None  # an OnnxEncoder that runs the encoder outside PyTorch (set by models.fast.accelerate)
    decoder_runtime = None  # an OpenVinoDecoder: the 8-bit prompt side of the mask decoder (models.fast.accelerate)
    _image_pe_cache: tuple[tuple, Tensor] | None = None

    def __init__(self, image_encoder: nn.Module, prompt_encoder: PromptEncoder, mask_decoder: MaskDecoder) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder

    @classmethod
    def from_sam(cls, sam: Sam) -> Segmenter:
        """Wrap the parts of a segment_anything ``Sam`` (its pixel normalisation is left to the caller)."""
        return cls(sam.image_encoder, sam.prompt_encoder, sam.mask_decoder)

    @property
    def input_size(self) -> int:
        """Side S of the square input the encoder expects, in pixels."""
        return int(self.prompt_encoder.input_image_size[0])

    @property
    def embedding_size(self) -> tuple[int, int]:
        """(h, w) of the image embedding."""
        h, w = self.prompt_encoder.image_embedding_size
        return int(h), int(w)

    @property
    def device(self) -> torch.device:
        return self.prompt_encoder.no_mask_embed.weight.device

    def encode(self, images: Tensor) -> Tensor:
        """Image embeddings.

        Args:
            images: [B, 3, S, S] float32, already normalised and padded (see the model spec's preprocessing).
        Returns:
            [B, 256, h, w] float32 on the model's device (LiteMedSAM: h = w = 64; SAM: 64).
        """
        s = self.input_size
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) != (s, s):
            raise ValueError(f"images must have shape [B, 3, {s}, {s}], got {list(images.shape)}")
        runtime = self.encoder_runtime
        if runtime is not None and not torch.is_grad_enabled() and runtime.is_current():
            return runtime(images).to(self.device)
        images = images.to(device=self.device, dtype=torch.float32)
        if self.channels_last:
            return self.image_encoder(images.contiguous(memory_format=torch.channels_last)).contiguous()
        return self.image_encoder(images)

    def decode(
        self,
        embeddings: Tensor,
        *,
        points: tuple[Tensor, Tensor] | None = None,
        boxes: Tensor | None = None,
        mask_input: Tensor | None = None,
        multimask: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """Masks for K prompt sets.

        Args:
            embeddings: [B, 256, h, w] from :meth:`encode`. B is 1 (all K prompt sets on one image) or K.
            points: (coords [K, N, 2] float as (x, y) in input pixels, labels [K, N]: 1 positive, 0 negative,
                -1 padding), or None.
            boxes: [K, 4] float (x0, y0, x1, y1) in input pixels, or None.
            mask_input: [K, 1, 4h, 4w] low-resolution logits of a previous prediction, or None.
            multimask: True -> 3 candidate masks per prompt set (for ambiguous single clicks); False -> 1.
        Returns:
            low_res_logits [K, M, 4h, 4w] (frame of the padded input, scaled by 4h/S) and iou_pred [K, M],
            M = 3 if multimask else 1.
        """
        h, w = self.embedding_size
        if embeddings.ndim != 4 or tuple(embeddings.shape[2:]) != (h, w):
            raise ValueError(f"embeddings must have shape [B, C, {h}, {w}], got {list(embeddings.shape)}")
        dev = self.device
        sizes = []
        if points is not None:
            coords, labels = points
            if coords.ndim != 3 or coords.shape[2] != 2 or tuple(labels.shape) != tuple(coords.shape[:2]):
                raise ValueError(f"points must be ([K, N, 2], [K, N]), got {list(coords.shape)}, {list(labels.shape)}")
            points = (coords.to(dev, torch.float32), labels.to(dev, torch.int64))
            sizes.append(coords.shape[0])
        if boxes is not None:
            if boxes.ndim != 2 or boxes.shape[1] != 4:
                raise ValueError(f"boxes must have shape [K, 4], got {list(boxes.shape)}")
            boxes = boxes.to(dev, torch.float32)
            sizes.append(boxes.shape[0])
        if mask_input is not None:
            if mask_input.ndim != 4 or tuple(mask_input.shape[1:]) != (1, 4 * h, 4 * w):
                raise ValueError(f"mask_input must have shape [K, 1, {4 * h}, {4 * w}], got {list(mask_input.shape)}")
            mask_input = mask_input.to(dev, torch.float32)
            sizes.append(mask_input.shape[0])
        k = sizes[0] if sizes else embeddings.shape[0]
        if any(n != k for n in sizes):
            raise ValueError(f"points, boxes and mask_input disagree on the number of prompt sets: {sizes}")
        b = embeddings.shape[0]
        embeddings = embeddings.to(dev, torch.float32)
        if b == 1:
            return self._decode_one(embeddings, points, boxes, mask_input, multimask)
        if b != k:
            raise ValueError(f"{b} embeddings for {k} prompt sets: give one embedding or one per prompt set")
        # segment_anything's MaskDecoder repeats the embedding once per prompt set, which suits one image only:
        # decode each image with its own prompts.
        outs = [
            self._decode_one(
                embeddings[i : i + 1],
                None if points is None else (points[0][i : i + 1], points[1][i : i + 1]),
                None if boxes is None else boxes[i : i + 1],
                None if mask_input is None else mask_input[i : i + 1],
                multimask,
            )
            for i in range(b)
        ]
        return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])

    def _image_pe(self) -> Tensor:
        """The prompt encoder's dense positional encoding of the embedding grid ([1, 256, h, w]). It depends only on
        a fixed random buffer, so outside training it is computed once (~4 ms a click on 2 CPU cores)."""
        if torch.is_grad_enabled():
            return self.prompt_encoder.get_dense_pe()
        gaussian = self.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
        key = (gaussian.data_ptr(), gaussian._version, gaussian.device)
        if self._image_pe_cache is None or self._image_pe_cache[0] != key:
            self._image_pe_cache = (key, self.prompt_encoder.get_dense_pe())
        return self._image_pe_cache[1]

    def _decode_one(
        self,
        embedding: Tensor,
        points: tuple[Tensor, Tensor] | None,
        boxes: Tensor | None,
        mask_input: Tensor | None,
        multimask: bool,
    ) -> tuple[Tensor, Tensor]:
        runtime = self.decoder_runtime if isinstance(self.mask_decoder, ChannelsLastMaskDecoder) else None
        if runtime is not None and (torch.is_grad_enabled() or not runtime.is_current()):
            runtime = None
        # around the 8-bit decoder, PyTorch's small share (prompt encoding) runs on this thread alone, so its OpenMP
        # workers do not spin on the cores OpenVINO needs next; a mask prompt's first-block projections are large
        # enough to pay for both threads (measured: a later click 31 ms on two threads, 35 ms on one; float 42 ms)
        with torch_threads_kept_idle(runtime is not None and mask_input is None):
            sparse, dense = self.prompt_encoder(points=points, boxes=boxes, masks=mask_input)
            fast_path = {}
            if isinstance(self.mask_decoder, ChannelsLastMaskDecoder):
                fast_path = {"reuse_plane": mask_input is None, "runtime": runtime}
            return self.mask_decoder(
                image_embeddings=embedding,
                image_pe=self._image_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask,
                **fast_path,
            )


def build_litemedsam() -> Segmenter:
    """LiteMedSAM with random weights: TinyViT encoder (256 px), SAM prompt encoder and mask decoder."""
    return Segmenter(
        image_encoder=TinyViT(),
        prompt_encoder=PromptEncoder(
            embed_dim=256, image_embedding_size=(64, 64), input_image_size=(256, 256), mask_in_chans=16
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
            transformer_dim=256,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
    )
