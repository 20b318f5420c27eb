"""A viewer process for ``test_autosave_kill.py``: it opens the CT through the plugin, docks the Segment widget with
the given recovery folder, boxes and accepts the liver, then the spleen, and prints one ``ACCEPTED`` line with the
labels' digest after each Accept (once the dock is idle). The test kills it with SIGKILL right after the second.

Usage: python autosave_child.py CT SEGMENTATION RECOVERY_FOLDER
"""

import hashlib
import sys
import time

import gfm_napari.ui  # noqa: F401  first, as napari does: it keeps triton out of a viewer's process

# isort: split
import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from gfm_napari.ui.app import show_axial
from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.prompts import box_from_mask
from gfm_napari.images import Plane
from gfm_napari.images import read_image
from gfm_napari.images.align import labels_on_grid
from gfm_napari.models import load_model
from gfm_napari.ui.segment_widget import SegmentWidget

LIVER, SPLEEN, AXIAL = 5, 1, 2


def digest(labels: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(labels).tobytes() + str(labels.shape).encode()).hexdigest()


def main(ct_path: str, seg_path: str, folder: str) -> None:
    predictor = Predictor(load_model("litemedsam"))
    viewer = napari.Viewer(show=False)
    viewer.open(ct_path, plugin="gfm-napari")
    show_axial(viewer)
    widget = SegmentWidget(viewer, load_default=lambda: predictor, recovery_folder=folder, prefetch_radius=0)
    viewer.window.add_dock_widget(widget, name="Segment")
    app = QApplication.instance()

    def wait(condition, timeout=120.0):
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                sys.exit("timed out")
            app.processEvents()
            time.sleep(0.005)

    wait(lambda: widget.session is not None and widget.idle)
    truth = labels_on_grid(widget.session.image, read_image(seg_path))
    index = int(np.argmax((truth == LIVER).sum(axis=(0, 1))))
    viewer.dims.set_current_step(AXIAL, index)
    for organ in (LIVER, SPLEEN):
        x0, y0, x1, y1 = box_from_mask((truth == organ)[:, :, index])
        corners = [Plane(AXIAL, index).from_plane(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        widget.prompt_layers.boxes.add_rectangles([np.array(corners)])
        widget.accept()
        widget.new_object()
        wait(lambda: widget.idle)
        labels = widget.labels_layer.data
        print(f"ACCEPTED {organ} {digest(labels)} {np.count_nonzero(labels)}", flush=True)
    wait(lambda: False, timeout=60.0)  # the test kills this process now


if __name__ == "__main__":
    main(*sys.argv[1:4])
