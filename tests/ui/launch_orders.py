"""Start gfm-napari in a fresh process in one of the two orders users do, answer one click, exit cleanly.

``python launch_orders.py app``: ``gfm-napari`` itself (:func:`gfm_napari.ui.app.launch`, napari's event loop ended
once a click was answered). ``python launch_orders.py viewer-first``: a plain napari viewer draws an image first
(the OpenGL driver is loaded), then the CT sample and Plugins ▸ gfm-napari ▸ Segment are opened in it.

``python launch_orders.py close-while-loading``: the dock is closed with the viewer while it still works (its model
loading, or the first slices encoding).

Prints ``libLLVM loaded: True|False`` (Mesa's llvmpipe, the driver under which importing triton late crashed) and
``click answered: Dice D``; exit code 0. Run under an X server (xvfb-run); used by tests/ui/test_launch.py.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

LIVER = 5  # in the sample's reference labels (resources/samples/ct_abdomen_labels.json)
TIMEOUT_S = 300


def wait_for(condition, what: str) -> None:
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.02)


def llvm_loaded() -> bool:
    return "libLLVM" in Path("/proc/self/maps").read_text()


def click_the_liver_and_close(viewer, widget) -> None:
    import numpy as np
    from scipy import ndimage

    wait_for(lambda: widget.session is not None and widget.idle, "the dock's model and session")
    print(f"libLLVM loaded: {llvm_loaded()}", flush=True)
    axis, index = widget.current_plane()
    assert axis == 2, f"the sample is shown axially (slice axis {axis})"
    liver = viewer.layers["CT abdomen reference labels"].data[:, :, index] == LIVER
    depth = ndimage.distance_transform_edt(liver)
    i, j = np.unravel_index(np.argmax(depth), depth.shape)
    widget.prompt_layers.clicks.add([float(i), float(j), float(index)])
    wait_for(lambda: widget.idle and widget.prompt_layers.preview.data[:, :, index].any(), "the click's mask")
    mask = widget.prompt_layers.preview.data[:, :, index].astype(bool)
    dice = 2 * (mask & liver).sum() / (mask.sum() + liver.sum())
    print(f"click answered: Dice {dice:.3f}", flush=True)
    viewer.close()


def gfm_napari_command() -> int:
    import napari

    from gfm_napari.ui import app

    def event_loop_until_clicked() -> None:  # in place of napari.run(): the same widgets, driven to one click
        viewer = napari.current_viewer()
        click_the_liver_and_close(viewer, viewer.window.dock_widgets["Segment (gfm-napari)"])

    napari.run = event_loop_until_clicked
    return app.launch()


def viewer_first() -> int:
    import napari
    import numpy as np
    from napari.qt.threading import WorkerBase
    from qtpy.QtWidgets import QApplication

    from gfm_napari.ui.app import show_axial

    viewer = napari.Viewer()
    viewer.add_image(np.random.default_rng(0).random((64, 64)), name="opened first")
    viewer.window._qt_window.show()
    for _ in range(20):  # draw a frame: the OpenGL driver is loaded now
        QApplication.processEvents()
        time.sleep(0.05)
    print(f"libLLVM loaded before the plugin: {llvm_loaded()}", flush=True)
    viewer.open_sample("gfm-napari", "ct_abdomen")
    _, widget = viewer.window.add_plugin_dock_widget("gfm-napari", "Segment")
    widget.image_combo.setCurrentIndex(widget.image_combo.findText("CT abdomen"))
    show_axial(viewer)
    ct = viewer.layers["CT abdomen"]
    viewer.dims.set_point(2, ct.data_to_world((0, 0, ct.data.shape[2] // 2))[2])  # the dims span both images
    click_the_liver_and_close(viewer, widget)
    WorkerBase.await_workers(10_000)
    return 0


def close_while_loading() -> int:
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer()
    viewer.open_sample("gfm-napari", "ct_abdomen")
    _, widget = viewer.window.add_plugin_dock_widget("gfm-napari", "Segment")
    for _ in range(25):  # the window is on screen, as it is for anyone who can close it
        QApplication.processEvents()
        time.sleep(0.02)
    print(f"closing while the dock works: {not widget.idle}", flush=True)  # loading the model or encoding
    viewer.close()
    return 0


if __name__ == "__main__":
    orders = {"app": gfm_napari_command, "viewer-first": viewer_first, "close-while-loading": close_while_loading}
    sys.exit(orders[sys.argv[1]]())
