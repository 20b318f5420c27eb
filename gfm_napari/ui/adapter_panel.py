"""The dock's "Adapter" box: train an encoder adapter from the labels drawn so far, watch it, use it.

Training runs as ``gfm-napari train-adapter`` in a subprocess (:class:`QProcess`: the viewer's process never
trains, and Qt reports the end without a waiting thread); a timer reads the run's JSON-lines log for the progress
bar and the live plot of the loss and the validation score. Cancel sends SIGTERM: the run writes its checkpoint,
exports the best adapter so far and exits; "Train adapter" on the same image and kind then resumes it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import QProcess, QTimer
from qtpy.QtWidgets import QComboBox, QGridLayout, QGroupBox, QLabel, QProgressBar, QPushButton, QSpinBox

from ..errors import GfmError
from ..training.runs import RunProgress, adapter_command, exported_adapter, read_progress

KINDS = {"LoRA": "lora", "AdaptFormer": "adaptformer", "Bottleneck": "bottleneck"}
POLL_MS = 1000

Prepare = Callable[[str], tuple]  # kind -> (base LoadedModel, image path, labels path, run folder)


class AdapterPanel(QGroupBox):
    """Train / Cancel, steps and kind, progress, a live plot, and Use adapter.

    Args:
        prepare: called on "Train adapter" with the adapter kind; writes the labels where the subprocess reads
            them and returns ``(base model, image path, labels path, run folder)``; raises GfmError when there is
            nothing to train on.
        use: called with an exported adapter file on "Use adapter".
        report: shows an error to the user.
    """

    def __init__(self, prepare: Prepare, use: Callable[[Path], None], report: Callable[[BaseException], None]) -> None:
        super().__init__("Adapter (learn from your labels)")
        self._prepare, self._use, self._report = prepare, use, report
        self.process: QProcess | None = None
        self.run_dir: Path | None = None
        self._cancelled = False
        self._last_output = ""
        self._shown: tuple[int, int] = (-1, -1)
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setValue(300)
        self.train_button = QPushButton("Train adapter")
        self.cancel_button = QPushButton("Cancel")
        self.use_button = QPushButton("Use adapter")
        self.progress = QProgressBar()
        self.status = QLabel("Label a few slices, then train an adapter.")
        self.status.setWordWrap(True)
        self.plot = _LossPlot()
        layout = QGridLayout(self)
        layout.addWidget(QLabel("Kind"), 0, 0)
        layout.addWidget(self.kind, 0, 1)
        layout.addWidget(QLabel("Steps"), 1, 0)
        layout.addWidget(self.steps, 1, 1)
        layout.addWidget(self.train_button, 2, 0)
        layout.addWidget(self.cancel_button, 2, 1)
        layout.addWidget(self.progress, 3, 0, 1, 2)
        layout.addWidget(self.plot.canvas, 4, 0, 1, 2)
        layout.addWidget(self.status, 5, 0, 1, 2)
        layout.addWidget(self.use_button, 6, 0, 1, 2)
        self.cancel_button.setEnabled(False)
        self.use_button.setEnabled(False)
        self.progress.setVisible(False)  # both appear with the first run
        self.plot.canvas.setVisible(False)
        self.train_button.clicked.connect(self.train)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self.use)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def train(self) -> None:
        if self.running:
            return
        try:
            model, image, labels, run_dir = self._prepare(KINDS[self.kind.currentText()])
        except GfmError as error:
            self._report(error)
            return
        self.run_dir, self._cancelled, self._shown = run_dir, False, (-1, -1)
        command = adapter_command(model, image, labels, run_dir, kind=KINDS[self.kind.currentText()],
                                  steps=self.steps.value())
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.finished.connect(self._finished)
        self.process.start(command[0], command[1:])
        self.progress.setVisible(True)
        self.plot.canvas.setVisible(True)
        self.progress.setRange(0, self.steps.value())
        self.progress.setValue(read_progress(run_dir).step)
        self.status.setText(f"Starting the training run in {run_dir.name}…")
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._timer.start()

    def cancel(self) -> None:
        """Stop the run: it saves its checkpoint and exports the best adapter so far before exiting."""
        if self.running:
            self._cancelled = True
            self.status.setText("Cancelling: saving the checkpoint and the best adapter so far…")
            self.process.terminate()

    def use(self) -> None:
        adapter = exported_adapter(self.run_dir) if self.run_dir is not None else None
        if adapter is not None:
            self._use(adapter)

    def shutdown(self) -> None:
        """The dock is closing: stop a run (it keeps its checkpoint) and wait briefly for it."""
        if self.running:
            self.process.terminate()
            self.process.waitForFinished(10_000)

    def _read_output(self) -> None:
        text = bytes(self.process.readAllStandardOutput()).decode(errors="replace").strip()
        if text:
            self._last_output = text.splitlines()[-1]
            if self.progress.value() == 0:
                self.status.setText(self._last_output.split(" ", 2)[-1])

    def _poll(self) -> None:
        progress = read_progress(self.run_dir, self.steps.value())
        if (progress.step, len(progress.val_scores)) == self._shown:
            return
        self._shown = (progress.step, len(progress.val_scores))
        self.progress.setValue(progress.step)
        self.plot.show(progress)
        self.status.setText(_summary(progress))

    def _finished(self, exit_code: int, _status) -> None:
        self._timer.stop()
        self._poll()
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        adapter = exported_adapter(self.run_dir)
        self.use_button.setEnabled(adapter is not None)
        if exit_code != 0 and not self._cancelled:
            self._report(GfmError(f"adapter training failed: {self._last_output or f'exit code {exit_code}'}"))
            return
        done = "stopped (Train adapter resumes it)" if self._cancelled else "finished"
        best = read_progress(self.run_dir).best_score
        score = "" if best is None else f"; best validation score {best:.3f}"
        self.status.setText(f"Training {done}{score}." + (" Use adapter applies it." if adapter else ""))


def _summary(progress: RunProgress) -> str:
    parts = [f"step {progress.step}/{progress.total}"]
    if progress.losses:
        parts.append(f"loss {progress.losses[-1]:.3f}")
    if progress.val_scores:
        parts.append(f"validation {progress.val_scores[-1]:.3f} (best {progress.best_score:.3f})")
    if progress.steps_per_s:
        parts.append(f"{progress.steps_per_s:.2f} steps/s")
    return " · ".join(parts)


class _LossPlot:
    """Training loss and validation score against the step (matplotlib in Qt)."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(3.2, 1.8), dpi=80, layout="constrained")
        self.canvas = FigureCanvasQTAgg(figure)
        self.canvas.setMinimumHeight(140)
        self.loss_axes = figure.add_subplot()
        self.score_axes = self.loss_axes.twinx()
        self.loss_line, = self.loss_axes.plot([], [], color="#1f77b4", lw=1, label="loss")
        self.score_line, = self.score_axes.plot([], [], "o-", color="#ff7f0e", ms=3, label="validation")
        self.loss_axes.set_xlabel("step", fontsize=8)
        self.loss_axes.set_ylabel("loss", fontsize=8, color="#1f77b4")
        self.score_axes.set_ylabel("validation", fontsize=8, color="#ff7f0e")
        for axes in (self.loss_axes, self.score_axes):
            axes.tick_params(labelsize=7)

    def show(self, progress: RunProgress) -> None:
        self.loss_line.set_data(progress.steps, progress.losses)
        self.score_line.set_data(progress.val_steps, progress.val_scores)
        for axes in (self.loss_axes, self.score_axes):
            axes.relim()
            axes.autoscale_view()
        self.canvas.draw_idle()
