"""The models a user can choose between (the dock's Model list): typed entries in the order they were offered.

An entry is a registry model, a SAM checkpoint file the user loaded, or a file that extends a base model (an
adapter or a pretrained encoder, :mod:`gfm_napari.models.extensions`). The catalog only says what is offered and
how it is called; loading an entry, and keeping what was loaded, is its user's business.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..models import get_spec
from ..models.extensions import Extension

EntryKind = Literal["model", "checkpoint", "adapter", "encoder"]
EXTENSION_KINDS = ("adapter", "encoder")  # the extensions a catalog offers (an overlay is not chosen by itself)


@dataclass(frozen=True)
class Entry:
    """One model on offer.

    ``name`` is the registry name of the model, or of the model the file was made from; ``path`` the checkpoint
    or extension file (None for a registry model's own weights); ``base_model_id`` the ``model_id`` an
    extension goes onto; ``adapter_kind`` an adapter's kind (``"lora"`` ...).
    """

    kind: EntryKind
    name: str
    path: Path | None = None
    base_model_id: str | None = None
    adapter_kind: str = ""

    @classmethod
    def model(cls, name: str) -> Entry:
        return cls("model", name)

    @classmethod
    def checkpoint(cls, name: str, path: Path) -> Entry:
        """Model ``name`` (one that needs a checkpoint, e.g. ``sam_vit_b``) with the weights at ``path``."""
        return cls("checkpoint", name, Path(path))

    @classmethod
    def extension(cls, extension: Extension) -> Entry:
        if extension.kind not in EXTENSION_KINDS:
            raise ValueError(f"a {extension.kind} is not offered by itself")
        return cls(extension.kind, extension.base_model, extension.path, extension.base_model_id,
                   extension.adapter_kind)

    @property
    def extends(self) -> bool:
        """True for a file that goes onto a base model (adapter, encoder)."""
        return self.kind in EXTENSION_KINDS

    @property
    def title(self) -> str:
        """The name the Model list shows, e.g. ``LiteMedSAM + lora adapter (run-1)``."""
        base = get_spec(self.name).title
        if self.kind == "adapter":
            return f"{base} + {self.adapter_kind} adapter ({self.path.parent.name})"
        if self.kind == "encoder":
            return f"{base} + pretrained encoder ({self.path.parent.name})"
        if self.kind == "checkpoint":
            return f"{base} ({self.path.name})"
        return base


class Catalog:
    """Entries in the order they were first offered; offering one again changes nothing."""

    def __init__(self) -> None:
        self._entries: dict[Entry, None] = {}

    def offer(self, entry: Entry) -> Entry:
        self._entries.setdefault(entry, None)
        return entry

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)
