"""Model work off the UI thread, in the order the user asked for it.

Every user action becomes a task in one queue: cheap state changes run on the UI thread, model work (encoding,
decoding, loading, propagating) in a napari thread worker, one at a time, so the predictor is never used by two
threads at once. A click made while its slice is still being encoded therefore waits in the queue and is applied
when the embedding arrives — no click is lost and no state change overtakes an earlier one. Prefetching (encoding
neighbouring slices) runs only when no user task is waiting, and a newer prefetch request replaces older ones.

Errors the user caused or the machine ran into (:class:`~gfm_napari.errors.GfmError`, out of memory on the host or
the GPU) go to ``on_error`` and the queue goes on; anything else is a bug and reaches napari's error reporting with
its traceback.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import torch
from qtpy.QtCore import QObject, QThreadPool, Signal

from ..errors import GfmError
from ..jobs import Job, Progress

OUT_OF_MEMORY = (MemoryError, torch.cuda.OutOfMemoryError)
EXPECTED_ERRORS = (GfmError, *OUT_OF_MEMORY)
# How long closing the dock waits for the running worker (a model loading, one slice encoding, one propagation
# step): a worker still running when Qt tears its objects down aborts the process as it signals its end.
CLOSE_WAIT_MS = 60_000


def user_message(error: BaseException) -> str:
    """One line for a notification."""
    if isinstance(error, OUT_OF_MEMORY):
        return "out of memory: close other images or choose a smaller model, then try again (nothing was lost)"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


@dataclass(frozen=True)
class _Failed:
    error: BaseException


@dataclass
class _Task:
    work: Callable[[], Any]
    done: Callable[[Any], None] | None = None
    threaded: bool = True
    background: bool = False
    message: str = ""
    progress: Callable[[Progress], None] | None = None
    is_job: bool = False


class TaskQueue(QObject):
    """Ordered user tasks (UI thread or worker) plus replaceable background prefetches."""

    status = Signal(str)  # what the running worker does; "" when idle
    settled = Signal()  # after each user task, done, failed or cancelled: views re-render from the model state

    def __init__(self, on_error: Callable[[BaseException], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_error = on_error
        self._tasks: deque[_Task] = deque()
        self._prefetch: deque[_Task] = deque()
        self._worker = None
        self._worker_task: _Task | None = None
        self._closed = False

    # ---- submitting ----------------------------------------------------------------------------------------------
    def call(self, work: Callable[[], Any], done: Callable[[Any], None] | None = None) -> None:
        """Run ``work`` on the UI thread once every earlier task is done (it must not use the model)."""
        self._submit(_Task(work, done, threaded=False))

    def run(self, work: Callable[[], Any], done: Callable[[Any], None] | None = None, message: str = "") -> None:
        """Run ``work`` in a worker thread after every earlier task; ``done(result)`` then runs on the UI thread."""
        self._submit(_Task(work, done, message=message))

    def run_job(
        self,
        job: Callable[[], Job[Any]],
        done: Callable[[Any], None],
        progress: Callable[[Progress], None],
        message: str = "",
    ) -> None:
        """Run a generator job (see :mod:`gfm_napari.jobs`) in a worker: each Progress to ``progress``, its result to
        ``done``; :meth:`cancel_job` stops it at its next yield and drops the result."""
        self._submit(_Task(job, done, message=message, progress=progress, is_job=True))

    def prefetch(self, works: list[tuple[Callable[[], Any], str]]) -> None:
        """Replace the waiting background tasks by ``works`` (``(work, message)`` pairs, first runs first)."""
        self._prefetch = deque(_Task(work, background=True, message=message) for work, message in works)
        self._pump()

    def cancel_job(self) -> bool:
        """Drop waiting jobs and ask the running one to stop at its next step; True if there was one."""
        waiting = len(self._tasks)
        self._tasks = deque(task for task in self._tasks if not task.is_job)
        running = self._worker is not None and self._worker_task.is_job
        if running:
            self._worker.quit()
        return running or len(self._tasks) < waiting

    def close(self) -> None:
        """Drop everything waiting, stop a running job and wait for the running worker to end its current step (up
        to :data:`CLOSE_WAIT_MS`); call nothing back any more."""
        self._closed = True
        self._tasks.clear()
        self._prefetch.clear()
        self.cancel_job()
        if self._worker is not None:
            QThreadPool.globalInstance().waitForDone(CLOSE_WAIT_MS)

    @property
    def idle(self) -> bool:
        return self._worker is None and not self._tasks and not self._prefetch

    @property
    def running_job(self) -> bool:
        return self._worker is not None and self._worker_task.is_job

    # ---- dispatching ---------------------------------------------------------------------------------------------
    def _submit(self, task: _Task) -> None:
        if not self._closed:
            self._tasks.append(task)
            self._pump()

    def _pump(self) -> None:
        while self._tasks and not (self._worker is not None and not self._worker_task.background):
            task = self._tasks[0]
            if task.threaded:
                if self._worker is None:
                    self._start(self._tasks.popleft())
                return  # a prefetch is running: wait for it, the model serves one thread at a time
            self._tasks.popleft()
            self._finish(task, _call(task.work))
            self.settled.emit()
        if self._worker is None and self._prefetch:
            self._start(self._prefetch.popleft())

    def _start(self, task: _Task) -> None:
        from napari.qt.threading import create_worker

        worker = create_worker(_drive if task.is_job else _call, task.work, _start_thread=False)
        if task.progress is not None:
            worker.yielded.connect(task.progress)
        worker.returned.connect(lambda result: self._finish(task, result))
        worker.finished.connect(self._on_worker_finished)
        self._worker, self._worker_task = worker, task
        self.status.emit(task.message)
        worker.start()

    def _on_worker_finished(self) -> None:
        task = self._worker_task
        self._worker, self._worker_task = None, None
        self.status.emit("")
        if not self._closed and not task.background:
            self.settled.emit()
        self._pump()

    def _finish(self, task: _Task, result: Any) -> None:
        if self._closed:
            return
        if isinstance(result, _Failed):
            self._on_error(result.error)
        elif task.done is not None:
            try:
                task.done(result)
            except EXPECTED_ERRORS as error:
                self._on_error(error)


def _call(work: Callable[[], Any]) -> Any:
    try:
        return work()
    except EXPECTED_ERRORS as error:
        return _failed(error)


def _drive(job: Callable[[], Job[Any]]) -> Generator[Progress, None, Any]:
    try:
        return (yield from job())
    except EXPECTED_ERRORS as error:
        return _failed(error)


def _failed(error: BaseException) -> _Failed:
    """The error for the UI thread; after running out of GPU memory, the cached blocks go back to the device."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        torch.cuda.empty_cache()
    return _Failed(error)
