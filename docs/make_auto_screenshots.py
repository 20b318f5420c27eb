"""Make docs/auto/satellite.png and docs/auto/ct.png: "Segment everything" in the Segment dock, as a user runs it.

Run under an X server: ``xvfb-run -a -s "-screen 0 1400x900x24" python docs/make_auto_screenshots.py [satellite|ct]``.

- satellite: the Atlanta tile; a box drawn over its top-left 512 x 512 pixels (nine native 256 px windows), then
  Segment everything; SpaceNet's footprints outlined for comparison.
- ct: the CT sample on slice 12; Segment everything on the whole slice; TotalSegmentator's reference outlined.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import napari
import numpy as np
from make_screenshot import wait
from make_zoom_screenshot import open_tile_with_footprints

from gfm_napari.ui.app import open_sample_with_dock
from gfm_napari.evaluation.automatic import match_objects, truth_objects

OUT = Path(__file__).with_name("auto")
REGION = 512
AXIAL, SLICE = 2, 12


def run_auto(widget) -> None:
    widget.segment_everything()
    time.sleep(0.5)
    wait(widget, 1800)


def satellite() -> None:
    viewer, widget, reference = open_tile_with_footprints("gfm-napari: segment everything")
    corners = np.array([[0, 0], [0, REGION], [REGION, REGION], [REGION, 0]], float)
    widget.prompt_layers.boxes.add_rectangles([corners])
    wait(widget)
    run_auto(widget)
    found = np.asarray(widget.labels_layer.data)
    inside = np.zeros(reference.shape, bool)
    inside[:REGION, :REGION] = True
    truth = truth_objects(np.where(inside, reference, 0), 50, instances=False)
    counts = match_objects(truth, found)
    viewer.layers.selection.active = widget.labels_layer
    viewer.reset_view()
    wait(widget)
    viewer.window.screenshot(str(OUT / "satellite.png"), canvas_only=False)
    print(f"wrote {OUT / 'satellite.png'}: {counts['found']} objects found, {counts['matched']} of "
          f"{counts['truth']} footprints matched at IoU >= 0.5")
    viewer.close()


def ct() -> None:
    viewer = napari.Viewer(title="gfm-napari: segment everything")
    viewer.window.resize(1400, 900)
    widget = open_sample_with_dock(viewer)
    wait(widget)
    reference = next(layer for layer in viewer.layers if "reference" in layer.name)
    reference.contour = 1
    viewer.dims.set_current_step(AXIAL, SLICE)
    wait(widget)
    run_auto(widget)
    found = np.asarray(widget.labels_layer.data)[:, :, SLICE]
    counts = match_objects(truth_objects(reference.data[:, :, SLICE], 50, instances=False), found)
    viewer.layers.selection.active = widget.labels_layer
    viewer.reset_view()
    wait(widget)
    viewer.window.screenshot(str(OUT / "ct.png"), canvas_only=False)
    print(f"wrote {OUT / 'ct.png'}: {counts['found']} objects found, {counts['matched']} of {counts['truth']} "
          "reference organs matched at IoU >= 0.5")
    viewer.close()


def main() -> None:
    os.environ["GFM_NAPARI_RECOVERY_DIR"] = tempfile.mkdtemp()
    which = sys.argv[1:] or ["satellite", "ct"]
    for name in which:
        {"satellite": satellite, "ct": ct}[name]()


if __name__ == "__main__":
    main()
