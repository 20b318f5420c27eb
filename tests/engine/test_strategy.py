"""Whole planes or tiles, chosen once per image: what each strategy does without running the model."""

from __future__ import annotations

import pytest

from gfm_napari.engine.strategy import RasterTiles, WholePlanes, strategy_for
from gfm_napari.errors import PromptError
from gfm_napari.images.windowed import RasterFile, Window


@pytest.fixture(scope="module")
def atlanta_lazy(shared_data):
    return RasterFile.open(shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif").image()


def test_an_image_in_memory_is_segmented_by_whole_planes_with_logits_fed_back(satellite):
    strategy = strategy_for(satellite)
    assert isinstance(strategy, WholePlanes) and strategy.feeds_back
    strategy.check_auto_region(None)  # a whole plane can be segmented everywhere


def test_a_raster_read_by_windows_is_segmented_by_tiles_encoded_when_prompted(atlanta_lazy):
    strategy = strategy_for(atlanta_lazy)
    assert isinstance(strategy, RasterTiles) and not strategy.feeds_back
    assert strategy.raster.path.name == "sample_geotiff.tif"
    assert strategy.needs_embedding(None, (None, None), None) is False  # nothing to encode ahead
    assert strategy.needs_encoding(None, (None, None), None, None, None) is False
    with pytest.raises(PromptError, match="needs an image held in memory"):
        strategy.plane(None, (None, None), None)
    with pytest.raises(PromptError, match="draw a box"):
        strategy.check_auto_region(None)
    strategy.check_auto_region(Window(0, 0, 64, 64))
