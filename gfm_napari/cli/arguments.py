"""Option types (``--box``, ``--point``, ``--window``, ...) and the option groups several commands share."""

from __future__ import annotations

import argparse
import math


def numbers(text: str, count: int, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"{what} needs {count} comma-separated numbers, got {text!r}")
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{what} needs finite numbers, got {text!r}")
    return values


def box(text: str) -> tuple[float, float, float, float]:
    return tuple(numbers(text, 4, "--box X0,Y0,X1,Y1"))  # type: ignore[return-value]


def window(text: str) -> tuple[float, float]:
    level, width = numbers(text, 2, "--window LEVEL,WIDTH")
    if width <= 0:
        raise argparse.ArgumentTypeError("--window width must be positive")
    return level, width


def point(text: str) -> tuple[float, float, int]:
    parts = text.split(",")
    sign = 1
    if len(parts) == 3 and parts[2].strip() in {"+", "-", "1", "0", "pos", "neg"}:
        sign = 0 if parts[2].strip() in {"-", "0", "neg"} else 1
        parts = parts[:2]
    x, y = numbers(",".join(parts), 2, "--point X,Y[,+|-]")
    return x, y, sign


def ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def slice_range(text: str) -> range:
    try:
        start, stop = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B (slices A to B-1), got {text!r}") from None
    if not 0 <= start < stop:
        raise argparse.ArgumentTypeError(f"expected 0 <= A < B in A:B, got {text!r}")
    return range(start, stop)


def click_mix(text: str):
    """``KEY=VALUE,...`` → a ClickMix (the clicks preset's prompt sequences); unnamed keys keep their defaults."""
    import dataclasses

    from ..training.clicks import ClickMix

    defaults = dataclasses.asdict(ClickMix())
    values: dict = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in defaults:
            raise argparse.ArgumentTypeError(f"unknown mix key {key!r}; keys: {', '.join(defaults)}")
        try:
            values[key] = type(defaults[key])(value)  # int for max_corrections, float for the shares
        except ValueError:
            raise argparse.ArgumentTypeError(f"{key} needs a number, got {value!r}") from None
    try:
        return ClickMix(**values)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_plane_options(parser: argparse.ArgumentParser) -> None:
    """``--axis`` and ``--slice``: the plane of a volume to work on."""
    parser.add_argument("--axis", type=int, help="slice axis of a volume (default: the axial one)")
    parser.add_argument("--slice", type=int, dest="index", help="slice index (default: the middle one)")


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """``--series-uid`` and ``--volume``: which part of a DICOM folder or a 4D NIfTI to read."""
    parser.add_argument("--series-uid", help="DICOM: the SeriesInstanceUID to read when a folder holds several series "
                        "('' for files without one)")
    parser.add_argument("--volume", type=int, metavar="N",
                        help="4D NIfTI: the volume to read, 0-based (a 4D file has no default)")


def add_bands_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bands", metavar="B,B,B|PRESET",
        help="rasters with more than 3 bands: the 3 bands fed to the model, 1-based like GDAL (e.g. 4,3,2), or "
        "true-colour / false-colour (NIR, red, green; found by the band descriptions); default true colour",
    )


def band_selection(args: argparse.Namespace, descriptions):
    """``--bands`` as a band selection for an image with these band ``descriptions`` (None without --bands)."""
    from ..images.bands import parse_bands

    return None if args.bands is None else parse_bands(args.bands, descriptions)


def band_descriptions(image) -> tuple[str | None, ...]:
    """One entry per band of ``image`` (None where the file names none)."""
    return image.metadata.band_descriptions or (None,) * image.n_channels
