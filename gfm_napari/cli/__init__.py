"""``gfm-napari`` command line: segment, auto, info, evaluate, train-adapter, pretrain, bench — and, with no
arguments, the napari app. One module per command, each with ``add_parser(commands)`` and ``run(args)``; their heavy
imports (torch, the models, the engine) wait inside ``run``.

User errors (:class:`~gfm_napari.errors.GfmError`, and bad arguments) print one line ``error: ...`` and exit with
code 2; warnings print one line ``warning: ...`` on stderr. Outputs are checked before any work (folder, suffix,
not an input file). Long work shows a progress bar on stderr when it is a terminal (``-q`` turns it off).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import GfmError
from . import auto, bench, evaluate, info, pretrain, segment, train_adapter
from .parser import EXIT_USER_ERROR, Parser, joined_negative_values
from .progress import ProgressBar, warnings_as_lines

COMMANDS = (segment, auto, info, evaluate, train_adapter, pretrain, bench)  # in the order --help lists them


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        from ..ui.app import launch

        return launch()
    args = build_parser().parse_args(joined_negative_values(argv))
    args.argv = argv
    with warnings_as_lines():
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


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the global options, then each command's parser."""
    parser = Parser(
        prog="gfm-napari",
        description="Interactive SAM-family segmentation of medical and satellite images. "
        "Run without arguments to open napari with the sample abdominal CT and the Segment dock.",
    )
    parser.add_argument("--version", action="version", version=f"gfm-napari {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar and no step lines (results, warnings and errors still print)")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser
