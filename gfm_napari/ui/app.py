"""``gfm-napari`` with no arguments: napari with the plugin's CT sample, shown axially as radiologists read it,
and the Segment dock.

It lives in ``ui/`` so that importing it runs ``ui/__init__`` (which keeps triton out of the viewer's process)
before napari and torch are imported."""

from __future__ import annotations

import contextlib
import sys

READY = "gfm-napari: ready"  # the line on stderr once the dock can answer clicks (the launch smoke test waits for it)


def launch() -> int:
    import napari
    from napari.qt.threading import WorkerBase

    viewer = napari.Viewer(title="gfm-napari")
    widget = open_sample_with_dock(viewer)
    announce_when_ready(widget)
    napari.run()
    with contextlib.suppress(RuntimeError):  # a worker still running after 10 s is left to the exiting process
        WorkerBase.await_workers(10_000)  # let a slice being encoded finish before the interpreter goes away
    return 0


def open_sample_with_dock(viewer):
    """The CT sample in an axial view, with the Segment dock docked on the right; returns the dock's widget."""
    viewer.open_sample("gfm-napari", "ct_abdomen")
    _, widget = viewer.window.add_plugin_dock_widget("gfm-napari", "Segment")
    show_axial(viewer)
    return widget


def announce_when_ready(widget) -> None:
    """Print :data:`READY` once on stderr when the dock has its model and a session on the sample."""

    def check(status: str) -> None:
        if widget.session is not None and not status:
            widget.queue.status.disconnect(check)
            model = widget.session.predictor.model
            encoder = "8-bit encoder and decoder" if model.precision == "int8" else "float"
            print(f"{READY}: {widget.image_layer.name} in the Segment dock ({model.spec.title}, {encoder})",
                  file=sys.stderr, flush=True)

    widget.queue.status.connect(check)


def show_axial(viewer) -> None:
    """Slice along world S (RAS axis 2); anterior up, patient's right on the screen's left."""
    if viewer.dims.ndim == 3:
        viewer.dims.order = (2, 1, 0)
        viewer.dims.set_current_step(2, viewer.dims.nsteps[2] // 2)
        viewer.scene.camera.orientation2d = ("up", "left")
    viewer.reset_view()
