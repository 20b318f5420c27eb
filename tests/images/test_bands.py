"""Multi-band rasters: which 3 bands feed the model (presets, custom), per-band stretch, nodata kept out.

No real raster with more than 3 bands is in shared/data, so ``four_band`` stacks the real Landsat RGB.byte scene's
3 bands with a 4th band that is a COPY of its red band described as "nir" (a test stand-in, not a real NIR band).
"""

import numpy as np
import pytest
import rasterio

from gfm_napari.errors import PromptError
from gfm_napari.images import fit_normalization, read_image
from gfm_napari.images.bands import BandSelection, default_bands, parse_bands, preset

DESCRIPTIONS = ("red", "green", "blue", "nir (copy of red, test stand-in)")


@pytest.fixture(scope="module")
def four_band(sample, tmp_path_factory):
    path = tmp_path_factory.mktemp("bands") / "rgbn.tif"
    with rasterio.open(sample("rgb_byte")) as src:
        profile = {**src.profile, "count": 4}
        bands = src.read()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.concatenate([bands, bands[:1]]))
        dst.descriptions = DESCRIPTIONS
    return read_image(path)


def test_presets_pick_bands_by_their_descriptions():
    assert preset("true-colour", DESCRIPTIONS) == BandSelection((0, 1, 2), "true-colour")
    assert preset("false-colour", DESCRIPTIONS) == BandSelection((3, 0, 1), "false-colour")
    assert parse_bands("false-color", DESCRIPTIONS).indices == (3, 0, 1)


def test_custom_bands_are_one_based_like_gdal_and_checked():
    assert parse_bands("4,3,2", DESCRIPTIONS) == BandSelection((3, 2, 1))
    with pytest.raises(PromptError, match="the raster has 4 bands"):
        parse_bands("5,3,2", DESCRIPTIONS)
    with pytest.raises(PromptError, match="exactly 3 bands"):
        parse_bands("4,3", DESCRIPTIONS)


def test_unnamed_bands_need_explicit_numbers():
    with pytest.raises(PromptError, match="give the bands explicitly, e.g. --bands 4,3,2"):
        preset("false-colour", (None,) * 6)
    assert default_bands((None,) * 6) == BandSelection((0, 1, 2), "first three")
    assert default_bands((None,) * 3) is None


def test_the_band_choice_is_part_of_the_cache_description(four_band):
    true = fit_normalization(four_band)
    false = fit_normalization(four_band, bands=preset("false-colour", four_band.metadata.band_descriptions))
    assert true.bands.indices == (0, 1, 2) and "bands=true-colour:1,2,3" in true.describe()
    assert "bands=false-colour:4,1,2" in false.describe()
    plane = false.apply(four_band.array)
    assert plane.shape == four_band.array.shape[:2] + (3,)
    # false colour puts the "nir" band (a copy of red) first: channel 0 equals the true-colour red channel
    np.testing.assert_array_equal(plane[..., 0], true.apply(four_band.array)[..., 0])


def test_nodata_is_left_out_of_the_stretch_and_of_masks(four_band):
    normalization = fit_normalization(four_band)
    valid = normalization.valid(four_band.array)
    collar = (four_band.array == 0).all(axis=-1)
    np.testing.assert_array_equal(valid, ~collar)
    assert collar.mean() > 0.2  # the scene's nodata collar is large
    red = four_band.array[..., 0][~collar]
    assert normalization.low[0] == float(np.percentile(red, 2))
    assert np.all(normalization.apply(four_band.array)[collar] == 0)


def test_a_prediction_never_covers_nodata(four_band, shared_predictor):
    rows, cols = four_band.spatial_shape
    embedding = shared_predictor.embed(four_band, normalization=fit_normalization(four_band))
    prediction = shared_predictor.predict(embedding, box=(0, 0, cols - 1, rows - 1))  # the whole scene
    assert prediction.mask.any()
    assert not prediction.mask[(four_band.array == 0).all(axis=-1)].any()


def test_sentinel_2_band_names_give_true_and_false_colour(shared_data):
    from gfm_napari.images import read_image

    # Sen1Floods11's chip names its 13 bands B1 ... B12 with B8A: true colour is B4, B3, B2; false colour B8, B4, B3
    chip = read_image(shared_data / "sat_sen1floods11_water_manual" / "Spain_7370579_S2Hand.tif")
    descriptions = chip.metadata.band_descriptions
    assert default_bands(descriptions) == BandSelection((3, 2, 1), "true-colour")
    assert parse_bands("false-colour", descriptions) == BandSelection((7, 3, 2), "false-colour")
    assert "bands=true-colour:4,3,2" in fit_normalization(chip).describe()


def test_landsat_style_band_names_without_b8a_are_not_read_as_sentinel_2():
    landsat8 = tuple(f"B{i}" for i in range(1, 12))  # Landsat 8's NIR is B5, not B8
    assert default_bands(landsat8) == BandSelection((0, 1, 2), "first three")
