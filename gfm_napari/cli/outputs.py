"""Output files: refused before any work (a folder, a missing folder, a suffix no writer takes, an input file);
JSON reports printed and written."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import ExportError
from .progress import warn


def is_input(path: Path, source: Path) -> bool:
    """``path`` names the input ``source``, or an existing file inside an input folder (a DICOM series)."""
    try:
        if path.exists() and source.exists() and os.path.samefile(path, source):
            return True
    except OSError:
        pass
    if path.resolve() == source.resolve():
        return True
    return source.is_dir() and path.exists() and path.resolve().parent == source.resolve()


def check_output(
    path: Path | None, option: str, what: str, *, suffixes: Sequence[str] | None = None,
    inputs: Sequence[tuple[str, Path | None]] = (), created: Path | None = None,
) -> None:
    """Refuse an output before any work: a folder, a folder that does not exist (unless it is ``created`` by the
    command, e.g. the run folder), a suffix the writer does not support, or one of the command's ``inputs``."""
    if path is None:
        return
    from ..images._writing import full_suffix

    for name, source in inputs:
        if source is not None and is_input(path, source):
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


def report_empty(mask) -> None:
    """A warning when the written mask holds no pixel."""
    if not mask.any():
        warn("the mask is empty: the model found no object at the prompt (try a tighter box or more clicks)")


def emit(report: dict, output: Path | None) -> int:
    """Print ``report`` as JSON, and write it to ``output`` too when given."""
    text = json.dumps(report, indent=2)
    print(text)
    if output is not None:
        from ..images.atomic import atomic_write_text

        atomic_write_text(output, text + "\n")
    return 0
