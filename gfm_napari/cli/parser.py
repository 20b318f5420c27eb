"""The command line's argument parser: one-line argument errors, negative numbers as option values, exit codes."""

from __future__ import annotations

import argparse
import re

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130  # as after Ctrl+C

_NUMBER_LISTS = ("--box", "--window", "--point")
_NEGATIVE = re.compile(r"-(\d|\.\d|inf|nan)", re.IGNORECASE)


class Parser(argparse.ArgumentParser):
    """An argument error is one line, like every other error: ``error: ...`` (exit code 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


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
