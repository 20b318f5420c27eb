"""The modules of GFM-style continual pretraining: a student encoder that sees masked images, its two heads, and
the teacher whose features it is distilled towards.

Student (:class:`MaskedStudent`): the segmenter's own image encoder (TinyViT or SAM's ViT). SimMIM masking: a
random set of ``mask_patch``-pixel squares of the input (ratio 0.6) is replaced, right after the patch embedding,
by a learned mask token. Two heads read its outputs:

- reconstruction: 1×1 conv + pixel shuffle from the image embedding (the neck output the mask decoder reads:
  stride 4 for LiteMedSAM, 16 for SAM) back to the S×S input; L_MIM is the L1 error on the masked pixels of the
  normalised input;
- projection: a 1×1 conv (linear per position) from the student's feature at ``stage`` to the teacher's channels;
  identity at start when both have the same channels (the default teacher, a frozen copy of the encoder), so the
  distillation starts at zero and holds the student where the decoder still understands it. L_feat is the cosine
  distance (1 − cosine similarity, i.e. the negative cosine similarity shifted to start at 0) per position,
  averaged; the teacher sees the unmasked image.

Stages: TinyViT ``1``..``3`` (the output of each attention stage) or ``neck`` (the image embedding); SAM's ViT a
block index or ``neck``. A timm teacher (:class:`TimmTeacher`) gives the stage ``out_indices`` of ``features_only``.
BatchNorm layers keep their running statistics (eval mode): batches of a few crops would make them noise.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import ImageEncoderViT
from torch import Tensor, nn

from ..errors import GfmError, ModelError
from ..models.tiny_vit import TinyViT
from ..models.weights import read_state_dict

NECK = "neck"


def random_masks(generator: torch.Generator | None, batch: int, grid: int, ratio: float) -> Tensor:
    """[batch, grid, grid] bool: exactly ``round(ratio * grid²)`` True cells per image, chosen at random."""
    count = round(ratio * grid * grid)
    order = torch.rand(batch, grid * grid, generator=generator).argsort(dim=1)
    masks = torch.zeros(batch, grid * grid, dtype=torch.bool)
    masks.scatter_(1, order[:, :count], True)
    return masks.view(batch, grid, grid)


def encoder_stem(encoder: nn.Module, images: Tensor) -> Tensor:
    """The frozen stem's output, where masking applies: TinyViT's patch embedding and first (convolutional) stage
    (2 % of the weights, half the compute at 256 px; NCHW at half the input resolution), or a ViT's patch
    embedding (NHWC), as MoCo v3 keeps the patch projection fixed."""
    if isinstance(encoder, TinyViT):  # channels-last convolutions: a third faster on CPUs
        return encoder.layers[0](encoder.patch_embed(images.contiguous(memory_format=torch.channels_last))).contiguous()
    if isinstance(encoder, ImageEncoderViT):
        return encoder.patch_embed(images)
    raise TypeError(f"no pretraining support for {type(encoder).__name__} (TinyViT or SAM's ImageEncoderViT)")


def encoder_trunk(
    encoder: nn.Module, stem: Tensor, stage: str, *, masks: Tensor | None = None, token: Tensor | None = None,
    frozen: int = 0,
) -> tuple[Tensor, Tensor]:
    """(feature at ``stage`` NCHW, image embedding NCHW) from :func:`encoder_stem`'s output; with ``masks``
    ([B, g, g] bool over the input), the masked squares are replaced by ``token``. The first ``frozen`` stages
    (TinyViT attention stages, ViT blocks) run without autograd: no gradient reaches them or anything before."""
    if isinstance(encoder, TinyViT):
        x = _mask(stem, masks, token, channels_last=False)
        stages = [stem]
        for index, layer in enumerate(encoder.layers[1:], start=1):
            with torch.set_grad_enabled(torch.is_grad_enabled() and index > frozen):
                x = layer(x)
            stages.append(x)
        embedding = encoder.neck(x)
        return (embedding if stage == NECK else stages[int(stage)]), embedding
    x = _mask(stem, masks, token, channels_last=True)
    if encoder.pos_embed is not None:
        x = x + encoder.pos_embed
    feature = None
    for i, block in enumerate(encoder.blocks):
        with torch.set_grad_enabled(torch.is_grad_enabled() and i >= frozen):
            x = block(x)
        if stage != NECK and i == int(stage):
            feature = x.permute(0, 3, 1, 2)
    embedding = encoder.neck(x.permute(0, 3, 1, 2))
    return (embedding if feature is None else feature), embedding


def stage_channels(encoder: nn.Module, stage: str) -> int:
    """Channels of :func:`encoder_trunk`'s feature at ``stage``; GfmError naming the valid stages."""
    if isinstance(encoder, TinyViT):
        names = [str(i) for i in range(1, len(encoder.layers))] + [NECK]
        if stage not in names:
            raise GfmError(f"stage {stage!r} does not exist; TinyViT stages: {', '.join(names)}")
        if stage == NECK:
            return encoder.neck[0].out_channels
        return encoder.embed_dims[min(int(stage) + 1, len(encoder.embed_dims) - 1)]  # after the stage's merging
    if isinstance(encoder, ImageEncoderViT):
        blocks = len(encoder.blocks)
        if stage != NECK and not (stage.isdigit() and int(stage) < blocks):
            raise GfmError(f"stage {stage!r} does not exist; ViT stages: 0..{blocks - 1} (blocks) or neck")
        return encoder.neck[0].out_channels if stage == NECK else encoder.patch_embed.proj.out_channels
    raise TypeError(f"no pretraining support for {type(encoder).__name__}")


