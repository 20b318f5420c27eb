"""A viewer with the real CT opened through the plugin's reader, and a Segment dock driving the shared model."""

from __future__ import annotations

import pytest
from ui_helpers import WAIT_MS


@pytest.fixture
def ct_path(shared_data):
    return str(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz")


@pytest.fixture
def open_ct(make_napari_viewer, ct_path):
    """Factory: a new viewer showing the CT (read by gfm-napari's reader) axially."""
    from gfm_napari.ui.app import show_axial

    def factory():
        viewer = make_napari_viewer()
        viewer.open(ct_path, plugin="gfm-napari")
        show_axial(viewer)
        return viewer

    return factory


@pytest.fixture
def make_widget(qtbot, tmp_path, shared_predictor):
    """Factory: a docked Segment widget on ``viewer`` whose session is ready; waits for its workers at the end."""
    from gfm_napari.ui.segment_widget import SegmentWidget

    widgets = []

    def factory(viewer, predictor=None, **options):
        chosen = predictor or shared_predictor
        options.setdefault("recovery_folder", tmp_path / "recovery")
        widget = SegmentWidget(viewer, load_default=lambda: chosen, **options)
        viewer.window.add_dock_widget(widget, name="Segment")
        qtbot.waitUntil(lambda: widget.session is not None, timeout=WAIT_MS)
        widgets.append(widget)
        return widget

    yield factory
    for widget in widgets:
        widget.queue.cancel_job()
        qtbot.waitUntil(lambda widget=widget: widget.idle, timeout=WAIT_MS)
