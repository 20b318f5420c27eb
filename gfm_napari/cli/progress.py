"""What long work shows on the terminal: a progress bar on stderr, training's ``step N/M`` lines, and warnings as
one line ``warning: ...`` each (above a running bar)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator

from ..jobs import Progress


def is_terminal(stream) -> bool:
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
        self.enabled = not quiet and is_terminal(self.stream)
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


def bar(args: argparse.Namespace, description: str = "") -> ProgressBar:
    """The command's progress bar (off with -q)."""
    return ProgressBar(description, quiet=args.quiet)


def steps(args: argparse.Namespace, bar: ProgressBar, say=print) -> Callable[[Progress], None]:
    """``on_progress`` of a training command: the bar, and the ``step N/M message`` lines on stdout (which the dock
    shows while a run starts) unless -q, or unless the bar shows on the same terminal."""
    lines = not args.quiet and not (bar.enabled and is_terminal(sys.stdout))

    def report(progress: Progress) -> None:
        bar(progress)
        if lines:
            say(f"step {progress.done}/{progress.total} {progress.message}", flush=True)

    return report


def warn(text: str) -> None:
    """One line ``warning: ...`` on stderr (above a running progress bar)."""
    line = f"warning: {text}"
    shown = [bar for bar in ProgressBar.active if bar.stream is sys.stderr]
    if shown:
        shown[-1].write(line)
    else:
        print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Python warnings (the DICOM reader's gaps, pydicom's, the libraries') as one line ``warning: ...`` each, without
    the file:line and source line Python prints."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        lines = [text.strip() for text in str(message).splitlines() if text.strip()]
        warn(lines[0] if lines else category.__name__)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
