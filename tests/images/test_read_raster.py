"""GeoTIFF / TIFF / PNG / JPEG reading: axis order (row, col[, band]), CRS, transform, nodata, photos."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage
from rasterio.crs import CRS

from gfm_napari.errors import ImageReadError
from gfm_napari.images import plain, read_image


@pytest.mark.parametrize(
    ("name", "shape", "dtype", "epsg", "transform", "nodata"),
    [
        ("atlanta", (900, 900), np.uint16, 32616, (0.5, 0.0, 733601.0, 0.0, -0.5, 3725139.0), 0.0),
        ("atlanta_labels", (900, 900), np.uint8, 32616, (0.5, 0.0, 733601.0, 0.0, -0.5, 3725139.0), None),
        (
            "vegas",
            (1300, 1300),
            np.uint16,
            4326,
            (2.7000000000043656e-06, 0.0, -115.2338076, 0.0, -2.7000000000043656e-06, 36.1423376998),
            None,
        ),
        (
            "vegas_labels",
            (1300, 1300),
            np.uint8,
            4326,
            (2.7000000000043656e-06, 0.0, -115.2338076, 0.0, -2.7000000000043656e-06, 36.1423376998),
            None,
        ),
        (
            "rgb_byte",
            (718, 791, 3),
            np.uint8,
            32618,
            (300.0379266750948, 0.0, 101985.0, 0.0, -300.041782729805, 2826915.0),
            0.0,
        ),
    ],
)
def test_geotiff_reads_with_manifest_shape_crs_transform(sample, name, shape, dtype, epsg, transform, nodata):
    image = read_image(sample(name))
    assert image.array.shape == shape
    assert image.array.dtype == dtype
    assert image.modality == "raster"
    assert CRS.from_wkt(image.geometry.crs).to_epsg() == epsg
    assert image.geometry.transform == transform
    assert image.geometry.nodata == nodata
    assert image.geometry.area_or_point == "Area"
    assert image.geometry.affine is None and image.geometry.orientation is None


def test_single_band_is_row_col_and_spacing_is_row_then_col_step(sample):
    image = read_image(sample("rgb_byte"))
    assert image.geometry.spacing == (300.041782729805, 300.0379266750948)
    single = read_image(sample("atlanta"))
    assert single.axis_names == ("row", "col") and single.channel_axis is None


def test_multi_band_has_band_axis_last(sample):
    image = read_image(sample("rgb_byte"))
    assert image.channel_axis == 2 and image.n_channels == 3
    assert image.axis_names == ("row", "col", "band")
    assert image.spatial_shape == (718, 791)


def test_values_and_instances_match_the_manifest(sample):
    pan = read_image(sample("atlanta")).array
    assert (int(pan.min()), int(pan.max())) == (54, 6615)
    labels = read_image(sample("atlanta_labels")).array
    assert int(labels.max()) == 43 and int((labels > 0).sum()) == 33818


def test_pixel_corner_maps_through_the_transform(sample):
    geometry = read_image(sample("atlanta")).geometry
    np.testing.assert_array_equal(geometry.index_to_world([[0, 0], [10, 20]]), [[733601.0, 3725139.0], [733611.0, 3725134.0]])


def test_tiff_without_crs_is_a_photo_without_warnings(tmp_path):
    path = tmp_path / "plain.tif"
    data = np.arange(30, dtype=np.uint16).reshape(5, 6)
    tifffile.imwrite(path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(path)
    assert image.modality == "photo"
    assert image.geometry.crs is None and image.geometry.transform is None
    assert image.geometry.spacing == (1.0, 1.0)
    np.testing.assert_array_equal(image.array, data)


def test_nan_in_a_float_raster_without_nan_nodata_is_refused(tmp_path):
    path = tmp_path / "nan.tif"
    data = np.ones((4, 4), np.float32)
    data[0, 0] = np.nan
    tifffile.imwrite(path, data)
    with pytest.raises(ImageReadError, match="NaN"):
        read_image(path)


def test_png_with_alpha_gives_rgb(sample):
    image = read_image(sample("quicklook"))
    assert image.array.shape == (500, 1000, 3) and image.array.dtype == np.uint8
    assert image.modality == "photo" and image.channel_axis == 2
    assert image.axis_names == ("row", "col", "channel")


def test_jpeg_reads_as_rgb(sample, tmp_path):
    rgb = read_image(sample("rgb_byte")).array
    path = tmp_path / "scene.jpg"
    PILImage.fromarray(np.ascontiguousarray(rgb)).save(path, quality=95)
    image = read_image(path)
    assert image.array.shape == (718, 791, 3) and image.array.dtype == np.uint8
    assert image.metadata.format == "jpeg"


def test_16_bit_grey_png_stays_uint16(sample, tmp_path):
    pan = np.asarray(read_image(sample("atlanta")).array)
    path = tmp_path / "pan.png"
    PILImage.fromarray(pan).save(path)
    image = read_image(path)
    assert image.array.dtype == np.uint16
    np.testing.assert_array_equal(image.array, pan)


def test_grey_with_alpha_png_drops_alpha(tmp_path):
    path = tmp_path / "la.png"
    PILImage.fromarray(np.dstack([np.full((3, 4), 7, np.uint8), np.full((3, 4), 255, np.uint8)]), "LA").save(path)
    image = read_image(path)
    assert image.array.shape == (3, 4)
    assert int(image.array[0, 0]) == 7


def test_plain_reader_reads_tiff_with_tifffile(tmp_path):
    path = tmp_path / "rgb.tiff"
    data = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    tifffile.imwrite(path, data, photometric="rgb")
    np.testing.assert_array_equal(plain.read(path).array, data)


def test_truncated_png_is_refused(sample, tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(sample("quicklook").read_bytes()[:2000])
    with pytest.raises(ImageReadError, match="cannot read 'cut.png'"):
        read_image(path)
