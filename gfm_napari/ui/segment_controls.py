"""The Segment dock's controls and their layout, without behaviour (that is :mod:`.segment_widget`)."""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ..images import DEFAULT_CT_WINDOW
from ..images.bands import PRESETS as BAND_PRESETS

SHORTCUTS = """<b>Segment</b> — box or click an object, accept it, go on with the next one.<br>
<b>Shortcuts</b> (canvas; the prompt layers and the viewer)<br>
click: positive click &nbsp;·&nbsp; Shift/Alt-click: negative click<br>
P: click tool &nbsp;·&nbsp; B: box tool &nbsp;·&nbsp; T: toggle negative clicks<br>
C: a lone click's next mask (the model gives 3, best-scored first: often a part, the object, a larger whole)<br>
A or Enter: accept the preview into the labels<br>
N: new object (accepts what is pending)<br>
Ctrl+Z / Ctrl+Shift+Z: undo / redo (prompts and labels)"""


class SegmentControls(QWidget):
    """Image and model choice, CT window, prompt tools, object buttons, volume actions, progress and status."""

    def __init__(self) -> None:
        super().__init__()
        self._build()

    def show_bands(self, visible: bool) -> None:
        """The band choice is offered for rasters with more than 3 bands only."""
        self._source.setRowVisible(self.bands, visible)

    def show_ct_window(self, visible: bool) -> None:
        """The window level and width (HU) are offered for CT images only."""
        for spin in (self.window_level, self.window_width):
            self._source.setRowVisible(spin, visible)

    def _build(self) -> None:
        self.setToolTip(SHORTCUTS)
        self.image_combo = QComboBox()
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(26)  # "LiteMedSAM, click-trained" readable in the dock
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.precision_combo = QComboBox()
        self.precision_combo.setToolTip(
            "The image encoder's arithmetic: 8-bit is faster on CPUs with 8-bit dot products (masks within 0.01 "
            "Dice of float where measured); Automatic picks it there, float elsewhere")
        self.views_combo = QComboBox()
        self.views_combo.setToolTip(
            "How many mirror images of each plane answer a prompt, their masks averaged: 4 (mirrored left-right, "
            "upside-down and both) gave better boxes and clicks on every held-apart set measured, at 4 times the "
            "encoding and decoding time; 8 also transposes the plane (rasters: more again; CT: worse)")
        self.window_level = _spin(-1500, 3000, DEFAULT_CT_WINDOW[0], " HU")
        self.window_width = _spin(1, 5000, DEFAULT_CT_WINDOW[1], " HU")
        source = QFormLayout()
        source.addRow("Image", self.image_combo)
        source.addRow("Model", self.model_combo)
        source.addRow("Precision", self.precision_combo)
        source.addRow("Views", self.views_combo)
        source.addRow("Window level", self.window_level)
        source.addRow("Window width", self.window_width)
        self.bands = QComboBox()
        self.bands.setEditable(True)
        self.bands.addItems(list(BAND_PRESETS))
        self.bands.setToolTip("The 3 bands the model sees and the layer shows (R, G, B): a preset, or band "
                              "numbers like 4,3,2 (1-based, as in GDAL); Enter applies")
        source.addRow("Bands", self.bands)
        self._source = source
        self.show_bands(False)

        self.click_tool = QRadioButton("Click (P)")
        self.box_tool = QRadioButton("Box (B)")
        self.box_tool.setChecked(True)
        tools = QButtonGroup(self)
        tools.addButton(self.click_tool)
        tools.addButton(self.box_tool)
        self.negative = QCheckBox("Negative clicks (T)")
        self.negative.setToolTip("Clicks remove instead of add; Shift/Alt-click does the opposite of this setting")
        self.object_label = QLabel()
        self.object_label.setTextFormat(Qt.TextFormat.RichText)
        self.mask_button = _button(
            "Next mask", "C", "A lone click gets 3 masks from the model, ranked by its predicted IoU; the best is "
            "shown first. When it is only a part of the object, or too much, show the next one (a new prompt starts "
            "again from the best)",
        )
        self.new_button = _button("New object", "N", "Accept what is pending and start the next object")
        self.accept_button = _button("Accept", "A / Enter", "Write the preview into the labels")
        self.clear_button = _button("Clear object", "", "Remove the current object's prompts and labels")
        self.undo_button = _button("Undo", "Ctrl+Z", "Undo the last prompt or label change")
        self.redo_button = _button("Redo", "Ctrl+Shift+Z", "Redo what was undone")
        prompts = QGridLayout()
        prompts.addWidget(self.box_tool, 0, 0)
        prompts.addWidget(self.click_tool, 0, 1)
        prompts.addWidget(self.negative, 1, 0, 1, 2)
        prompts.addWidget(self.object_label, 2, 0)
        prompts.addWidget(self.mask_button, 2, 1)
        prompts.addWidget(self.accept_button, 3, 0)
        prompts.addWidget(self.new_button, 3, 1)
        prompts.addWidget(self.clear_button, 4, 0)
        undo_row = QHBoxLayout()
        undo_row.addWidget(self.undo_button)
        undo_row.addWidget(self.redo_button)
        prompts.addLayout(undo_row, 4, 1)

        self.propagate_button = _button("Propagate to 3D", "", "Carry the current object through the volume")
        self.encode_button = _button("Encode all slices", "", "Encode every slice now: later prompts are instant")
        self.auto_button = _button(
            "Segment everything", "", "Find every object on the plane on screen (or in the box drawn there) and add "
            "each as a new object; correct any of them with clicks afterwards"
        )
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.cancel_button = QPushButton("Cancel")
        volume = QGridLayout()
        volume.addWidget(self.auto_button, 0, 0, 1, 2)
        volume.addWidget(self.propagate_button, 1, 0)
        volume.addWidget(self.encode_button, 1, 1)
        volume.addWidget(self.progress, 2, 0)
        volume.addWidget(self.cancel_button, 2, 1)
        self._show_progress(False)

        self.restore_button = QPushButton()
        self.restore_button.setVisible(False)
        self.status = QLabel("Starting…")
        self.status.setWordWrap(True)
        hints = QLabel("A accept · N new object · Ctrl+Z undo · Shift-click negative · hover for more")
        hints.setWordWrap(True)
        hints.setStyleSheet("color: gray")

        layout = QVBoxLayout(self)
        for title, content in (("Image and model", source), ("Prompts", prompts), ("Automatic and 3D", volume)):
            box = QGroupBox(title)
            box.setLayout(content)
            layout.addWidget(box)
        layout.addWidget(self.restore_button)
        layout.addWidget(self.status)
        layout.addWidget(hints)
        layout.addStretch(1)

    def _show_progress(self, visible: bool) -> None:
        self.progress.setVisible(visible)
        self.cancel_button.setVisible(visible)


def _spin(low: float, high: float, value: float, suffix: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(0)
    spin.setSingleStep(10)
    spin.setValue(value)
    spin.setSuffix(suffix)
    return spin


def _button(text: str, key: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(f"{tip} ({key})" if key else tip)
    return button


def debounce(parent: QWidget, msec: int, slot: Callable[[], None]) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(msec)
    timer.timeout.connect(slot)
    return timer
