"""``gfm-napari segment``: a mask from a box and/or clicks on one plane (or carried through a volume); a large
GeoTIFF segmented by windows and tiles; ``--start-mask``: one object of a label map corrected with clicks."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GfmError, PromptError
from . import models, progress
from .arguments import (
    add_bands_option,
    add_plane_options,
    add_source_options,
    band_descriptions,
    band_selection,
    box,
    point,
)
from .outputs import check_output, report_empty
from .parser import quiet_option
from .prompts import clicks, fit_box
from .reading import read


def add_parser(commands: argparse._SubParsersAction) -> None:
    segment = commands.add_parser("segment", parents=[quiet_option()],
                                  help="segment an image from a box and/or clicks; write a mask file")
    segment.add_argument("image", type=Path, help="NIfTI, DICOM file/folder, GeoTIFF, PNG/JPEG")
    segment.add_argument("--box", type=box, help="X0,Y0,X1,Y1 in pixels on the slice (x = column, y = row)")
    segment.add_argument(
        "--point", type=point, action="append", default=[], metavar="X,Y[,+|-]",
        help="a click in pixels on the slice; + positive (default), - negative; repeatable",
    )
    segment.add_argument(  # 3: engine.prompts.CANDIDATES (the parser imports no engine module)
        "--candidate", type=int, choices=range(1, 4), default=1, metavar="K",
        help="a lone positive --point: which of the model's 3 masks for it, ranked by predicted IoU "
        "(1 = the best, the default; 2 or 3 when that is only a part of the object, or too much)",
    )
    add_source_options(segment)
    add_plane_options(segment)
    segment.add_argument("--propagate", action="store_true", help="carry the mask through the volume (3D)")
    add_bands_option(segment)
    segment.add_argument(
        "--tile", type=int, metavar="PIXELS",
        help="segment a GeoTIFF by windows and tiles of this many pixels (default: only rasters over "
        "8192x8192 pixels, with 256 px tiles): the scene is never read whole",
    )
    segment.add_argument("--name", help="the object's name in a .geojson / .gpkg / DICOM-SEG (default 'object 1') "
                         "or a .seg.nrrd (default 'Segment_1')")
    segment.add_argument(
        "--start-mask", type=Path, metavar="LABELS",
        help="proofread: a label map on the image's grid (NIfTI, label GeoTIFF, DICOM-SEG, .geojson/.gpkg, ...); "
        "--object's mask on the slice is the start, --point clicks correct it, -o gets the whole map with only that "
        "object changed there",
    )
    segment.add_argument("--object", type=int, metavar="ID", help="with --start-mask: the object to correct")
    segment.add_argument("--resample-labels", action="store_true",
                         help="with --start-mask: resample a label map that is not on the image's grid (nearest "
                         "neighbour through both geometries) instead of refusing it")
    models.add_model_options(segment)
    segment.add_argument(
        "-o", "--output", type=Path, required=True,
        help="mask file: .nii.gz, .tif, .png; polygons .geojson (WGS84) / .gpkg (scene CRS); DICOM-SEG .dcm",
    )
    segment.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..engine.prompts import Prompts
    from ..engine.segment_file import check_contrast, segment_job
    from ..images import Plane, write_mask
    from ..images._writing import MASK_SUFFIXES
    from ..images.io import check_mask_output
    from ..jobs import run as run_job

    if args.start_mask is not None or args.object is not None or args.resample_labels:
        if args.candidate != 1:
            raise PromptError("--candidate chooses among a new object's masks for a lone click, not a correction")
        return correct(args)
    if not args.point and args.box is None:
        raise PromptError("give a --box or at least one --point")
    points, labels = clicks(args)
    Prompts(points, labels, args.box, args.candidate - 1).require_object()
    check_output(args.output, "-o", "a mask", suffixes=MASK_SUFFIXES,
                 inputs=[("the image", args.image), *models.model_inputs(args)])
    names = {1: args.name} if args.name else None
    if is_large_raster(args):
        return segment_tiled(args, points, labels, names)
    image = read(args)
    check_mask_output(args.output, image)
    axis, index = Plane.of(image, args.axis, args.index).key
    plane_shape = image.plane_shape(axis)
    prompts = Prompts(points, labels, fit_box(args.box, plane_shape), args.candidate - 1)
    prompts.check(plane_shape)
    check_contrast(image, axis, index)
    bands = band_selection(args, band_descriptions(image))
    model = models.load(args)
    with progress.bar(args, "segment") as bar:
        mask = run_job(segment_job(
            image, model, points=prompts.points, labels=prompts.labels, box=prompts.box, axis=axis, index=index,
            propagate_3d=args.propagate, window=args.window, bands=bands, candidate=prompts.candidate,
        ), bar)
    path = write_mask(args.output, mask.astype(np.uint8), image, names)
    report_empty(mask)
    print(f"wrote {path} ({int(mask.sum())} {'pixels' if mask.ndim == 2 else 'voxels'} in the mask"
          f"{_mask_choice(prompts)})")
    return 0


def correct(args: argparse.Namespace) -> int:
    """``segment --start-mask LABELS --object ID --point ...``: one object of an existing label map corrected with
    clicks on one slice; every other label is written back unchanged."""
    import numpy as np

    from ..engine.proofread import object_mask
    from ..engine.prompts import Prompts
    from ..engine.segment_file import correct_object_job
    from ..images import Plane, write_mask
    from ..images._writing import MASK_SUFFIXES
    from ..images.io import check_mask_output
    from ..images.label_maps import OffGridError, read_labels
    from ..jobs import run as run_job

    if args.start_mask is None or args.object is None:
        raise GfmError("--start-mask and --object go together: the label map and the id of the object to correct")
    if args.box is not None or args.propagate or args.tile is not None:
        raise GfmError("--box, --propagate and --tile do not apply with --start-mask: the object's own mask and box "
                       "are the start, and it is corrected on one slice")
    if not args.point:
        raise PromptError("give at least one --point to correct the object with")
    check_output(args.output, "-o", "the corrected label map", suffixes=MASK_SUFFIXES,
                 inputs=[("the image", args.image), ("--start-mask", args.start_mask), *models.model_inputs(args)])
    image = read(args)
    check_mask_output(args.output, image)
    try:
        labels = read_labels(args.start_mask, image, resample=args.resample_labels)
    except GfmError as error:
        hint = "; --resample-labels resamples it" if isinstance(error, OffGridError) else ""
        raise type(error)(f"--start-mask {args.start_mask.name}: {error}{hint}") from None
    axis, index = Plane.of(image, args.axis, args.index).key
    before = int(object_mask(labels, axis, index, args.object).sum())
    points, signs = clicks(args)
    Prompts(points, signs).check(image.plane_shape(axis))
    bands = band_selection(args, band_descriptions(image))
    model = models.load(args)
    with progress.bar(args, "correct") as bar:
        corrected = run_job(correct_object_job(
            image, model, labels, args.object, points=points, point_labels=signs, axis=axis, index=index,
            window=args.window, bands=bands,
        ), bar)
    path = write_mask(args.output, corrected, image)
    after = int(((corrected if axis is None else np.take(corrected, index, axis)) == args.object).sum())
    where = "" if axis is None else f" on slice {index}"
    unit = "pixels" if axis is None else "voxels"
    print(f"wrote {path} (object {args.object}: {before} -> {after} {unit}{where}; other labels unchanged)")
    return 0


def is_large_raster(args: argparse.Namespace) -> bool:
    """Segment by windows and tiles: --tile, or a georeferenced raster over LARGE_RASTER_PIXELS. A TIFF without a
    CRS (a plain image) is read whole, like a PNG."""
    from ..images.windowed import RasterFile, large_raster

    if args.tile is None:
        return large_raster(args.image) is not None
    if args.image.suffix.lower() not in (".tif", ".tiff"):
        raise PromptError("--tile applies to GeoTIFF rasters only")
    try:
        RasterFile.open(args.image)
    except GfmError as error:
        raise GfmError(f"--tile: {error}") from None
    return True


def segment_tiled(args: argparse.Namespace, points, labels, names) -> int:
    """A GeoTIFF read by windows: only the tiles the prompt falls in are read and encoded."""
    import numpy as np

    from ..engine.predictor import Predictor
    from ..engine.prompts import Prompts
    from ..engine.segment_file import no_contrast
    from ..engine.tiles import TILE, TiledSegmenter
    from ..images.intensity import fit_band_stretch
    from ..images.vector import VECTOR_SUFFIXES, write_polygons
    from ..images.windowed import RasterFile, write_window_mask

    if args.propagate or args.axis is not None or args.index is not None:
        raise PromptError("a raster has no slices: drop --axis/--slice/--propagate")
    if args.volume is not None or args.series_uid is not None:
        raise GfmError("--volume and --series-uid do not apply to a GeoTIFF")
    check_output(args.output, "-o", "a mask of a large raster", suffixes=(".tif", ".tiff", *VECTOR_SUFFIXES))
    raster = RasterFile.open(args.image)
    prompts = Prompts(points, labels, fit_box(args.box, raster.shape), args.candidate - 1)
    prompts.check(raster.shape)
    overview = raster.overview()
    problem = no_contrast(overview, raster.geometry.nodata)
    if problem is not None:
        raise GfmError(f"the raster has {problem}: nothing to segment")
    normalization = fit_band_stretch(
        overview, raster.band_descriptions if raster.n_bands > 1 else (None,),
        nodata=raster.geometry.nodata, bands=band_selection(args, raster.band_descriptions),
    )
    segmenter = TiledSegmenter(Predictor(models.load(args)), raster, normalization, tile=args.tile or TILE)
    window, mask = segmenter.segment(prompts)
    if args.output.suffix.lower() in VECTOR_SUFFIXES:
        path = write_polygons(args.output, mask.astype(np.uint8), raster.window_geometry(window), names)
    else:
        path = write_window_mask(args.output, raster, window, mask)
    report_empty(mask)
    print(f"wrote {path} ({int(mask.sum())} pixels in the mask, from {len(segmenter.windows_for(prompts))} "
          f"window(s) of the {raster.shape[0]}x{raster.shape[1]} scene{_mask_choice(prompts)})")
    return 0


def _mask_choice(prompts) -> str:
    """For a lone click, which of the model's masks was written, and how to get the others."""
    from ..engine.prompts import CANDIDATES

    if not prompts.is_lone_click:
        return ""
    return f"; mask {prompts.candidate + 1} of {CANDIDATES} for a lone click: --candidate K"
