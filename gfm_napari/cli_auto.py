"""``gfm-napari auto``: the automatic first pass on a file (``evaluate --auto`` measures it). The parser and the
command live here; the shared command-line helpers (reading, model options, outputs, progress) are :mod:`.cli`'s."""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import PromptError


def add_parser(commands, quiet: argparse.ArgumentParser) -> None:
    from . import cli

    auto = commands.add_parser(
        "auto", parents=[quiet],
        help="segment everything on a plane (or a region): one label per object found; write a label map",
    )
    auto.add_argument("image", type=Path, help="NIfTI, DICOM file/folder, GeoTIFF, PNG/JPEG")
    cli._source_options(auto)
    auto.add_argument("--axis", type=int, help="slice axis of a volume (default: the axial one)")
    auto.add_argument("--slice", type=int, dest="index", help="slice index (default: the middle one)")
    auto.add_argument("--region", type=cli._box, metavar="X0,Y0,X1,Y1",
                      help="only this rectangle of the plane, in pixels (x = column, y = row; default: all of it)")
    auto.add_argument("--propagate", action="store_true", help="carry each object found through the volume (3D)")
    settings_options(auto)
    cli._bands_option(auto)
    cli._model_options(auto)
    auto.add_argument(
        "-o", "--output", type=Path, required=True,
        help="label map: .nii.gz, .seg.nrrd, .tif, .png; polygons .geojson / .gpkg (label, area_m2, score); "
        "DICOM-SEG .dcm",
    )
    auto.set_defaults(command=run)


def settings_options(parser: argparse.ArgumentParser) -> None:
    """The automatic pass's settings (shared by ``auto`` and ``evaluate --auto``)."""
    from .engine.auto_window import AutoSettings

    defaults = AutoSettings()
    group = parser.add_argument_group("automatic pass")
    group.add_argument("--points-per-side", type=int, default=defaults.points_per_side,
                       help=f"clicks per side of each window's grid (default {defaults.points_per_side})")
    group.add_argument("--min-area", type=int, default=defaults.min_area, metavar="PX",
                       help=f"drop objects smaller than this many pixels (default {defaults.min_area})")
    group.add_argument("--min-score", type=float, default=defaults.min_predicted_iou,
                       help=f"drop masks with a lower predicted IoU (default {defaults.min_predicted_iou})")
    group.add_argument("--min-stability", type=float, default=defaults.min_stability,
                       help=f"drop masks that change more with the threshold (default {defaults.min_stability})")


def settings(args: argparse.Namespace):
    from .engine.auto_window import AutoSettings

    try:
        return AutoSettings(points_per_side=args.points_per_side, min_area=args.min_area,
                            min_predicted_iou=args.min_score, min_stability=args.min_stability)
    except ValueError as error:
        raise PromptError(str(error)) from None


def region(box, plane_shape: tuple[int, int]):
    """``--region`` as a window of the plane (clipped to it, a warning says so), or None."""
    from . import cli
    from .engine.prompts import Prompts
    from .engine.tiles import prompt_extent

    box = cli._fit_box(box, plane_shape)
    return None if box is None else prompt_extent(Prompts(box=box))


def run(args: argparse.Namespace) -> int:
    from . import cli
    from .engine.auto_file import auto_file_job
    from .images import Plane
    from .images import write_mask
    from .images._writing import MASK_SUFFIXES
    from .images.io import check_mask_output
    from .jobs import run as run_job

    automatic = settings(args)
    cli._check_output(args.output, "-o", "a label map", suffixes=MASK_SUFFIXES,
                      inputs=[("the image", args.image), *cli._model_inputs(args)])
    image = cli._read(args)
    check_mask_output(args.output, image)
    if args.propagate and image.spatial_ndim != 3:
        raise PromptError("--propagate needs a volume (3D image)")
    axis, index = Plane.of(image, args.axis, args.index).key
    window = region(args.region, image.plane_shape(axis))
    bands = cli._band_selection(args, cli._band_descriptions(image))
    model = cli._load(args)
    with cli._bar(args, "auto") as bar:
        labels, result = run_job(auto_file_job(
            image, model, axis=axis, index=index, region=window, settings=automatic, propagate_3d=args.propagate,
            window=args.window, bands=bands,
        ), bar)
    if not result.scores:
        cli._warn("no object found (try a lower --min-score or --min-stability, or more --points-per-side)")
        path = write_mask(args.output, labels, image)
    else:
        names = {i: f"object {i}" for i in result.scores}
        path = write_mask(args.output, labels, image, names, scores=result.scores)
    print(f"wrote {path} ({len(result.scores)} objects from {result.windows} window(s))")
    return 0
