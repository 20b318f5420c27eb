"""Make docs/screenshot.png: the real napari window with the CT sample, organs segmented by single clicks.

Run under an X server (napari's image layers need OpenGL): ``xvfb-run -a python docs/make_screenshot.py``.
It drives the Segment dock as a user would: one positive click at the interior of each organ of the sample's
reference labels (clicking tool, default click-trained model), Accept, New object; the last organ is left as a
live preview with its click visible.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from gfm_napari.ui.app import open_sample_with_dock
from gfm_napari.engine.prompts import interior_point
from gfm_napari.images import Plane

OUT = Path(__file__).with_name("screenshot.png")
AXIAL, SLICE = 2, 12
ORGANS = {5: "liver", 1: "spleen", 2: "right kidney", 3: "left kidney", 6: "stomach"}


def wait(widget, seconds: float = 300.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        if widget.session is not None and widget.idle:
            return
        time.sleep(0.05)
    sys.exit("the Segment dock did not settle")


def main() -> None:
    os.environ["GFM_NAPARI_RECOVERY_DIR"] = tempfile.mkdtemp()  # no "restore autosaved labels" from earlier runs
    viewer = napari.Viewer(title="gfm-napari")
    viewer.window.resize(1400, 900)
    widget = open_sample_with_dock(viewer)
    wait(widget)
    reference = next(layer for layer in viewer.layers if "reference" in layer.name)
    viewer.dims.set_current_step(AXIAL, SLICE)
    widget.click_tool.click()
    organs = [label for label in ORGANS if (reference.data[:, :, SLICE] == label).sum() > 30]
    for n, label in enumerate(organs):
        x, y = interior_point(reference.data[:, :, SLICE] == label)
        widget.prompt_layers.clicks.add(Plane(AXIAL, SLICE).from_plane(x, y))
        wait(widget)
        if n < len(organs) - 1:
            widget.new_object()  # accepts the pending preview first
            wait(widget)
    viewer.layers.selection.active = widget.prompt_layers.clicks
    viewer.reset_view()
    wait(widget)
    viewer.window.screenshot(str(OUT), canvas_only=False)
    print(f"wrote {OUT} ({', '.join(ORGANS[label] for label in organs)}; "
          f"{int(np.count_nonzero(widget.labels_layer.data))} labelled voxels)")
    viewer.close()


if __name__ == "__main__":
    main()
