"""The benchmarks' common ending: the JSON report printed, and written to ``output`` when given."""

from __future__ import annotations

import json
from pathlib import Path


def emit(report: dict, output: Path | None, indent: int = 2) -> None:
    text = json.dumps(report, indent=indent)
    print(text)
    if output:
        output.write_text(text + "\n")
