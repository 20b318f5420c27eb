"""A raster larger than LARGE_RASTER_PIXELS in the viewer: a multiscale pyramid read window by window, and the dock
segments it by tiles.

The scene is the real SpaceNet Atlanta tile repeated to 2048 x 2048 px with its own CRS and pixel size (a stand-in
for a large scene), and the size limit is lowered to 1 Mpx so that the test stays small."""

import numpy as np
import pytest
import rasterio
from ui_helpers import wait_idle

from gfm_napari.engine.prompts import box_from_mask
from gfm_napari.evaluation.prompted import dice

pytestmark = pytest.mark.gui

SIZE = 2048


@pytest.fixture
def huge_path(shared_data, tmp_path, monkeypatch):
    monkeypatch.setattr("gfm_napari.images.windowed.LARGE_RASTER_PIXELS", 1024 * 1024)
    path = tmp_path / "atlanta_2048.tif"
    with rasterio.open(shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif") as src:
        scene = src.read(1)
        profile = {**src.profile, "height": SIZE, "width": SIZE, "tiled": True, "blockxsize": 256,
                   "blockysize": 256, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.tile(scene, (3, 3))[:SIZE, :SIZE], 1)
    return path


def test_a_huge_raster_opens_as_a_pyramid_and_is_segmented_by_tiles(
    make_napari_viewer, make_widget, huge_path, satellite_labels, qtbot
):
    viewer = make_napari_viewer()
    viewer.open(str(huge_path), plugin="gfm-napari")
    layer = viewer.layers[0]
    assert layer.multiscale and [level.shape for level in layer.data] == [(2048, 2048), (1024, 1024), (512, 512)]
    widget = make_widget(viewer)
    assert widget.session.image.is_lazy and widget.labels_layer.data.shape == (SIZE, SIZE)

    truth = np.zeros((SIZE, SIZE), bool)
    truth[900:1800, 900:1800] = satellite_labels == 3  # the building in the middle copy of the tile
    x0, y0, x1, y1 = box_from_mask(truth)
    widget.prompt_layers.boxes.add_rectangles([np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]])])
    wait_idle(qtbot, widget)
    widget.accept()
    wait_idle(qtbot, widget)
    assert dice(widget.labels_layer.data == 1, truth) >= 0.45  # 0.52 with the box-only base model, as in the core
