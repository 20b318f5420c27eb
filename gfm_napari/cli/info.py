"""``gfm-napari info``: an image's shape, axis order, spacing, affine, CRS and the bands the model would see."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .arguments import add_bands_option, add_source_options, band_selection
from .parser import quiet_option
from .reading import read


def add_parser(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser("info", parents=[quiet_option()],
                               help="print an image's shape, axis order, spacing, affine, CRS")
    info.add_argument("image", type=Path)
    add_source_options(info)
    add_bands_option(info)
    info.add_argument("--json", action="store_true", help="one JSON object instead of text")
    info.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    from ..images.bands import default_bands

    image = read(args)
    summary = image.to_dict()
    descriptions = image.metadata.band_descriptions
    chosen = band_selection(args, descriptions) or default_bands(descriptions)
    summary["model_bands"] = None if chosen is None else chosen.describe()
    if args.json:
        print(json.dumps(summary))
        return 0
    flat = {**{k: v for k, v in summary.items() if k not in ("geometry", "metadata")}, **summary["geometry"]}
    for key, value in flat.items():
        if key == "affine" and value is not None:
            value = "\n" + "\n".join(" " * 16 + "  ".join(f"{x:10.4f}" for x in row) for row in value)
        print(f"{key:>14}: {value}")
    for warning in summary["metadata"]["warnings"]:
        print(f"{'warning':>14}: {warning}")
    return 0
