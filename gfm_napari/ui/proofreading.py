"""The dock's "Proofread" box: open a label map made elsewhere as the segmentation, pick an object, correct it.

"Open labels…" replaces the dock's labels by a file's (checked against the image's grid, undoable); "Correct object"
makes the object in the spin box current on the slice on screen with its own mask as the preview, so that clicks
refine it and Accept replaces it (:meth:`~gfm_napari.engine.session.SegmentationSession.edit_object`). The spin box
follows the segmentation layer's selected label, so napari's colour picker (the labels layer's pick mode) chooses an
object by clicking on it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtWidgets import QFileDialog, QGridLayout, QGroupBox, QPushButton, QSpinBox

LABEL_FILES = "Label maps (*.nii *.nii.gz *.nrrd *.tif *.tiff *.png *.dcm *.geojson *.gpkg);;All files (*)"


class ProofreadPanel(QGroupBox):
    """Open labels… / object id / Correct object.

    Args:
        open_labels: called with the chosen label map file.
        correct: called with the object id to correct on the slice on screen.
    """

    def __init__(self, open_labels: Callable[[Path], None], correct: Callable[[int], None]) -> None:
        super().__init__("Proofread")
        self._open_labels = open_labels
        self.open_button = QPushButton("Open labels…")
        self.open_button.setToolTip("Replace the segmentation by a label map on this image's grid (NIfTI, label "
                                    "GeoTIFF, DICOM-SEG, GeoJSON / GeoPackage polygons); undoable")
        self.object_id = QSpinBox()
        self.object_id.setRange(1, 65535)
        self.object_id.setPrefix("Object ")
        self.object_id.setToolTip("The object to correct; picking a label in the segmentation layer sets it")
        self.correct_button = QPushButton("Correct object")
        self.correct_button.setToolTip("Start from this object's mask on the slice shown: clicks refine it, Accept "
                                       "replaces it there, Undo restores it")
        layout = QGridLayout(self)
        layout.addWidget(self.open_button, 0, 0, 1, 2)
        layout.addWidget(self.object_id, 1, 0)
        layout.addWidget(self.correct_button, 1, 1)
        self.open_button.clicked.connect(self._choose_file)
        self.correct_button.clicked.connect(lambda: correct(self.object_id.value()))

    def pick(self, label: int) -> None:
        """Show ``label`` as the object to correct (0, the background, is ignored)."""
        if label > 0:
            self.object_id.setValue(label)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Label map on this image's grid", "", LABEL_FILES)
        if path:
            self._open_labels(Path(path))
