"""Parameter-efficient adapters for the image encoder: LoRA, AdaptFormer and Houlsby bottlenecks.

Each adapter is a small branch ``scale * up(act(down(t)))`` whose ``up`` starts at zero, so an untrained adapter
adds exact zeros and the model gives the base model's output bit for bit. The branch is a child named
``adapter`` of the module it adapts, and a forward hook adds it to that module's output:

- ``lora``: on ``attn.qkv`` and/or ``attn.proj`` (``targets``): ``Linear(x) + scale * B(A(x))``, no activation
  and no biases (``scale`` is LoRA's alpha / rank).
- ``adaptformer``: beside the block's MLP: ``mlp(x) + scale * up(relu(down(x)))`` (x is the MLP's input:
  TinyViT's Mlp normalises inside, SAM's block feeds it ``norm2(x)``).
- ``bottleneck`` (Houlsby): after the attention and after the MLP, serial with a residual:
  ``y + scale * up(gelu(down(y)))`` with y the attention's / MLP's output.

Why not ``peft``: it replaces the adapted Linear by a wrapper, so base keys gain a ``base_layer.`` segment and
the base checkpoint, the fast path and the ONNX export see other module names; it has no AdaptFormer/Houlsby
branch for our blocks; and switching adapters means merging/unloading in place. Here base parameter names and
values never change (base checkpoints, ``fast.accelerate`` and the ONNX export work as before), adapted modules
keep their classes, and removing or swapping an adapter is dropping a child module. TinyViT's fused ``qkv`` is
one Linear, so LoRA on it is one branch of output width 3·dim.

:func:`apply_adapters` freezes the base (optionally not the mask decoder) and leaves only adapters trainable.
Files: :mod:`gfm_napari.models.adapter_files`. Prefix/tail training: :func:`frozen_prefix_blocks` and
:mod:`gfm_napari.models.encoder_split`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch.nn.functional as F
from torch import Tensor, nn

from gfm_napari.models.encoder_split import attention_blocks

__all__ = [
    "AdapterBranch", "AdapterConfig", "adapter_config", "adapter_state_dict", "apply_adapters",
    "frozen_prefix_blocks", "has_adapters", "remove_adapters",
]

AdapterKind = Literal["lora", "adaptformer", "bottleneck"]
_KINDS = ("lora", "adaptformer", "bottleneck")
_LORA_TARGETS = ("qkv", "proj")
_CONFIG_ATTR = "adapter_config"  # set on the encoder by apply_adapters


@dataclass(frozen=True)
class AdapterConfig:
    """Which adapter, how big, and where.

    Args:
        kind: ``"lora"``, ``"adaptformer"`` or ``"bottleneck"``.
        rank: LoRA rank, or the bottleneck width of AdaptFormer / Houlsby.
        scale: the branch's output factor (LoRA: alpha / rank; AdaptFormer: s).
        targets: LoRA only: the attention Linears to adapt, ``"qkv"`` and/or ``"proj"``.
        last_n_blocks: adapt only the last n attention blocks (see :func:`attention_blocks`); None: all of them.
        blocks: explicit block indices instead (exclusive with ``last_n_blocks``).
        train_decoder: also train (and save) the mask decoder.
    """

    kind: AdapterKind = "lora"
    rank: int = 8
    scale: float = 1.0
    targets: tuple[str, ...] = ("qkv",)
    last_n_blocks: int | None = None
    blocks: tuple[int, ...] | None = None
    train_decoder: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"adapter kind must be one of {', '.join(_KINDS)}, got {self.kind!r}")
        if not (isinstance(self.rank, int) and self.rank >= 1):
            raise ValueError(f"rank must be a positive integer, got {self.rank!r}")
        if not math.isfinite(self.scale):
            raise ValueError(f"scale must be finite, got {self.scale!r}")
        object.__setattr__(self, "targets", tuple(self.targets))
        if self.kind == "lora" and (not self.targets or set(self.targets) - set(_LORA_TARGETS)):
            raise ValueError(f"LoRA targets must be a non-empty subset of {_LORA_TARGETS}, got {self.targets}")
        if self.blocks is not None:
            object.__setattr__(self, "blocks", tuple(sorted(set(self.blocks))))
            if not self.blocks:
                raise ValueError("blocks must name at least one block (None: all of them)")
            if self.last_n_blocks is not None:
                raise ValueError("give blocks or last_n_blocks, not both")
        if self.last_n_blocks is not None and self.last_n_blocks < 1:
            raise ValueError(f"last_n_blocks must be at least 1, got {self.last_n_blocks}")

    def block_indices(self, n_blocks: int) -> tuple[int, ...]:
        """The adapted blocks of an encoder with ``n_blocks`` attention blocks."""
        if self.blocks is not None:
            if not (0 <= self.blocks[0] and self.blocks[-1] < n_blocks):
                raise ValueError(f"blocks {self.blocks} out of range: the encoder has {n_blocks} attention blocks")
            return self.blocks
        if self.last_n_blocks is not None:
            if self.last_n_blocks > n_blocks:
                raise ValueError(f"last_n_blocks={self.last_n_blocks}: the encoder has {n_blocks} attention blocks")
            return tuple(range(n_blocks - self.last_n_blocks, n_blocks))
        return tuple(range(n_blocks))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterConfig:
        """Inverse of :meth:`to_dict`; unknown keys or bad values raise ValueError / TypeError."""
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


class AdapterBranch(nn.Module):
    """``scale * up(act(down(t)))`` with ``up`` zero-initialised: exactly 0 until trained."""

    def __init__(self, dim_in: int, dim_out: int, rank: int, scale: float, *, act: str, bias: bool,
                 reads_output: bool) -> None:
        super().__init__()
        self.down = nn.Linear(dim_in, rank, bias=bias)
        self.up = nn.Linear(rank, dim_out, bias=bias)
        self.scale = scale
        self.act = act
        self.reads_output = reads_output  # Houlsby adapts the module's output, LoRA/AdaptFormer its input
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))  # as nn.Linear (and peft's lora_A)
        if self.down.bias is not None:
            nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        if self.up.bias is not None:
            nn.init.zeros_(self.up.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.down(x)
        if self.act == "relu":
            h = F.relu(h)
        elif self.act == "gelu":
            h = F.gelu(h)
        return self.up(h) * self.scale


def _adapter_hook(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
    """Forward hook of an adapted module: its output plus its ``adapter`` branch (a plain function, so that a
    deep copy of the model keeps working hooks that use the copied branch)."""
    branch = module.adapter
    return output + branch(output if branch.reads_output else args[0])


def _attach(host: nn.Module, branch: AdapterBranch) -> AdapterBranch:
    param = next(host.parameters())
    host.adapter = branch.to(device=param.device, dtype=param.dtype)
    host.register_forward_hook(_adapter_hook)
    return host.adapter


def apply_adapters(model: nn.Module, config: AdapterConfig) -> list[AdapterBranch]:
    """Add ``config``'s adapters to a Segmenter (its image encoder) or an encoder, in place; returns them.

    Every base parameter is frozen (the mask decoder stays trainable with ``config.train_decoder``); the
    adapters are trainable. Raises ValueError if the model already has adapters or the blocks are out of range.
    """
    encoder = _encoder(model)
    if has_adapters(model):
        raise ValueError("the model already has adapters: remove_adapters first")
    blocks = attention_blocks(encoder)
    chosen = [blocks[i] for i in config.block_indices(len(blocks))]
    model.requires_grad_(False)
    added = []
    for block in chosen:
        if config.kind == "lora":
            for name in config.targets:
                linear = getattr(block.attn, name)
                added.append(_attach(linear, AdapterBranch(
                    linear.in_features, linear.out_features, config.rank, config.scale,
                    act="none", bias=False, reads_output=False)))
        else:
            hosts = [block.mlp] if config.kind == "adaptformer" else [block.attn, block.mlp]
            for host in hosts:
                dim = block.attn.proj.out_features  # the block's width: attention and MLP map dim -> dim
                added.append(_attach(host, AdapterBranch(
                    dim, dim, config.rank, config.scale, act="relu" if config.kind == "adaptformer" else "gelu",
                    bias=True, reads_output=config.kind == "bottleneck")))
    setattr(encoder, _CONFIG_ATTR, config)
    if config.train_decoder:
        if not hasattr(model, "mask_decoder"):
            raise ValueError("train_decoder needs a Segmenter, not a bare encoder")
        model.mask_decoder.requires_grad_(True)
    return added


def remove_adapters(model: nn.Module) -> None:
    """Drop every adapter and its hook, in place (the base parameters are untouched and stay frozen)."""
    encoder = _encoder(model)
    for module in encoder.modules():
        if isinstance(getattr(module, "adapter", None), AdapterBranch):
            del module.adapter
            for key, hook in list(module._forward_hooks.items()):
                if hook is _adapter_hook:
                    del module._forward_hooks[key]
    if hasattr(encoder, _CONFIG_ATTR):
        delattr(encoder, _CONFIG_ATTR)


def has_adapters(model: nn.Module) -> bool:
    return adapter_config(model) is not None


def adapter_config(model: nn.Module) -> AdapterConfig | None:
    """The config the model's adapters were applied with, or None."""
    return getattr(_encoder(model), _CONFIG_ATTR, None)


def adapter_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Only the adapter tensors (and the mask decoder's with ``train_decoder``), keys relative to ``model``."""
    config = adapter_config(model)
    if config is None:
        return {}
    decoder = config.train_decoder and hasattr(model, "mask_decoder")
    return {
        k: v for k, v in model.state_dict().items()
        if ".adapter." in k or (decoder and k.startswith("mask_decoder."))
    }


def frozen_prefix_blocks(model: nn.Module) -> int:
    """How many leading attention blocks hold no adapter: :func:`~.encoder_split.forward_prefix` up to there
    is a fixed function of the image (cacheable), only the tail needs gradients."""
    for i, block in enumerate(attention_blocks(_encoder(model))):
        if any(isinstance(m, AdapterBranch) for m in block.modules()):
            return i
    return len(attention_blocks(_encoder(model)))


def _encoder(model: nn.Module) -> nn.Module:
    return getattr(model, "image_encoder", model)
