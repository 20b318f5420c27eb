"""``gfm-napari`` with no arguments: the CT sample, axial, with the Segment dock ready; the model it starts with."""

import pytest

from gfm_napari.errors import ModelError
from gfm_napari.models.registry import DEFAULT_MODEL, FALLBACK_MODEL
from gfm_napari.ui import models


def test_the_default_model_is_the_click_trained_one_when_it_loads(monkeypatch, litemedsam):
    loaded = []

    def fake_load(name, **_):
        loaded.append(name)
        if name == DEFAULT_MODEL:
            raise ModelError("the click-trained decoder is missing")
        return litemedsam

    monkeypatch.setattr(models, "load_model", fake_load)
    assert models.load_default().model is litemedsam and loaded == [DEFAULT_MODEL, FALLBACK_MODEL]
    monkeypatch.setattr(models, "load_model", lambda name, **_: loaded.append(name) or litemedsam)
    models.load_default()
    assert loaded[-1] == DEFAULT_MODEL


@pytest.mark.gui
def test_launch_shows_the_ct_sample_axially_with_the_segment_dock(make_napari_viewer, shared_predictor, monkeypatch,
                                                                   tmp_path, qtbot):
    from gfm_napari.ui.app import open_sample_with_dock

    monkeypatch.setattr(models, "load_default", lambda: shared_predictor)
    monkeypatch.setenv("GFM_NAPARI_RECOVERY_DIR", str(tmp_path))
    viewer = make_napari_viewer()
    widget = open_sample_with_dock(viewer)
    qtbot.waitUntil(lambda: widget.session is not None, timeout=120_000)
    assert any("Segment" in name for name in viewer.window.dock_widgets)
    assert widget.session.image is viewer.layers["CT abdomen"].metadata["gfm_image"]
    assert not viewer.layers["CT abdomen reference labels"].visible
    assert viewer.dims.order[0] == 2 and viewer.dims.current_step[2] == 15
    qtbot.waitUntil(lambda: widget.idle, timeout=120_000)
