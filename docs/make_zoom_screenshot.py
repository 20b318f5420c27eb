"""Make docs/clicks/zoom.png: one click per building on the whole 900 px Atlanta tile, each answered in a native
256 px working window (engine/zoom.py), with the SpaceNet footprints outlined.

Run under an X server: ``xvfb-run -a -s "-screen 0 1400x900x24" python docs/make_zoom_screenshot.py [--views 4]``. It
drives the Segment dock as a user would: a click somewhere in each building's inner half (not its most interior pixel;
seeded), Accept and New object after each; the last building is left as a live preview with its click visible. With
``--views N`` the dock's Views list is set to N first, and the picture is ``zoom_views<N>.png``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import napari
import numpy as np
from make_screenshot import wait

from gfm_napari.engine.propagate import dice
from gfm_napari.evaluation.clicker import first_click, object_rng
from gfm_napari.images import read_image
from gfm_napari.ui.layers import labels_layer_data

OUT = Path(__file__).with_name("clicks") / "zoom.png"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sat_spacenet_atlanta_buildings"
BUILDINGS = range(1, 13)


def open_tile_with_footprints(title: str) -> tuple[napari.Viewer, object, np.ndarray]:
    """(viewer, Segment dock, footprint ids): the Atlanta tile opened by the plugin, SpaceNet's footprints outlined."""
    image = read_image(DATA / "sample_geotiff.tif")
    reference = read_image(DATA / "buildings_instances_derived.tif").array
    viewer = napari.Viewer(title=title)
    viewer.window.resize(1400, 900)
    viewer.open(str(DATA / "sample_geotiff.tif"), plugin="gfm-napari")
    image_layer = viewer.layers[-1]
    data, kwargs, _ = labels_layer_data(reference.astype(np.uint16), image, "SpaceNet footprints")
    viewer.add_labels(data, opacity=0.9, **kwargs).contour = 1
    viewer.layers.selection.active = image_layer
    _, widget = viewer.window.add_plugin_dock_widget("gfm-napari", "Segment")
    wait(widget)
    return viewer, widget, reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, choices=[1, 4, 8], default=1)
    views = parser.parse_args().views
    out = OUT if views == 1 else OUT.with_name(f"zoom_views{views}.png")
    os.environ["GFM_NAPARI_RECOVERY_DIR"] = tempfile.mkdtemp()
    viewer, widget, reference = open_tile_with_footprints("gfm-napari: one click per building")
    widget.views_combo.activated.emit(widget.views_combo.findData(views))
    wait(widget)
    widget.click_tool.click()
    scores = []
    for n, label in enumerate(BUILDINGS):
        x, y, _ = first_click(reference == label, "random", object_rng(0, label, 0))
        widget.prompt_layers.clicks.add([y, x])
        wait(widget)
        scores.append(dice(np.asarray(widget.prompt_layers.preview.data) > 0, reference == label))
        if n < len(BUILDINGS) - 1:
            widget.new_object()
            wait(widget)
    viewer.layers.selection.active = widget.prompt_layers.clicks
    viewer.reset_view()
    wait(widget)
    viewer.window.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}: {views} view(s), {len(scores)} buildings, one random inner-half click each, "
          f"mean Dice {np.mean(scores):.3f}")
    viewer.close()


if __name__ == "__main__":
    main()
