"""The dock's "Pretrain" tab: continual pretraining of the model's image encoder on unlabelled images.

Pretraining runs as ``gfm-napari pretrain`` in a subprocess (:mod:`.run_panel`: progress, Cancel, resume),
plotting its two loss terms, L_MIM (masked image modelling) and L_feat (feature distillation). The images are the
files of the open image layers (filled in by the dock) and any folders added here. The run exports its encoder
with every checkpoint, so a stopped run can be used too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
)

from ..errors import GfmError
from ..models import LoadedModel
from ..training.runs import (
    PretrainProgress,
    exported_encoder,
    pretrain_command,
    read_pretrain_progress,
)
from .run_panel import RunPanel, RunView
from .run_plot import Line

Prepare = Callable[[list[Path]], tuple[LoadedModel, Path, bool]]  # data -> (base model, run folder, resume)
FROM_LAYER = Qt.ItemDataRole.UserRole + 1  # an item's flag: filled in from the open layers, not added by hand


class PretrainPanel(RunPanel):
    """Images and folders, steps, crops per step and processes; Pretrain / Cancel, progress, a live plot of the
    loss terms, and Use this encoder.

    Args:
        prepare: called on "Pretrain" with the data list; returns ``(base model, run folder, resume)`` (resume:
            the folder holds a stopped run's checkpoint); raises GfmError when there is nothing to pretrain.
        use: called with the run's encoder file on "Use this encoder".
        report: shows an error to the user.
    """

    what, result = "pretraining", "the encoder"

    def __init__(self, prepare: Prepare, use: Callable[[Path], None], report: Callable[[BaseException], None]) -> None:
        data = QListWidget()
        data.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        data.setMaximumHeight(90)
        add, remove = QPushButton("Add folder…"), QPushButton("Remove")
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        steps, crops, processes = _spin(1, 100_000, 200), _spin(1, 256, 8), _spin(1, os.cpu_count() or 1, 1)
        crops.setToolTip("Random crops each process draws per step (the batch size)")
        processes.setToolTip("Training processes on this machine, each with its own crops")
        frozen = _spin(0, 3, 0)
        frozen.setToolTip("Encoder stages after the stem left untrained: fewer gradients per step, so more images "
                          "per hour on a CPU (the feature loss then reads the image embedding)")
        settings = QFormLayout()
        settings.addRow("Images", data)
        settings.addRow("", buttons)
        settings.addRow("Steps", steps)
        settings.addRow("Crops per step", crops)
        settings.addRow("Processes", processes)
        settings.addRow("Frozen stages", frozen)
        super().__init__(
            "Pretrain the image encoder (no labels needed)", settings,
            ("Pretrain", "Use this encoder", "Adapt the model's image encoder to these images, then segment with it."),
            (Line("L_MIM", "#1f77b4"), Line("L_feat", "#ff7f0e")), exported_encoder, use, report,
        )
        self._prepare = prepare
        self.data_list, self.steps, self.crops, self.processes = data, steps, crops, processes
        self.frozen_stages = frozen
        self.add_button, self.remove_button = add, remove
        self._removed: set[Path] = set()  # layer files the user removed from the list: not filled in again
        self.pretrain_button = self.start_button
        self.pretrain_button.clicked.connect(self.pretrain)
        add.clicked.connect(self._add_folder)
        remove.clicked.connect(self._remove_selected)

    def paths(self) -> list[Path]:
        """The data list: files and folders to pretrain on."""
        return [self.data_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.data_list.count())]

    def set_layer_files(self, files: Sequence[Path]) -> None:
        """The open image layers' files, in place of the ones listed before; added folders stay."""
        for i in reversed(range(self.data_list.count())):
            if self.data_list.item(i).data(FROM_LAYER):
                self.data_list.takeItem(i)
        for path in files:
            if path not in self._removed:
                self._add(path, from_layer=True)

    def add_path(self, path: Path) -> None:
        """Add a file or folder by hand (it stays when the layers change)."""
        self._removed.discard(path)
        self._add(path, from_layer=False)

    def pretrain(self) -> None:
        if self.running:
            return
        data = self.paths()
        try:
            model, run_dir, resume = self._prepare(data)
        except GfmError as error:
            self._report(error)
            return
        steps = self.steps.value()
        command = pretrain_command(model, data, run_dir, steps=steps, nproc=self.processes.value(),
                                   batch_size=self.crops.value(), frozen_stages=self.frozen_stages.value(),
                                   resume=resume)
        self._start(command, run_dir, steps)

    def _add(self, path: Path, *, from_layer: bool) -> None:
        if path in self.paths():
            return
        item = QListWidgetItem(path.name or str(path))
        item.setToolTip(str(path))
        item.setData(Qt.ItemDataRole.UserRole, path)
        item.setData(FROM_LAYER, from_layer)
        self.data_list.addItem(item)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of images to pretrain on")
        if folder:
            self.add_path(Path(folder))

    def _remove_selected(self) -> None:
        for item in self.data_list.selectedItems():
            if item.data(FROM_LAYER):
                self._removed.add(item.data(Qt.ItemDataRole.UserRole))
            self.data_list.takeItem(self.data_list.row(item))

    def _view(self) -> RunView:
        progress = read_pretrain_progress(self.run_dir, self.steps.value())
        return RunView(progress.step, (progress.steps, progress.l_mim), (progress.steps, progress.l_feat),
                       _summary(progress))

    def _ended_text(self, result: Path | None) -> str:
        done = "stopped (Pretrain resumes it)" if self._cancelled else "finished"
        summary = _summary(read_pretrain_progress(self.run_dir, self.steps.value()))
        return f"Pretraining {done}: {summary}." + (" Use this encoder segments with it." if result else "")


def _summary(progress: PretrainProgress) -> str:
    """step n/N · L_MIM · L_feat · images/s · processes (the loss terms and speed once there is a step)."""
    losses = [f"L_MIM {progress.l_mim[-1]:.4f}", f"L_feat {progress.l_feat[-1]:.4f}"] if progress.steps else []
    speed = [f"{progress.images_per_s:.2f} images/s"] if progress.images_per_s else []
    processes = f"{progress.processes} process" + ("es" if progress.processes > 1 else "")
    return " · ".join([f"step {progress.step}/{progress.total}", *losses, *speed, processes])


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin
