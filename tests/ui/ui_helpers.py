"""Helpers for the GUI tests: drive the Segment dock the way a user would."""

from __future__ import annotations

import numpy as np

from gfm_napari.engine.prompts import box_from_mask, interior_point
from gfm_napari.images import Plane

AXIAL = 2
WAIT_MS = 120_000  # encoding is ~2 s per slice on a busy 2-core CPU


def atlanta_dock(make_napari_viewer, make_widget, shared_data, predictor, qtbot):
    """(viewer, Segment dock) on the whole 900 px Atlanta tile opened by the plugin, settled."""
    viewer = make_napari_viewer()
    viewer.open(str(shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif"), plugin="gfm-napari")
    widget = make_widget(viewer, predictor)
    wait_idle(qtbot, widget)
    return viewer, widget


def click_building(widget, qtbot, truth: np.ndarray) -> None:
    """Click the most interior pixel of a building (``truth`` on the tile), and wait for its preview."""
    x, y = interior_point(truth)
    widget.prompt_layers.clicks.add([y, x])  # data coordinates: (row, column)
    wait_idle(qtbot, widget)


def wait_idle(qtbot, widget) -> None:
    qtbot.waitUntil(lambda: widget.idle, timeout=WAIT_MS)


def draw_box(viewer, widget, truth: np.ndarray, axis: int, index: int) -> None:
    """Go to plane (axis, index) and draw the tight box of ``truth`` there in the boxes layer, as a user would."""
    viewer.dims.set_current_step(axis, index)
    x0, y0, x1, y1 = box_from_mask(np.take(truth, index, axis))
    corners = [Plane(axis, index).from_plane(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
    widget.prompt_layers.boxes.add_rectangles([np.array(corners)])


def press(viewer, key: str) -> None:
    handler = viewer.window._qt_viewer._key_map_handler
    handler.press_key(key)
    handler.release_key(key)


def largest_slice(truth: np.ndarray, axis: int = AXIAL) -> int:
    return int(np.argmax(truth.sum(axis=Plane(axis).in_plane_axes)))
