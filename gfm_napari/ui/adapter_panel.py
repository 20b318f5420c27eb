"""The dock's "Adapter" box: train an encoder adapter from the labels drawn so far, watch it, use it.

Training runs as ``gfm-napari train-adapter`` in a subprocess (:mod:`.run_panel`), plotting the loss and the
validation score. Cancel exports the best adapter so far; "Train adapter" on the same image and kind then resumes
the run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtWidgets import QComboBox, QFormLayout, QSpinBox

from ..errors import GfmError
from ..training.runs import (
    NOTHING_LEARNT,
    RunProgress,
    adapter_command,
    exported_adapter,
    read_progress,
)
from .run_panel import RunPanel, RunView
from .run_plot import Line

KINDS = {"LoRA": "lora", "AdaptFormer": "adaptformer", "Bottleneck": "bottleneck"}

Prepare = Callable[[str], tuple]  # kind -> (base LoadedModel, image path, labels path, run folder)


class AdapterPanel(RunPanel):
    """Train / Cancel, steps and kind, progress, a live plot, and Use adapter.

    Args:
        prepare: called on "Train adapter" with the adapter kind; writes the labels where the subprocess reads
            them and returns ``(base model, image path, labels path, run folder)``; raises GfmError when there is
            nothing to train on.
        use: called with an exported adapter file on "Use adapter".
        report: shows an error to the user.
    """

    what, result = "adapter training", "the best adapter"

    def __init__(self, prepare: Prepare, use: Callable[[Path], None], report: Callable[[BaseException], None]) -> None:
        kind, steps = QComboBox(), QSpinBox()
        kind.addItems(list(KINDS))
        steps.setRange(1, 100_000)
        steps.setValue(300)
        settings = QFormLayout()
        settings.addRow("Kind", kind)
        settings.addRow("Steps", steps)
        super().__init__(
            "Adapter (learn from your labels)", settings,
            ("Train adapter", "Use adapter", "Label a few slices, then train an adapter."),
            (Line("loss", "#1f77b4"), Line("validation", "#ff7f0e", "o-")), exported_adapter, use, report,
        )
        self._prepare, self.kind, self.steps = prepare, kind, steps
        self.train_button = self.start_button
        self.train_button.clicked.connect(self.train)

    def train(self) -> None:
        if self.running:
            return
        kind = KINDS[self.kind.currentText()]
        try:
            model, image, labels, run_dir = self._prepare(kind)
        except GfmError as error:
            self._report(error)
            return
        steps = self.steps.value()
        self._start(adapter_command(model, image, labels, run_dir, kind=kind, steps=steps), run_dir, steps)

    def _view(self) -> RunView:
        progress = read_progress(self.run_dir, self.steps.value())
        return RunView(progress.step, (progress.steps, progress.losses), (progress.val_steps, progress.val_scores),
                       _summary(progress))

    def _ended_text(self, result: Path | None) -> str:
        done = "stopped (Train adapter resumes it)" if self._cancelled else "finished"
        progress = read_progress(self.run_dir)
        score = "" if progress.best_score is None else f"; best validation score {progress.best_score:.3f}"
        if progress.learnt_nothing:  # the export is the untouched model: say so rather than offer it as a gain
            return f"Training {done}{score} at step 0: {NOTHING_LEARNT}. Label more slices, or try another kind."
        return f"Training {done}{score}." + (" Use adapter applies it." if result else "")


def _summary(progress: RunProgress) -> str:
    parts = [f"step {progress.step}/{progress.total}"]
    if progress.losses:
        parts.append(f"loss {progress.losses[-1]:.3f}")
    if progress.val_scores:
        parts.append(f"validation {progress.val_scores[-1]:.3f} (best {progress.best_score:.3f})")
    if progress.steps_per_s:
        parts.append(f"{progress.steps_per_s:.2f} steps/s")
    return " · ".join(parts)
