"""``gfm-napari`` with no arguments: napari with the plugin's CT sample, shown axially as radiologists read it."""

from __future__ import annotations


def launch() -> int:
    import napari

    viewer = napari.Viewer(title="gfm-napari")
    viewer.open_sample("gfm-napari", "ct_abdomen")
    show_axial(viewer)
    napari.run()
    return 0


def show_axial(viewer) -> None:
    """Slice along world S (RAS axis 2); anterior up, patient's right on the screen's left."""
    if viewer.dims.ndim == 3:
        viewer.dims.order = (2, 1, 0)
        viewer.dims.set_current_step(2, viewer.dims.nsteps[2] // 2)
        viewer.camera.orientation2d = ("up", "left")
    viewer.reset_view()
