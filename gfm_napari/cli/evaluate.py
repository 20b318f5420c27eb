"""``gfm-napari evaluate``: Dice of box / click prompts against a label file; interactive clicks (NoC, mIoU@k), the
automatic pass (object recall / precision) or propagation through a volume."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GfmError
from . import auto, models, progress
from .arguments import add_bands_option, band_descriptions, band_selection, ints, slice_range
from .outputs import check_output, emit
from .parser import quiet_option
from .reading import read_image


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("evaluate", parents=[quiet_option()],
                                   help="Dice of box / click prompts against a label file")
    evaluate.add_argument("--image", type=Path, required=True)
    evaluate.add_argument("--label", type=Path, required=True, help="label map on the same physical grid")
    evaluate.add_argument("--labels", type=ints, help="label ids to evaluate (default: all present)")
    evaluate.add_argument("--prompt", choices=["box", "click", "click+box", "click-choice"], action="append",
                          help="prompt kinds (repeatable; default: box, click, click+box); click-choice: a lone click "
                          "scored by the best of the model's 3 masks for it (what Next mask / segment --candidate "
                          "reach)")
    evaluate.add_argument("--axis", type=int, help="slice axis of a volume (default: the axial one)")
    evaluate.add_argument("--max-slices", type=int, default=8, help="slices per structure, spread evenly")
    evaluate.add_argument("--min-pixels", type=int, default=50, help="ignore smaller cross-sections")
    evaluate.add_argument("--clicks", type=int, metavar="N",
                          help="interactive: simulated user clicks (RITM rule) up to N prompts; NoC, mIoU@k")
    evaluate.add_argument("--start", choices=["click", "box"],
                          help="with --clicks: the first prompt (a box counts as prompt 1; default click); "
                          "with --propagate: the prompt on the start slice (default box)")
    evaluate.add_argument("--no-feed-logits", action="store_true",
                          help="with --clicks: do not feed the previous logits back as mask input")
    evaluate.add_argument("--next-mask", action="store_true",
                          help="with --clicks: after the first click the user presses Next mask until the best of "
                          "its 3 masks shows (0-2 presses, each counted as a prompt), then corrects that one")
    evaluate.add_argument("--first-click", choices=["center", "random"], default="center",
                          help="the first click (--clicks, and --prompt click / click+box / click-choice): the "
                          "object's most interior pixel (center, default) or a pixel drawn uniformly from its inner "
                          "half (random: depth at "
                          "least half the maximum; seeded per object by --seed)")
    evaluate.add_argument("--seed", type=int, default=0, help="with --first-click random: the seed (default 0)")
    evaluate.add_argument("--auto", action="store_true",
                          help="the automatic pass: object recall / precision at IoU >= 0.5 per plane (see 'auto')")
    evaluate.add_argument("--peer", action="store_true",
                          help="with --auto: also segment-anything's SamAutomaticMaskGenerator on the same weights")
    auto.add_settings_options(evaluate)
    evaluate.add_argument("--propagate", action="store_true",
                          help="3D: prompt each structure (--start) on its largest slice, propagate, Dice per volume")
    evaluate.add_argument("--instances", action="store_true",
                          help="each connected label id is one object on a 2D image (e.g. buildings)")
    add_bands_option(evaluate)
    models.add_model_options(evaluate)
    evaluate.add_argument("--adapter", type=Path,
                          help="an encoder adapter (train-adapter --preset adapter --export NAME: NAME.safetensors "
                          "with its NAME.json), or prompt-path weights (--preset clicks --export)")
    evaluate.add_argument("--slices", type=slice_range,
                          help="A:B: evaluate only slices A..B-1 of a volume (e.g. those an adapter never saw)")
    evaluate.add_argument("-o", "--output", type=Path,
                          help="also write the JSON report here (with --clicks, the IoU-vs-clicks plot beside it)")
    evaluate.add_argument("--plot", type=Path, help="with --clicks: the IoU-vs-clicks PNG (default: beside -o)")
    evaluate.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluation.prompted import Selection, selected_labels
    from ..jobs import run as run_job

    chosen = [name for name, on in (("--clicks", args.clicks), ("--propagate", args.propagate), ("--auto", args.auto))
              if on]
    if len(chosen) > 1:
        raise GfmError(f"choose one of {', '.join(chosen)}, not several")
    if args.peer and not args.auto:
        raise GfmError("--peer goes with --auto")
    if args.next_mask and (not args.clicks or args.start == "box"):
        raise GfmError("--next-mask goes with --clicks and a first click (not --start box)")
    inputs = [("--image", args.image), ("--label", args.label), ("--adapter", args.adapter), *models.model_inputs(args)]
    check_output(args.output, "-o", "the JSON report", suffixes=(".json",), inputs=inputs)
    plot = None
    if args.clicks:
        plot = args.plot or (args.output.with_suffix(".png") if args.output is not None else None)
        check_output(plot, "--plot" if args.plot else "the plot beside -o", "the IoU-vs-clicks plot",
                     suffixes=(".png",), inputs=[*inputs, ("-o", args.output)])
    image, labels = read_image(args.image), read_image(args.label)
    if args.propagate and image.spatial_ndim != 3:
        raise GfmError("--propagate needs a volume (3D image)")
    bands = band_selection(args, band_descriptions(image))
    selection = Selection(args.labels, args.axis, args.max_slices, args.min_pixels, args.instances, args.window, bands,
                          args.slices)
    selected_labels(image, labels, selection)  # nothing to evaluate: an error before the model loads
    model = models.load(args)
    with progress.bar(args, "evaluate") as bar:
        if args.clicks:
            from ..evaluation.interactive import evaluate_clicks_job

            report = run_job(evaluate_clicks_job(image, labels, model, selection, start=args.start or "click",
                                                 max_clicks=args.clicks, feed_logits=not args.no_feed_logits,
                                                 first_click=args.first_click, seed=args.seed,
                                                 next_mask=args.next_mask), bar)
        elif args.auto:
            from ..evaluation.automatic import evaluate_auto_job

            report = run_job(evaluate_auto_job(image, labels, model, selection, settings=auto.settings(args),
                                               peer=args.peer), bar)
        elif args.propagate:
            from ..evaluation.volumetric import evaluate_propagation_job

            report = run_job(evaluate_propagation_job(image, labels, model, selection, start=args.start or "box"),
                             bar)
        else:
            from ..evaluation.prompted import evaluate_prompts_job

            report = run_job(evaluate_prompts_job(image, labels, model, selection,
                                                  prompt_kinds=args.prompt or ["box", "click", "click+box"],
                                                  first_click=args.first_click, seed=args.seed), bar)
    if plot is not None:
        from ..evaluation.plot import plot_iou_curves

        report["plot"] = str(plot_iou_curves(report, plot))
    return emit(report, args.output)
