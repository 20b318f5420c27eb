"""The embedding cache is bounded, persistent on disk, and keyed by everything an embedding depends on."""

import dataclasses

import torch

from gfm_napari.engine.cache import CacheKey, EmbeddingCache, digest_plane

KEY = CacheKey("digest", 2, 15, "litemedsam-abc", "ct_window(40,400)")


def _mb_tensor(value: float) -> torch.Tensor:
    return torch.full((2**18,), float(value), dtype=torch.float32)  # 1 MiB


def test_memory_lru_evicts_the_least_recently_used_entry_beyond_its_budget():
    cache = EmbeddingCache(max_mb=2.5)
    keys = [dataclasses.replace(KEY, index=i) for i in range(3)]
    cache.put(keys[0], _mb_tensor(0))
    cache.put(keys[1], _mb_tensor(1))
    assert cache.get(keys[0]) is not None  # 0 is now the most recent
    cache.put(keys[2], _mb_tensor(2))
    assert keys[1] not in cache and keys[0] in cache and keys[2] in cache
    assert cache.nbytes <= 2.5 * 2**20


def test_disk_store_returns_the_identical_tensor_to_a_new_cache(tmp_path):
    tensor = torch.randn(1, 256, 64, 64)
    EmbeddingCache(store=tmp_path).put(KEY, tensor)
    reloaded = EmbeddingCache(store=tmp_path).get(KEY)
    assert torch.equal(reloaded, tensor)


def test_keys_differ_by_window_model_axis_and_content():
    names = {
        KEY.hexdigest,
        dataclasses.replace(KEY, normalization="ct_window(50,350)").hexdigest,
        dataclasses.replace(KEY, model_id="sam_vit_b-123").hexdigest,
        dataclasses.replace(KEY, axis=0).hexdigest,
        dataclasses.replace(KEY, data_digest="other").hexdigest,
    }
    assert len(names) == 5


def test_plane_digest_depends_on_values_shape_and_dtype():
    import numpy as np

    plane = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert digest_plane(plane) == digest_plane(plane.copy())
    assert digest_plane(plane) != digest_plane(plane.reshape(4, 3))
    assert digest_plane(plane) != digest_plane(plane.astype(np.int32))
    changed = plane.copy()
    changed[0, 0] = 99
    assert digest_plane(plane) != digest_plane(changed)