def trunk_stages(encoder: nn.Module) -> int:
    """How many stages :func:`freeze_stages` can freeze: TinyViT's attention stages, or a ViT's blocks."""
    if isinstance(encoder, TinyViT):
        return len(encoder.layers) - 1
    if isinstance(encoder, ImageEncoderViT):
        return len(encoder.blocks)
    raise TypeError(f"no pretraining support for {type(encoder).__name__}")


def freeze_stages(encoder: nn.Module, count: int, stage: str) -> None:
    """No gradients for the first ``count`` stages after the stem (TinyViT 1..3, ViT blocks 0..count-1): the
    CPU-feasible mode trains only the later stages and the neck. GfmError when there are not that many, or when
    L_feat would read a frozen stage."""
    total = trunk_stages(encoder)
    if not 0 <= count <= total:
        raise GfmError(f"{count} frozen stages: this encoder has {total} after its stem (0..{total})")
    first_trained = count + 1 if isinstance(encoder, TinyViT) else count  # TinyViT's stages count from 1
    if stage != NECK and stage.isdigit() and int(stage) < first_trained:  # other names: stage_channels says
        raise GfmError(f"the feature loss reads stage {stage}, which {count} frozen stages leave untrained: choose "
                       f"a later stage or neck")
    layers = encoder.layers[1 : count + 1] if isinstance(encoder, TinyViT) else encoder.blocks[:count]
    for layer in layers:
        layer.requires_grad_(False)


def _stem_channels(encoder: nn.Module) -> int:
    return encoder.embed_dims[1] if isinstance(encoder, TinyViT) else encoder.patch_embed.proj.out_channels


def _mask(x: Tensor, masks: Tensor | None, token: Tensor | None, *, channels_last: bool) -> Tensor:
    if masks is None:
        return x
    size = x.shape[1:3] if channels_last else x.shape[2:4]
    m = F.interpolate(masks[:, None].to(x.dtype), size=tuple(size), mode="nearest")
    if channels_last:
        m = m.permute(0, 2, 3, 1)
        return x * (1 - m) + token.to(x.dtype) * m
    return x * (1 - m) + token.to(x.dtype).view(1, -1, 1, 1) * m


