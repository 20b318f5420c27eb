"""LiteMedSAM image encoder: a TinyViT variant, written for gfm-napari.

Architecture (learned from the TinyViT / MobileSAM / LiteMedSAM code, Apache-2.0), default config = LiteMedSAM:

    image  [B, 3, 256, 256] float32, already normalised
    patch_embed   two 1×1 Conv+BN (GELU between), stride 1        -> [B,  64, 256, 256]
    layers[0]     2 MBConv blocks, then PatchMerging (stride 2)    -> [B, 128, 128, 128]
    layers[1]     2 TinyViT blocks (window 7),  PatchMerging (/2)  -> [B, 160,  64,  64]
    layers[2]     6 TinyViT blocks (window 14), PatchMerging (/1)  -> [B, 320,  64,  64]
    layers[3]     2 TinyViT blocks (window 7)                      -> [B, 320,  64,  64]
    neck          1×1 conv, LayerNorm2d, 3×3 conv, LayerNorm2d     -> [B, 256,  64,  64]

Parameter names equal those of the LiteMedSAM checkpoint (``patch_embed.seq.0.c.weight``, ``layers.1.blocks.0.attn
.attention_biases``, ``neck.0.weight`` ...), so its ``image_encoder.*`` state dict loads strictly. Unlike the
reference, spatial sizes are taken from the input, not fixed at construction.

``forward_stages`` returns the four stage outputs (NCHW, shapes above) for feature distillation; ``fuse_conv_bn``
folds every Conv+BatchNorm pair into one convolution for inference (the state dict then no longer matches the
checkpoint layout: fuse after loading, never before).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from segment_anything.modeling.common import LayerNorm2d
from torch import Tensor, nn

__all__ = ["ConvBN", "TinyViT", "fuse_conv_bn"]


class ConvBN(nn.Sequential):
    """Conv2d without bias followed by BatchNorm2d (children ``c`` and ``bn``); 'same' padding."""

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        bn_weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.add_module(
            "c", nn.Conv2d(in_chans, out_chans, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        )
        bn = nn.BatchNorm2d(out_chans)
        nn.init.constant_(bn.weight, bn_weight_init)
        nn.init.zeros_(bn.bias)
        self.add_module("bn", bn)

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """One Conv2d (with bias) equal to this pair in eval mode."""
        conv, bn = self.c, self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=True,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
        )
        fused.weight.copy_(conv.weight * scale[:, None, None, None])
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        fused.weight.requires_grad_(conv.weight.requires_grad)
        fused.bias.requires_grad_(conv.weight.requires_grad)
        return fused.train(self.training)


def fuse_conv_bn(module: nn.Module) -> nn.Module:
    """Replace every :class:`ConvBN` inside ``module`` (in place) by its fused convolution; returns ``module``."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ConvBN):
                setattr(parent, name, child.fuse())
    return module


