"""A raster larger than memory in the interactive session: opened lazily, prompted by tiles, labels painted only
where the object is."""

import numpy as np
import pytest

from gfm_napari.engine.prompts import Prompts, box_from_mask
from gfm_napari.engine.session import SegmentationSession
from gfm_napari.engine.tiles import TiledSegmenter
from gfm_napari.evaluation.prompted import dice
from gfm_napari.images import fit_normalization, read_image, write_mask
from gfm_napari.images.intensity import fit_band_stretch
from gfm_napari.images.windowed import DisplayLevel, RasterFile, raster_of


@pytest.fixture(scope="module")
def atlanta_lazy(shared_data):
    return RasterFile.open(shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif").image()


def test_a_lazy_raster_image_reads_pixels_only_when_indexed(atlanta_lazy, satellite):
    assert atlanta_lazy.is_lazy and not satellite.is_lazy
    assert atlanta_lazy.spatial_shape == satellite.spatial_shape == (900, 900)
    assert atlanta_lazy.geometry.to_dict() == satellite.geometry.to_dict()
    np.testing.assert_array_equal(atlanta_lazy.array[300:340, 10:90], satellite.array[300:340, 10:90])
    assert raster_of(atlanta_lazy).path.name == "sample_geotiff.tif" and raster_of(satellite) is None


def test_a_lazy_raster_fits_its_stretch_on_the_decimated_overview(atlanta_lazy):
    raster = raster_of(atlanta_lazy)
    expected = fit_band_stretch(raster.overview(), (None,), nodata=raster.geometry.nodata)
    assert fit_normalization(atlanta_lazy).describe() == expected.describe()


def test_the_session_segments_a_lazy_raster_by_tiles(atlanta_lazy, satellite_labels, shared_predictor):
    normalization = fit_normalization(atlanta_lazy)
    session = SegmentationSession(shared_predictor, atlanta_lazy, normalization)
    assert not session.feedback_logits and not session.needs_embedding(None, None)
    truth = satellite_labels == 3
    box = box_from_mask(truth)
    session.set_box(None, None, box)
    preview = session.preview(None, None)
    window, expected = TiledSegmenter(shared_predictor, raster_of(atlanta_lazy), normalization).segment(
        Prompts(box=box))
    assert preview.shape == (900, 900) and preview[window.slices].sum() == preview.sum()
    np.testing.assert_array_equal(preview[window.slices], expected)
    assert dice(preview, truth) >= 0.6  # measured 0.65 on this building


def test_accepting_a_tiled_object_writes_labels_only_around_it(atlanta_lazy, satellite_labels, shared_predictor):
    session = SegmentationSession(shared_predictor, atlanta_lazy, fit_normalization(atlanta_lazy))
    truth = satellite_labels == 5
    session.set_box(None, None, box_from_mask(truth))
    mask = session.preview(None, None)
    session.accept()
    np.testing.assert_array_equal(session.labels == 1, mask)
    rows, cols = np.nonzero(mask)
    patch = session._history._undo[-1].patches[0]  # the undo step holds the mask's bounding box, not the whole scene
    assert patch.values.shape == (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    session.undo()
    assert not session.labels.any()


def test_labels_of_a_lazy_raster_export_on_its_grid_without_reading_it(atlanta_lazy, satellite_labels, tmp_path):
    labels = np.where(satellite_labels == 7, 1, 0).astype(np.uint16)
    path = write_mask(tmp_path / "building.tif", labels, atlanta_lazy)
    back = read_image(path)
    np.testing.assert_array_equal(back.array, labels)
    assert back.geometry.to_dict() == {**atlanta_lazy.geometry.to_dict(), "nodata": None}


def test_a_display_level_stretches_each_window_as_the_model_sees_it(shared_data):
    path = shared_data / "sat_landsat_rgb_rasterio" / "RGB.byte.tif"
    lazy, whole = RasterFile.open(path).image(), read_image(path)
    normalization = fit_normalization(whole)
    shown = DisplayLevel(raster_of(lazy).pyramid()[0], normalization)
    expected = np.round(normalization.apply(whole.array[100:200, 50:150]) * 255).astype(np.uint8)
    np.testing.assert_array_equal(shown[100:200, 50:150], expected)
    assert shown.shape == (718, 791, 3) and shown[5, 7].shape == (3,)


def test_next_mask_on_a_lazy_raster_gives_the_tiles_next_mask(atlanta_lazy, satellite_labels, litemedsam_clicks):
    from gfm_napari.engine.predictor import Predictor
    from gfm_napari.engine.prompts import interior_point

    predictor = Predictor(litemedsam_clicks)
    normalization = fit_normalization(atlanta_lazy)
    session = SegmentationSession(predictor, atlanta_lazy, normalization)
    truth = satellite_labels == 2
    x, y = interior_point(truth)
    session.add_point(None, None, x, y)
    first = session.preview(None, None)
    assert session.next_mask(None, None) == 1
    second = session.preview(None, None)
    window, expected = TiledSegmenter(predictor, raster_of(atlanta_lazy), normalization).segment(
        Prompts([[x, y]], [1], candidate=1))
    assert np.array_equal(second[window.slices], expected) and second.sum() == expected.sum() > 0
    assert not np.array_equal(first, second)
