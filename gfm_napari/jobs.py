"""Long jobs as generators: they yield :class:`Progress` and *return* their result.

The same generator is driven headless by :func:`run` (CLI, tests, notebooks) and wrapped in a napari
thread worker by the UI, which gives progress bars and cancel (closing the generator) for free.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` steps finished; ``message`` says what is being done."""

    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


Job = Generator[Progress, None, T]


def run(job: Job[T], on_progress: Callable[[Progress], None] | None = None) -> T:
    """Drive ``job`` to completion on this thread and return its result."""
    while True:
        try:
            progress = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(progress)


def relay(job: Job[T], convert: Callable[[Progress], Progress]) -> Job[T]:
    """Run ``job`` inside another job (``result = yield from relay(job, convert)``), yielding each of its Progress
    reports converted (e.g. into the outer job's steps); closing the outer job closes ``job``."""
    try:
        while True:
            try:
                progress = next(job)
            except StopIteration as stop:
                return stop.value
            yield convert(progress)
    finally:
        job.close()