class PatchEmbed(nn.Module):
    """Pixel-wise stem: two 1×1 Conv+BN with GELU between (LiteMedSAM keeps full resolution here)."""

    def __init__(self, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(ConvBN(in_chans, embed_dim // 2), nn.GELU(), ConvBN(embed_dim // 2, embed_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand, 3×3 depthwise, 1×1 project (BN weight 0 at init), residual, GELU."""

    def __init__(self, dim: int, expand_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * expand_ratio)
        self.conv1 = ConvBN(dim, hidden)
        self.conv2 = ConvBN(hidden, hidden, kernel_size=3, groups=hidden)
        self.conv3 = ConvBN(hidden, dim, bn_weight_init=0.0)

    def forward(self, x: Tensor) -> Tensor:
        y = F.gelu(self.conv2(F.gelu(self.conv1(x))))
        return F.gelu(self.conv3(y) + x)


class PatchMerging(nn.Module):
    """1×1 conv, 3×3 depthwise conv with ``stride``, 1×1 conv; NCHW in and out."""

    def __init__(self, dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.conv1 = ConvBN(dim, out_dim)
        self.conv2 = ConvBN(out_dim, out_dim, kernel_size=3, stride=stride, groups=out_dim)
        self.conv3 = ConvBN(out_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv3(F.gelu(self.conv2(F.gelu(self.conv1(x)))))


class ConvLayer(nn.Module):
    """Stage of MBConv blocks followed by an optional PatchMerging; NCHW in and out."""

    def __init__(self, dim: int, depth: int, expand_ratio: float, downsample: PatchMerging | None) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(MBConv(dim, expand_ratio) for _ in range(depth))
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return x if self.downsample is None else self.downsample(x)


class Mlp(nn.Module):
    """Pre-norm MLP: LayerNorm, Linear, GELU, Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


def _relative_offset_index(window_size: int) -> tuple[Tensor, int]:
    """[N, N] index of |dy|, |dx| offsets (numbered in first-seen order, as the checkpoints expect), and count."""
    points = list(itertools.product(range(window_size), range(window_size)))
    offsets: dict[tuple[int, int], int] = {}
    idxs = []
    for p1 in points:
        for p2 in points:
            idxs.append(offsets.setdefault((abs(p1[0] - p2[0]), abs(p1[1] - p2[1])), len(offsets)))
    n = len(points)
    return torch.tensor(idxs, dtype=torch.long).view(n, n), len(offsets)


class Attention(nn.Module):
    """Pre-norm multi-head self-attention over one window of ``window_size²`` tokens with a learned bias per
    head and relative offset (``attention_biases`` [heads, offsets], gathered through ``attention_bias_idxs``).

    In eval mode the gathered [heads, N, N] bias is cached; the cache is keyed by the parameter's version and
    device, so loading weights or moving the module never leaves it stale.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        idxs, n_offsets = _relative_offset_index(window_size)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, n_offsets))
        self.register_buffer("attention_bias_idxs", idxs, persistent=False)
        self._bias_cache: tuple[tuple, Tensor] | None = None

    def _bias(self) -> Tensor:
        p = self.attention_biases
        if self.training or p.is_inference() or (torch.is_grad_enabled() and p.requires_grad):
            return p[:, self.attention_bias_idxs]
        key = (p._version, p.data_ptr(), p.device, p.dtype)
        if self._bias_cache is None or self._bias_cache[0] != key:
            with torch.no_grad():
                self._bias_cache = (key, p[:, self.attention_bias_idxs])
        return self._bias_cache[1]

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, N, C] tokens of B windows -> [B, N, C]."""
        b, n, c = x.shape
        qkv = self.qkv(self.norm(x)).view(b, n, self.num_heads, 3 * self.head_dim).transpose(1, 2)
        q, k, v = qkv.split(self.head_dim, dim=3)  # per head: q, k, v interleaved, as in the checkpoints
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=self._bias().to(q.dtype))
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class TinyViTBlock(nn.Module):
    """Window attention (zero-padded to whole windows) + residual, 3×3 depthwise Conv+BN, MLP + residual."""

    def __init__(self, dim: int, num_heads: int, window_size: int, mlp_ratio: float, local_conv_size: int) -> None:
        super().__init__()
        self.window_size = window_size
        self.attn = Attention(dim, num_heads, window_size)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.local_conv = ConvBN(dim, dim, kernel_size=local_conv_size, groups=dim)

    def _window_attention(self, x: Tensor) -> Tensor:
        """x: [B, H, W, C] -> [B, H, W, C]."""
        b, h, w, c = x.shape
        ws = self.window_size
        pad_b, pad_r = (ws - h % ws) % ws, (ws - w % ws) % ws
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))  # padded tokens take part as keys, as in the reference
        ph, pw = h + pad_b, w + pad_r
        nh, nw = ph // ws, pw // ws
        windows = x.view(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c)
        x = self.attn(windows).view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, ph, pw, c)
        return x[:, :h, :w] if pad_b or pad_r else x

    def forward(self, x: Tensor, hw: tuple[int, int]) -> Tensor:
        """x: [B, H*W, C] tokens in row-major order, hw = (H, W) -> [B, H*W, C]."""
        h, w = hw
        b, n, c = x.shape
        x = x + self._window_attention(x.view(b, h, w, c)).reshape(b, n, c)
        x = self.local_conv(x.transpose(1, 2).reshape(b, c, h, w)).view(b, c, n).transpose(1, 2)
        return x + self.mlp(x)


class BasicLayer(nn.Module):
    """Stage of TinyViT blocks followed by an optional PatchMerging; NCHW in and out."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        local_conv_size: int,
        downsample: PatchMerging | None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TinyViTBlock(dim, num_heads, window_size, mlp_ratio, local_conv_size) for _ in range(depth)
        )
        self.downsample = downsample

    def forward(self, x: Tensor, start: int = 0, stop: int | None = None) -> Tensor:
        """Run ``blocks[start:stop]``; the PatchMerging only when the stage runs to its end (``stop`` None).

        The range lets :mod:`gfm_napari.models.encoder_split` cut the encoder between two blocks of a stage.
        """
        b, c, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        for block in self.blocks[start:stop]:
            x = block(x, (h, w))
        x = x.transpose(1, 2).reshape(b, c, h, w)
        return x if self.downsample is None or stop is not None else self.downsample(x)


class TinyViT(nn.Module):
    """TinyViT image encoder with a SAM neck. Defaults are LiteMedSAM's (256 px in, [B, 256, 64, 64] out).

    ``downsample_strides[i]`` is the stride of the PatchMerging after stage ``i`` (LiteMedSAM: 2, 2, 1).
    """

    def __init__(
        self,
        *,
        img_size: int = 256,
        in_chans: int = 3,
        embed_dims: Sequence[int] = (64, 128, 160, 320),
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (2, 4, 5, 10),
        window_sizes: Sequence[int] = (7, 7, 14, 7),
        downsample_strides: Sequence[int] = (2, 2, 1),
        mlp_ratio: float = 4.0,
        mbconv_expand_ratio: float = 4.0,
        local_conv_size: int = 3,
        out_chans: int = 256,
    ) -> None:
        super().__init__()
        n = len(embed_dims)
        if not (len(depths) == len(num_heads) == len(window_sizes) == n and len(downsample_strides) == n - 1):
            raise ValueError("embed_dims, depths, num_heads, window_sizes need one entry per stage")
        self.img_size = img_size
        self.embed_dims = tuple(embed_dims)
        self.patch_embed = PatchEmbed(in_chans, embed_dims[0])
        self.layers = nn.ModuleList()
        for i in range(n):
            down = PatchMerging(embed_dims[i], embed_dims[i + 1], downsample_strides[i]) if i < n - 1 else None
            if i == 0:
                layer: nn.Module = ConvLayer(embed_dims[0], depths[0], mbconv_expand_ratio, down)
            else:
                layer = BasicLayer(
                    embed_dims[i], depths[i], num_heads[i], window_sizes[i], mlp_ratio, local_conv_size, down
                )
            self.layers.append(layer)
        self.apply(_init_weights)
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dims[-1], out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        """x: [B, in_chans, H, W] -> the output of each stage (after its PatchMerging), NCHW."""
        x = self.patch_embed(x)
        stages = []
        for layer in self.layers:
            x = layer(x)
            stages.append(x)
        return stages

    def forward_features(self, x: Tensor) -> Tensor:
        """x: [B, 3, S, S] -> image embedding [B, out_chans, S/4, S/4] (the neck output)."""
        return self.neck(self.forward_stages(x)[-1])

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)

    def fuse_conv_bn(self) -> TinyViT:
        """Fold every Conv+BatchNorm into one conv, in place, for inference. Returns self."""
        fuse_conv_bn(self)
        return self


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
