"""Embedding cache: a bounded in-memory LRU (by megabytes) over an optional on-disk zarr store.

A key names everything an embedding depends on: the plane's content digest, its axis and index, the model
(id includes the weight hash) and the intensity normalisation — so changing window/level, model or
checkpoint can never return a stale embedding.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class CacheKey:
    data_digest: str
    axis: int | None
    index: int | None
    model_id: str
    normalization: str

    @property
    def hexdigest(self) -> str:
        """A stable file-name-safe name for this key."""
        text = f"{self.data_digest}|{self.axis}|{self.index}|{self.model_id}|{self.normalization}"
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def digest_plane(plane: np.ndarray) -> str:
    """Content digest of a plane's raw values, shape and dtype."""
    plane = np.ascontiguousarray(plane)
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(f"{plane.shape}{plane.dtype.str}".encode())
    hasher.update(memoryview(plane).cast("B"))
    return hasher.hexdigest()


class EmbeddingCache:
    """LRU of embedding tensors bounded by ``max_mb``; misses fall back to a zarr store when ``store`` is set."""

    def __init__(self, max_mb: float = 1024.0, store: str | Path | None = None) -> None:
        self.max_bytes = int(max_mb * 2**20)
        self.store = Path(store) if store is not None else None
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: CacheKey) -> bool:
        if key.hexdigest in self._entries:
            return True
        path = self._disk_path(key)
        return path is not None and path.exists()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: CacheKey) -> torch.Tensor | None:
        name = key.hexdigest
        tensor = self._entries.get(name)
        if tensor is not None:
            self._entries.move_to_end(name)
            self.hits += 1
            return tensor
        tensor = self._read_disk(key)
        if tensor is None:
            self.misses += 1
            return None
        self.hits += 1
        self._remember(name, tensor)
        return tensor

    def put(self, key: CacheKey, tensor: torch.Tensor) -> None:
        tensor = tensor.detach()
        self._remember(key.hexdigest, tensor)
        self._write_disk(key, tensor)

    def clear(self) -> None:
        """Forget the in-memory entries (the disk store is kept)."""
        self._entries.clear()
        self._bytes = 0

    def _remember(self, name: str, tensor: torch.Tensor) -> None:
        if name in self._entries:
            self._bytes -= _nbytes(self._entries.pop(name))
        size = _nbytes(tensor)
        if size > self.max_bytes:
            return
        while self._bytes + size > self.max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= _nbytes(evicted)
        self._entries[name] = tensor
        self._bytes += size

    def _disk_path(self, key: CacheKey) -> Path | None:
        return None if self.store is None else self.store / f"{key.hexdigest}.zarr"

    def _read_disk(self, key: CacheKey) -> torch.Tensor | None:
        path = self._disk_path(key)
        if path is None or not path.exists():
            return None
        import zarr

        try:
            array = zarr.open_array(str(path), mode="r")[...]
        except Exception:  # a half-written or foreign entry is a miss, not a crash
            return None
        return torch.from_numpy(np.asarray(array))

    def _write_disk(self, key: CacheKey, tensor: torch.Tensor) -> None:
        path = self._disk_path(key)
        if path is None or path.exists():
            return
        import shutil
        import tempfile

        import zarr

        self.store.mkdir(parents=True, exist_ok=True)
        data = tensor.cpu().numpy()
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.store))
        try:
            zarr.save_array(str(staging / "a.zarr"), data)
            (staging / "a.zarr").replace(path)  # atomic: readers see a whole entry or none
        except OSError:
            pass  # another writer won the race; the entry is identical
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.element_size() * tensor.nelement()
