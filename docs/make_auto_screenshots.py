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

from gfm_napari.app import open_sample_with_dock
from gfm_napari.evaluation.automatic import match_objects, truth_objects
from gfm_napari.images import read_image
from gfm_napari.ui.layers import labels_layer_data

OUT = Path(__file__).with_name("auto")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sat_spacenet_atlanta_buildings"
REGION = 512
AXIAL, SLICE = 2, 12


def run_auto(widget) -> None:
    widget.segment_everything()
    time.sleep(0.5)
    wait(widget, 1800)


def satellite() -> None:
    image = read_image(DATA / "sample_geotiff.tif")
    reference = read_image(DATA / "buildings_instances_derived.tif").array
    viewer = napari.Viewer(title="gfm-napari: segment everything")
    viewer.window.resize(1400, 900)
    viewer.open(str(DATA / "sample_geotiff.tif"), plugin="gfm-napari")
    image_layer = viewer.layers[-1]
    data, kwargs, _ = labels_layer_data(reference.astype(np.uint16), image, "SpaceNet footprints")
    outline = viewer.add_labels(data, opacity=0.9, **kwargs)
    outline.contour = 1
    viewer.layers.selection.active = image_layer
    _, widget = viewer.window.add_plugin_dock_widget("gfm-napari", "Segment")
    wait(widget)
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
