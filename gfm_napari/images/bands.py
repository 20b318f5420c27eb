"""Which three bands of a multi-band raster feed the model (Sentinel-2, Landsat, RGB + NIR, ...).

A :class:`BandSelection` is a frozen value: 0-based band indices in (red, green, blue) display order plus the name
of the preset that gave them. It travels inside :class:`~gfm_napari.images.intensity.Normalization` (so the
embedding cache key changes when the bands change) and is written 1-based, as GDAL does: ``4,3,2``.

Presets resolve band *roles* from the file's band descriptions (the words ``red``, ``green``, ``blue``, ``nir`` /
``near infrared`` are matched case-insensitively):

- ``true-colour``: red, green, blue;
- ``false-colour``: NIR, red, green (vegetation shows red);
- ``custom``: the indices the user gives (``--bands 5,4,3``).

Sentinel-2 rasters whose bands carry ESA's names instead (``B1`` … ``B12`` / ``B01`` …, with ``B8A``, as
Sen1Floods11's chips do) are recognised by the ``B8A`` band: blue = B2, green = B3, red = B4, NIR = B8. Without
``B8A`` such names are not read as roles, since Landsat uses the same names for other bands (Landsat 8's B5 is NIR).

A raster whose descriptions do not name the bands cannot use a preset by role: 3-band rasters are taken as
R, G, B in file order; otherwise :class:`~gfm_napari.errors.PromptError` asks for explicit ``--bands``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gfm_napari.errors import PromptError

PRESETS = ("true-colour", "false-colour")
"""Named presets (``custom`` is any explicit list of bands)."""
_PRESET_ROLES = {"true-colour": ("red", "green", "blue"), "false-colour": ("nir", "red", "green")}
_SENTINEL2_BANDS = {"nir": "8", "red": "4", "green": "3", "blue": "2"}  # ESA's band numbers
_ROLE_PATTERNS = {  # NIR first: "near infra-red" also holds the word "red"
    "nir": r"\bnir\b|near[- ]?infra[- ]?red",
    "red": r"^r$|\bred\b",
    "green": r"^g$|\bgreen\b",
    "blue": r"^b$|\bblue\b",
}


@dataclass(frozen=True)
class BandSelection:
    """Three 0-based band indices fed to the model as its (R, G, B) channels, and where they came from."""

    indices: tuple[int, int, int]
    name: str = "custom"

    def __post_init__(self) -> None:
        indices = tuple(int(i) for i in self.indices)
        if len(indices) != 3 or min(indices) < 0:
            raise PromptError(f"choose exactly 3 bands (1-based), got {_one_based(indices)}")
        object.__setattr__(self, "indices", indices)

    def describe(self) -> str:
        """``true-colour:3,2,1`` — the preset name and the 1-based bands (part of cache keys)."""
        return f"{self.name}:{_one_based(self.indices)}"

    def text(self) -> str:
        """What :func:`parse_bands` reads back: the preset name, else the 1-based bands (``4,3,2``)."""
        return self.name if self.name in PRESETS else _one_based(self.indices)

    def check(self, n_bands: int) -> None:
        """PromptError when a chosen band does not exist in an ``n_bands`` raster."""
        if max(self.indices) >= n_bands:
            raise PromptError(f"bands {_one_based(self.indices)} do not exist: the raster has {n_bands} bands")


def parse_bands(text: str, descriptions: Sequence[str | None]) -> BandSelection:
    """``"4,3,2"`` (1-based, GDAL style) or a preset name (see :data:`PRESETS`) -> a checked selection."""
    text = text.strip().lower().replace("color", "colour")
    if text in PRESETS:
        return preset(text, descriptions)
    try:
        numbers = [int(v) for v in text.split(",")]
    except ValueError:
        raise PromptError(f"--bands takes 3 band numbers like 4,3,2 or one of {', '.join(PRESETS)}; got {text!r}") from None
    selection = BandSelection(tuple(n - 1 for n in numbers))  # type: ignore[arg-type]
    selection.check(len(descriptions))
    return selection


def preset(name: str, descriptions: Sequence[str | None]) -> BandSelection:
    """The bands of preset ``name`` found by the band descriptions (3-band rasters: file order R, G, B)."""
    if name not in _PRESET_ROLES:
        raise PromptError(f"unknown band preset {name!r}; use one of {', '.join(PRESETS)} or 3 band numbers")
    roles = band_roles(descriptions)
    wanted = _PRESET_ROLES[name]
    if all(role in roles for role in wanted):
        return BandSelection(tuple(roles[role] for role in wanted), name)  # type: ignore[arg-type]
    if name == "true-colour" and len(descriptions) == 3:
        return BandSelection((0, 1, 2), name)
    missing = ", ".join(role for role in wanted if role not in roles)
    raise PromptError(
        f"the {len(descriptions)}-band raster does not name its {missing} band(s) in its band descriptions; "
        f"give the bands explicitly, e.g. --bands 4,3,2 (1-based)"
    )


def default_bands(descriptions: Sequence[str | None]) -> BandSelection | None:
    """What a raster with more than 3 bands shows and segments by default: true colour when its bands are named,
    else the first three bands; None for rasters with 3 bands or fewer (they need no choice)."""
    if len(descriptions) <= 3:
        return None
    try:
        return preset("true-colour", descriptions)
    except PromptError:
        return BandSelection((0, 1, 2), "first three")


def band_roles(descriptions: Sequence[str | None]) -> dict[str, int]:
    """{"red": index, ...} for the bands whose description names a role (the first match per role), or by
    Sentinel-2's band names."""
    sentinel2 = _sentinel2_roles(descriptions)
    if sentinel2:
        return sentinel2
    roles: dict[str, int] = {}
    for index, text in enumerate(descriptions):
        if not text:
            continue
        for role, pattern in _ROLE_PATTERNS.items():
            if role not in roles and re.search(pattern, text.strip().lower()):
                roles[role] = index
                break
    return roles


def _sentinel2_roles(descriptions: Sequence[str | None]) -> dict[str, int]:
    """Roles by ESA's band names when the descriptions hold Sentinel-2's B8A band, else {}."""
    names = {}
    for index, text in enumerate(descriptions):
        match = re.fullmatch(r"b0?(\d{1,2}a?)", (text or "").strip().lower())
        if match:
            names.setdefault(match.group(1), index)
    if "8a" not in names:
        return {}
    return {role: names[band] for role, band in _SENTINEL2_BANDS.items() if band in names}


def _one_based(indices: Sequence[int]) -> str:
    return ",".join(str(i + 1) for i in indices)
