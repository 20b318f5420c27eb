"""Modules run outside PyTorch from files exported from them: where those files are cached, and when they are stale.

The ONNX export of the encoder (:mod:`.onnx_encoder`) and the 8-bit OpenVINO models of the encoder and the mask
decoder (:mod:`.openvino_encoder`, :mod:`.openvino_decoder`) live in ``<user cache>/gfm-napari/onnx/``
(``$GFM_NAPARI_CACHE_DIR/onnx`` when set), each named by what its weights are.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

from torch import nn


def cache_dir() -> Path:
    root = os.environ.get("GFM_NAPARI_CACHE_DIR")
    if root:
        return Path(root)
    import platformdirs

    return Path(platformdirs.user_cache_dir("gfm-napari"))


def export_path(name: str) -> Path:
    """Where the export (or 8-bit model) called ``name`` is cached; ``+`` in model ids becomes ``_``."""
    return cache_dir() / "onnx" / name.replace("+", "_")


class ExportedModule:
    """A module run outside PyTorch from a file exported from ``module``, valid while its parameters are: once
    they change in place (training, an adapter loaded in place), :meth:`is_current` turns false and PyTorch runs
    the module again."""

    def __init__(self, module: nn.Module, path: Path) -> None:
        self.path = path
        self._module = module
        self._versions = _versions(module)

    def is_current(self) -> bool:
        """False once the PyTorch module's parameters changed after export (then PyTorch must run it)."""
        return _versions(self._module) == self._versions

    def __deepcopy__(self, memo: dict) -> ExportedModule:
        """A copy for a deep-copied segmenter: the same (read-only) runtime, watching the copied module."""
        clone = copy.copy(self)
        clone._module = copy.deepcopy(self._module, memo)
        clone._versions = _versions(clone._module)
        return clone


def _versions(module: nn.Module) -> tuple[int, ...]:
    return tuple(p._version for p in module.parameters())
