"""``gfm-napari auto``: the automatic first pass on a file (``evaluate --auto`` measures it), and the pass's settings
options both commands share."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import PromptError
from . import arguments, models, progress
from .outputs import check_output
from .parser import add_deferred, quiet_option
from .prompts import fit_box
from .reading import read


def add_parser(commands: argparse._SubParsersAction) -> None:
    auto = commands.add_parser(
        "auto", parents=[quiet_option()],
        help="segment everything on a plane (or a region): one label per object found; write a label map",
    )
    auto.add_argument("image", type=Path, help="NIfTI, DICOM file/folder, GeoTIFF, PNG/JPEG")
    arguments.add_source_options(auto)
    arguments.add_plane_options(auto)
    auto.add_argument("--region", type=arguments.box, metavar="X0,Y0,X1,Y1",
                      help="only this rectangle of the plane, in pixels (x = column, y = row; default: all of it)")
    auto.add_argument("--propagate", action="store_true", help="carry each object found through the volume (3D)")
    add_settings_options(auto)
    arguments.add_bands_option(auto)
    models.add_model_options(auto)
    auto.add_argument(
        "-o", "--output", type=Path, required=True,
        help="label map: .nii.gz, .seg.nrrd, .tif, .png; polygons .geojson / .gpkg (label, area_m2, score); "
        "DICOM-SEG .dcm",
    )
    auto.set_defaults(command=run)


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """The automatic pass's settings (shared by ``auto`` and ``evaluate --auto``); unset, AutoSettings' defaults."""
    group = parser.add_argument_group("automatic pass")
    add_deferred(group, "--points-per-side", type=int, deferred=_default_grid,
                 help="clicks per side of each window's grid (default %(deferred)s)")
    add_deferred(group, "--min-area", type=int, metavar="PX", deferred=lambda: _default("min_area"),
                 help="drop objects smaller than this many pixels (default %(deferred)s)")
    add_deferred(group, "--min-score", type=float, deferred=lambda: _default("min_predicted_iou"),
                 help="drop masks with a lower predicted IoU (default %(deferred)s)")
    add_deferred(group, "--min-stability", type=float, deferred=lambda: _default("min_stability"),
                 help="drop masks that change more with the threshold (default %(deferred)s)")


def _default_grid() -> str:
    from ..engine.auto_window import MIN_POINTS_PER_SIDE, POINT_SPACING

    return f"automatic: clicks at most {POINT_SPACING} px apart, at least {MIN_POINTS_PER_SIDE} per side"


def _default(setting: str):
    from ..engine.auto_window import AutoSettings

    return getattr(AutoSettings(), setting)


def settings(args: argparse.Namespace):
    """The options of :func:`add_settings_options` as AutoSettings; PromptError for values it refuses."""
    from ..engine.auto_window import AutoSettings

    given = {"points_per_side": args.points_per_side, "min_area": args.min_area,
             "min_predicted_iou": args.min_score, "min_stability": args.min_stability}
    try:
        return AutoSettings(**{name: value for name, value in given.items() if value is not None})
    except ValueError as error:
        raise PromptError(str(error)) from None


def region(box, plane_shape: tuple[int, int]):
    """``--region`` as a window of the plane (clipped to it, a warning says so), or None."""
    from ..engine.prompts import Prompts
    from ..engine.tiles import prompt_extent

    box = fit_box(box, plane_shape)
    return None if box is None else prompt_extent(Prompts(box=box))


def _image(args: argparse.Namespace):
    """``args.image``; a georeferenced raster over ``LARGE_RASTER_PIXELS`` is read by windows, and only a
    --region of it is segmented (as the dock asks for a box)."""
    from ..images.windowed import large_raster

    raster = large_raster(args.image)
    if raster is None:
        return read(args)
    if args.region is None:
        raise PromptError("this scene is too large to segment whole: give --region X0,Y0,X1,Y1 around the part to "
                          "segment")
    return raster.image()


def run(args: argparse.Namespace) -> int:
    from ..engine.auto_file import auto_file_job
    from ..images import Plane, write_mask
    from ..images._writing import MASK_SUFFIXES
    from ..images.io import check_mask_output
    from ..jobs import run as run_job

    automatic = settings(args)
    check_output(args.output, "-o", "a label map", suffixes=MASK_SUFFIXES,
                 inputs=[("the image", args.image), *models.model_inputs(args)])
    image = _image(args)
    check_mask_output(args.output, image)
    if args.propagate and image.spatial_ndim != 3:
        raise PromptError("--propagate needs a volume (3D image)")
    axis, index = Plane.of(image, args.axis, args.index).key
    window = region(args.region, image.plane_shape(axis))
    bands = arguments.band_selection(args, arguments.band_descriptions(image))
    model = models.load(args)
    with progress.bar(args, "auto") as bar:
        labels, result = run_job(auto_file_job(
            image, model, axis=axis, index=index, region=window, settings=automatic, propagate_3d=args.propagate,
            window=args.window, bands=bands,
        ), bar)
    if not result.scores:
        progress.warn("no object found (try a lower --min-score or --min-stability, or more --points-per-side)")
        path = write_mask(args.output, labels, image)
    else:
        names = {i: f"object {i}" for i in result.scores}
        path = write_mask(args.output, labels, image, names, scores=result.scores)
    print(f"wrote {path} ({len(result.scores)} objects from {result.windows} window(s))")
    return 0
