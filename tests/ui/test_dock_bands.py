"""A raster with more than 3 bands: the dock offers the band choice, the model and the layer follow it.

No real raster with more than 3 bands is in shared/data: the 4-band file stacks the real Landsat RGB.byte scene's
3 bands with a COPY of its red band described as "nir" (a stand-in, as in tests/images/test_bands.py).
"""

import numpy as np
import pytest
import rasterio
from ui_helpers import WAIT_MS, wait_idle

pytestmark = pytest.mark.gui


@pytest.fixture
def four_band_path(shared_data, tmp_path):
    path = tmp_path / "rgbn.tif"
    with rasterio.open(shared_data / "sat_landsat_rgb_rasterio" / "RGB.byte.tif") as src:
        profile = {**src.profile, "count": 4}
        bands = src.read()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.concatenate([bands, bands[:1]]))
        dst.descriptions = ("red", "green", "blue", "nir (copy of red)")
    return path


@pytest.fixture
def viewer_and_widget(make_napari_viewer, make_widget, four_band_path, qtbot):
    viewer = make_napari_viewer()
    viewer.open(str(four_band_path), plugin="gfm-napari")
    widget = make_widget(viewer)
    wait_idle(qtbot, widget)
    return viewer, widget


def test_a_four_band_raster_shows_true_colour_and_offers_the_band_choice(viewer_and_widget):
    viewer, widget = viewer_and_widget
    layer = widget.image_layer
    assert layer.rgb and layer.data.shape == (718, 791, 3)
    assert widget.bands.isVisibleTo(widget) and widget.bands.currentText() == "true-colour"
    assert widget.session.normalization.bands.indices == (0, 1, 2)


def test_false_colour_feeds_the_model_nir_red_green_and_the_layer_shows_it(viewer_and_widget, qtbot):
    _, widget = viewer_and_widget
    shown = widget.image_layer.data.copy()
    widget.bands.setEditText("false-colour")
    widget.bands.lineEdit().editingFinished.emit()
    qtbot.waitUntil(lambda: widget.session.normalization.bands.indices == (3, 0, 1), timeout=WAIT_MS)
    wait_idle(qtbot, widget)
    data = widget.image_layer.data
    assert np.array_equal(data[..., 0], shown[..., 0])  # NIR is a copy of red here
    assert np.array_equal(data[..., 1], shown[..., 0]) and np.array_equal(data[..., 2], shown[..., 1])


def test_a_band_that_does_not_exist_is_a_notification_and_changes_nothing(viewer_and_widget, qtbot, monkeypatch):
    _, widget = viewer_and_widget
    errors = []
    monkeypatch.setattr("gfm_napari.ui.segment_widget.show_error", errors.append)
    widget.bands.setEditText("5,3,2")
    widget.bands.lineEdit().editingFinished.emit()
    assert errors and "the raster has 4 bands" in errors[0]
    assert widget.session.normalization.bands.indices == (0, 1, 2)


def test_a_three_band_raster_has_no_band_choice(make_napari_viewer, make_widget, shared_data, qtbot):
    viewer = make_napari_viewer()
    viewer.open(str(shared_data / "sat_landsat_rgb_rasterio" / "RGB.byte.tif"), plugin="gfm-napari")
    widget = make_widget(viewer)
    assert not widget.bands.isVisibleTo(widget)


def test_a_raster_has_no_ct_window_and_a_ct_has_one(make_napari_viewer, make_widget, shared_data, open_ct, qtbot):
    viewer = make_napari_viewer()
    viewer.open(str(shared_data / "sat_landsat_rgb_rasterio" / "RGB.byte.tif"), plugin="gfm-napari")
    raster = make_widget(viewer)
    wait_idle(qtbot, raster)
    assert not raster.window_level.isVisibleTo(raster) and not raster.window_width.isVisibleTo(raster)
    ct = make_widget(open_ct())
    wait_idle(qtbot, ct)
    assert ct.window_level.isVisibleTo(ct) and ct.window_width.isVisibleTo(ct)
