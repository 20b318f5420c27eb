"""What the dock's training panels share: a ``gfm-napari`` subprocess watched through its run folder.

The run is a :class:`QProcess` (the viewer's process never trains, and Qt reports the end without a waiting thread);
a timer reads the run folder's log for the progress bar, the live plot and the status line. Cancel sends SIGTERM:
the run writes its checkpoint and its result so far, then exits (code 130), and the next start resumes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qtpy.QtCore import QProcess, QTimer
from qtpy.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from ..errors import GfmError
from .run_plot import Line, RunPlot, Series

POLL_MS = 1000


@dataclass(frozen=True)
class RunView:
    """What the panel shows of a run's log: the step, the two plotted series and the status line."""

    step: int
    left: Series
    right: Series
    summary: str


class RunPanel(QGroupBox):
    """Start / Cancel, a progress bar, a live plot, a status line and a Use button below ``settings``.

    Subclasses start runs with :meth:`_start` and say what the log shows (:meth:`_view`) and what an ended run
    gives (:meth:`_ended_text`).

    Args:
        title: the box's title.
        settings: the run's settings, above the buttons.
        texts: the start button's, the Use button's and the status line's first text.
        lines: the plot's two series.
        exported: the run's result file in a run folder, or None while there is none.
        use: called with that file on "Use".
        report: shows an error to the user.
    """

    what = "the run"  # in messages: "<what> failed: ...", "Starting <what> in ..."
    result = "the result"  # what Cancel saves: "... and <result> so far"

    def __init__(
        self, title: str, settings: QLayout, texts: tuple[str, str, str], lines: tuple[Line, Line],
        exported: Callable[[Path], Path | None], use: Callable[[Path], None],
        report: Callable[[BaseException], None],
    ) -> None:
        super().__init__(title)
        self._exported, self._use, self._report = exported, use, report
        self.process: QProcess | None = None
        self.run_dir: Path | None = None
        self._cancelled = False
        self._last_output = ""
        self._shown: RunView | None = None
        start, use_text, status = texts
        self.start_button = QPushButton(start)
        self.cancel_button = QPushButton("Cancel")
        self.use_button = QPushButton(use_text)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.status = QLabel(status)
        self.status.setWordWrap(True)
        self.plot = RunPlot(*lines)
        grid = QGridLayout()
        grid.addWidget(self.start_button, 0, 0)
        grid.addWidget(self.cancel_button, 0, 1)
        grid.addWidget(self.progress, 1, 0, 1, 2)
        grid.addWidget(self.plot.canvas, 2, 0, 1, 2)
        grid.addWidget(self.status, 3, 0, 1, 2)
        grid.addWidget(self.use_button, 4, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(settings)
        layout.addLayout(grid)
        self.cancel_button.setEnabled(False)
        self.use_button.setEnabled(False)
        self.progress.setVisible(False)  # both appear with the first run
        self.plot.canvas.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self.use)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def cancel(self) -> None:
        """Stop the run: it saves its checkpoint and its result so far before exiting."""
        if self.running:
            self._cancelled = True
            self.status.setText(f"Cancelling: saving the checkpoint and {self.result} so far…")
            self.process.terminate()

    def use(self) -> None:
        result = self._exported(self.run_dir) if self.run_dir is not None else None
        if result is not None:
            self._use(result)

    def shutdown(self) -> None:
        """The dock is closing: stop a run (it keeps its checkpoint) and wait briefly for it."""
        if self.running:
            self.process.terminate()
            self.process.waitForFinished(10_000)

    def _start(self, command: list[str], run_dir: Path, total: int) -> None:
        """Run ``command`` (a ``gfm-napari`` training command writing into ``run_dir``) for ``total`` steps."""
        self.run_dir, self._cancelled, self._shown, self._last_output = run_dir, False, None, ""
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.finished.connect(self._finished)
        self.process.start(command[0], command[1:])
        self.progress.setVisible(True)
        self.plot.canvas.setVisible(True)
        self.progress.setRange(0, total)
        self.progress.setValue(self._view().step)
        self.status.setText(f"Starting {self.what} in {run_dir.name}…")
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.use_button.setEnabled(False)  # enabled again by the end of this run, with this run's result
        self._timer.start()

    def _view(self) -> RunView:
        """What the run's log says now (read from ``self.run_dir``)."""
        raise NotImplementedError

    def _ended_text(self, result: Path | None) -> str:
        """The status line once the run finished or was stopped (``self._cancelled``); ``result`` as exported."""
        raise NotImplementedError

    def _read_output(self) -> None:
        text = bytes(self.process.readAllStandardOutput()).decode(errors="replace").strip()
        if text:
            self._last_output = text.splitlines()[-1]
            if self.progress.value() == 0:  # loading data and model: say what the run says
                self.status.setText(self._last_output.split(" ", 2)[-1])

    def _poll(self) -> None:
        view = self._view()
        if view == self._shown:
            return
        self._shown = view
        self.progress.setValue(view.step)
        self.plot.show(view.left, view.right)
        self.status.setText(view.summary)

    def _finished(self, exit_code: int, _status) -> None:
        self._timer.stop()
        self._poll()
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        result = self._exported(self.run_dir)
        self.use_button.setEnabled(result is not None)
        if exit_code != 0 and not self._cancelled:
            self._report(GfmError(f"{self.what} failed: {self._last_output or f'exit code {exit_code}'}"))
            return
        self.status.setText(self._ended_text(result))