class MaskedStudent(nn.Module):
    """The student encoder with its mask token, reconstruction head and (when distilling) feature projection.

    Args:
        encoder: the image encoder to pretrain (trained in place).
        stride: input pixels per image-embedding position (the segmenter's ``input_size / embedding_size``).
        stage: where L_feat reads the student (see the module docstring).
        frozen_stages: stages after the stem run without autograd (:func:`freeze_stages`); the mask token is then
            not trained either.
        teacher_channels: channels of the teacher's feature; None without feature distillation.
        reconstruct: False without MIM (no reconstruction head).
    """

    def __init__(
        self, encoder: nn.Module, *, stride: int, stage: str, teacher_channels: int | None, reconstruct: bool = True,
        frozen_stages: int = 0,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.stage = stage
        self.frozen_stages = frozen_stages
        self.mask_token = nn.Parameter(torch.zeros(_stem_channels(encoder)))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        if frozen_stages:  # its gradient would have to pass through the frozen stages: it stays as drawn
            self.mask_token.requires_grad_(False)
        embedding_channels = stage_channels(encoder, NECK)
        self.reconstruction = (
            nn.Sequential(nn.Conv2d(embedding_channels, 3 * stride * stride, 1), nn.PixelShuffle(stride))
            if reconstruct else None
        )
        self.projection = None
        if teacher_channels is not None:
            channels = stage_channels(encoder, stage)
            self.projection = nn.Conv2d(channels, teacher_channels, 1)
            if channels == teacher_channels:
                with torch.no_grad():
                    self.projection.weight.copy_(torch.eye(channels)[:, :, None, None])
                    self.projection.bias.zero_()

    def train(self, mode: bool = True) -> MaskedStudent:
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        return self

    def forward(self, stem: Tensor, masks: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """From the stem's output (:func:`encoder_stem`, no gradients): (reconstruction [B, 3, S, S] or None,
        projected stage feature or None)."""
        feature, embedding = encoder_trunk(self.encoder, stem, self.stage, masks=masks, token=self.mask_token,
                                           frozen=self.frozen_stages)
        reconstruction = None if self.reconstruction is None else self.reconstruction(embedding)
        projected = None if self.projection is None else self.projection(feature)
        return reconstruction, projected


class FrozenTeacher(nn.Module):
    """A frozen copy of the encoder as it was before pretraining: its feature at ``stage`` of the unmasked image."""

    def __init__(self, encoder: nn.Module, stage: str) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(encoder).eval().requires_grad_(False)
        self.stage = stage
        self.channels = stage_channels(encoder, stage)

    def train(self, mode: bool = True) -> FrozenTeacher:
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: Tensor, stem: Tensor) -> Tensor:
        """The stem is the student's: both stems are the same frozen weights."""
        return encoder_trunk(self.encoder, stem, self.stage)[0]


class TimmTeacher(nn.Module):
    """Any timm model with a local weight file, frozen: its ``features_only`` output ``stage`` (an integer).

    The student's input (normalised as the student's model expects) is mapped back to [0, 1] by ``to_unit`` and
    normalised with the timm model's own mean and std.
    """

    def __init__(self, name: str, weights: Path, stage: str, to_unit) -> None:
        super().__init__()
        import timm

        if not stage.isdigit():
            raise GfmError(f"a timm teacher's stage is a feature index (0, 1, ...), got {stage!r}")
        try:
            model = timm.create_model(name, pretrained=False, features_only=True, out_indices=(int(stage),))
        except (RuntimeError, ValueError, IndexError) as error:
            raise ModelError(f"timm model {name!r} with feature stage {stage}: {error}") from None
        state = read_state_dict(weights)
        missing, _ = model.load_state_dict(state, strict=False)  # a classifier head in the file is not needed
        if missing:
            raise ModelError(f"{Path(weights).name} does not fit timm model {name}: {len(missing)} missing keys, "
                             f"e.g. {missing[0]!r}")
        self.model = model.eval().requires_grad_(False)
        self.channels = int(model.feature_info.channels()[0])
        config = model.pretrained_cfg or {}
        self.register_buffer("mean", torch.tensor(config.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(config.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1))
        self.to_unit = to_unit

    def train(self, mode: bool = True) -> TimmTeacher:
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: Tensor, stem: Tensor) -> Tensor:
        return self.model((self.to_unit(images) - self.mean) / self.std)[0]


def feature_distance(projected: Tensor, teacher: Tensor) -> Tensor:
    """Mean cosine distance per position; the student's map is resized to the teacher's when they differ."""
    if projected.shape[-2:] != teacher.shape[-2:]:
        projected = F.interpolate(projected, size=teacher.shape[-2:], mode="bilinear", align_corners=False)
    return 1 - F.cosine_similarity(projected.float(), teacher.float(), dim=1).mean()


def masked_l1(reconstruction: Tensor, images: Tensor, masks: Tensor) -> Tensor:
    """L1 error on the masked pixels (``masks`` [B, g, g] upsampled to the input), averaged over them."""
    m = F.interpolate(masks[:, None].float(), size=images.shape[-2:], mode="nearest")
    error = (reconstruction.float() - images.float()).abs() * m
    return error.sum() / (m.sum() * images.shape[1]).clamp(min=1)


def freeze_stem(encoder: nn.Module) -> None:
    """No gradients for the stem (:func:`encoder_stem`): it is not trained (TinyViT's is made channels-last)."""
    stem = [encoder.patch_embed] + ([encoder.layers[0]] if isinstance(encoder, TinyViT) else [])
    for module in stem:
        module.requires_grad_(False)
        if isinstance(encoder, TinyViT):
            module.to(memory_format=torch.channels_last)
