"""The model catalog alone: typed entries, their titles, the order they were offered in (no Qt, no files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gfm_napari.engine.catalog import Catalog, Entry
from gfm_napari.models.extensions import Extension

ADAPTER = Extension("adapter", Path("/runs/adapters/ab12-lora/adapter.safetensors"), "litemedsam-0123456789ab",
                    "litemedsam", "lora")
ENCODER = Extension("encoder", Path("/runs/pretrain/cd34/encoder.safetensors"), "litemedsam_clicks-0123456789ab",
                    "litemedsam_clicks")


def test_entries_are_titled_for_the_model_list():
    assert Entry.model("litemedsam").title == "LiteMedSAM (TinyViT, 256 px)"
    assert Entry.checkpoint("sam_vit_b", Path("/w/sam_vit_b_01ec64.pth")).title == "SAM ViT-B (sam_vit_b_01ec64.pth)"
    assert Entry.extension(ADAPTER).title == "LiteMedSAM (TinyViT, 256 px) + lora adapter (ab12-lora)"
    assert Entry.extension(ENCODER).title == "LiteMedSAM, click-trained + pretrained encoder (cd34)"


def test_an_extension_entry_keeps_what_it_goes_onto():
    entry = Entry.extension(ADAPTER)
    assert (entry.kind, entry.name, entry.path, entry.base_model_id) == (
        "adapter", "litemedsam", ADAPTER.path, "litemedsam-0123456789ab")
    assert entry.extends and not Entry.model("litemedsam").extends
    assert entry == Entry.extension(ADAPTER)  # the same file described again is the same entry


def test_an_overlay_is_not_offered_by_itself():
    overlay = Extension("overlay", Path("clicks.safetensors"), "litemedsam-0123456789ab", "litemedsam")
    with pytest.raises(ValueError, match="overlay"):
        Entry.extension(overlay)


def test_the_catalog_keeps_the_order_entries_were_first_offered_in():
    catalog = Catalog()
    first = catalog.offer(Entry.model("litemedsam_clicks"))
    catalog.offer(Entry.model("litemedsam"))
    catalog.offer(Entry.extension(ADAPTER))
    assert catalog.offer(Entry.model("litemedsam_clicks")) == first  # offered again: nothing changes
    assert list(catalog) == [first, Entry.model("litemedsam"), Entry.extension(ADAPTER)]
