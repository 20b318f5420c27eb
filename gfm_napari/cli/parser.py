"""The command line's argument parser: one-line argument errors, negative numbers as option values, help texts
that show torch-side values without importing torch, exit codes."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130  # as after Ctrl+C

_NUMBER_LISTS = ("--box", "--window", "--point")
_NEGATIVE = re.compile(r"-(\d|\.\d|inf|nan)", re.IGNORECASE)


class Parser(argparse.ArgumentParser):
    """An argument error is one line, like every other error: ``error: ...`` (exit code 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


class _Deferred:
    """Help text computed when the help is shown (``str``), not when the parser is built."""

    def __init__(self, text: Callable[[], object]) -> None:
        self._text = text

    def __str__(self) -> str:
        return str(self._text())


def add_deferred(parser, *flags: str, deferred: Callable[[], object], **options) -> argparse.Action:
    """``parser.add_argument(*flags, **options)`` whose help shows ``deferred()`` at ``%(deferred)s``: a default
    kept by a torch-side dataclass, the registry's model names. Building the parser imports neither."""
    action = parser.add_argument(*flags, **options)
    action.deferred = _Deferred(deferred)  # type: ignore[attr-defined]  # argparse fills %(name)s from the action
    return action


def joined_negative_values(argv: list[str]) -> list[str]:
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


def quiet_option() -> argparse.ArgumentParser:
    """A parent parser with -q, for each command: -q also after the command, without resetting it there."""
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bar and no step lines")
    return quiet
