"""Large rasters: windowed reads, a display pyramid, tiles with overlap, prompt routing and seamless stitching."""

import numpy as np
import pytest

from gfm_napari.engine.prompts import Prompts, box_from_mask
from gfm_napari.engine.tiles import TiledSegmenter, TileGrid, blend_weights, stitch
from gfm_napari.evaluation.prompted import dice
from gfm_napari.images import fit_normalization
from gfm_napari.images.intensity import fit_band_stretch
from gfm_napari.images.windowed import RasterFile, Window

ATLANTA = "sat_spacenet_atlanta_buildings"


@pytest.fixture(scope="module")
def atlanta(shared_data):
    return RasterFile.open(shared_data / ATLANTA / "sample_geotiff.tif")


def test_windows_read_exactly_the_scene_pixels(atlanta, satellite):
    np.testing.assert_array_equal(atlanta.read(Window(100, 250, 64, 32)), satellite.array[100:164, 250:282])
    window = atlanta.window_image(Window(100, 250, 64, 32))
    np.testing.assert_allclose(window.geometry.index_to_world(np.array([[0, 0]])),
                               satellite.geometry.index_to_world(np.array([[100, 250]])))


def test_the_pyramid_halves_each_level_and_reads_lazily(atlanta, satellite):
    levels = atlanta.pyramid(min_side=200)
    assert [level.shape for level in levels] == [(900, 900), (450, 450), (225, 225)]
    np.testing.assert_array_equal(levels[0][10:20, 5:9], satellite.array[10:20, 5:9])
    assert levels[1][0:4, 0:4].shape == (4, 4)


def test_tiles_cover_the_scene_with_overlap_and_end_flush():
    grid = TileGrid((900, 700), tile=256, overlap=32)
    assert grid.starts(900) == [0, 224, 448, 644] and grid.starts(700) == [0, 224, 444]
    covered = np.zeros((900, 700), int)
    for w in grid.windows():
        covered[w.slices] += 1
    assert covered.min() >= 1


def test_prompts_are_routed_to_a_tile_a_centred_window_or_split_tiles(atlanta, shared_predictor):
    segmenter = TiledSegmenter(shared_predictor, atlanta, fit_band_stretch(atlanta.overview(), (None,), nodata=0),
                               tile=256, overlap=32, max_window=400)
    assert segmenter.windows_for(Prompts(box=(20, 20, 60, 60))) == [Window(0, 0, 256, 256)]
    across = segmenter.windows_for(Prompts(box=(200, 200, 300, 280)))  # straddles the tile border at 224..256
    assert len(across) == 1 and across[0].rows == 256  # centred on the prompt
    assert across[0].col <= 200 and across[0].col + 256 >= 300
    assert len(segmenter.windows_for(Prompts(box=(10, 10, 800, 800)))) == 16  # too large: split over tiles


def test_stitching_blends_overlaps_without_a_seam():
    shape = (1, 100)
    left, right = Window(0, 0, 1, 60), Window(0, 40, 1, 60)
    region, logits = stitch([(left, np.full((1, 60), 4.0, np.float32)), (right, np.full((1, 60), -4.0, np.float32))],
                            shape, overlap=20)
    assert region == Window(0, 0, 1, 100)
    assert logits[0, 0] == 4.0 and logits[0, -1] == -4.0  # each tile alone outside the overlap
    steps = np.abs(np.diff(logits[0]))
    assert steps.max() < 8.0 / 10  # a ramp across the overlap, not a jump
    same, _ = stitch([(left, np.ones((1, 60), np.float32)), (right, np.ones((1, 60), np.float32))], shape, 20)
    assert same == region and np.all(_ == 1.0)
    assert blend_weights(left, shape, 20)[0, 0] == 1.0  # the scene border keeps full weight


def test_tiles_at_native_resolution_segment_buildings(atlanta, satellite, satellite_labels, shared_predictor):
    normalization = fit_normalization(satellite)
    segmenter = TiledSegmenter(shared_predictor, atlanta, normalization)
    scores = []
    for k in range(1, 9):
        truth = satellite_labels == k
        window, mask = segmenter.segment(Prompts(box=box_from_mask(truth)))
        full = np.zeros_like(truth)
        full[window.slices] = mask
        scores.append(dice(full, truth))
    assert np.mean(scores) >= 0.6  # the whole 900 px tile shrunk to 256 px gives ~0.52 on these buildings


def test_a_split_prompt_never_covers_nodata(shared_data, shared_predictor):
    scene = RasterFile.open(shared_data / "sat_landsat_rgb_rasterio" / "RGB.byte.tif")
    normalization = fit_band_stretch(scene.overview(), scene.band_descriptions, nodata=scene.geometry.nodata)
    segmenter = TiledSegmenter(shared_predictor, scene, normalization, tile=256, overlap=32, max_window=256)
    prompts = Prompts(box=(0, 0, 440, 300))
    assert len(segmenter.windows_for(prompts)) == 4
    window, mask = segmenter.segment(prompts)
    nodata = (scene.read(window) == 0).all(axis=-1)
    assert nodata.any() and not mask[nodata].any()
