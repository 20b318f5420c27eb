"""Masks as polygons: GeoJSON (RFC 7946, WGS84 lon/lat) and GeoPackage (scene CRS) that rasterise back exactly."""

import json

import numpy as np
import pytest
from pyogrio import read_info

from gfm_napari.errors import ExportError, GeometryError
from gfm_napari.images import read_image, write_mask
from gfm_napari.images.vector import mask_polygons, rasterize_polygons, read_polygons


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture(scope="module")
def atlanta(sample):
    return read_image(sample("atlanta")), read_image(sample("atlanta_labels")).array


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_buildings_round_trip_through_polygons(atlanta, tmp_path, suffix):
    image, buildings = atlanta
    path = write_mask(tmp_path / f"buildings{suffix}", buildings, image, names={1: "house"})
    back = rasterize_polygons(read_polygons(path, image.geometry.crs), image.spatial_shape, image.geometry)
    assert _iou(back > 0, buildings > 0) >= 0.99
    per_object = [_iou(back == k, buildings == k) for k in range(1, 44)]
    assert min(per_object) >= 0.95
    info = read_info(path)
    assert info["features"] == 43


def test_geojson_is_rfc7946_wgs84_lon_lat(atlanta, tmp_path):
    image, buildings = atlanta
    path = write_mask(tmp_path / "buildings.geojson", buildings, image, names={1: "house"})
    collection = json.loads(path.read_text())
    assert "crs" not in collection  # RFC 7946: WGS84 implied
    first = collection["features"][0]
    assert first["properties"]["label"] == 1 and first["properties"]["name"] == "house"
    assert collection["features"][1]["properties"]["name"] == "object 2"
    lon, lat = np.array(first["geometry"]["coordinates"][0][0]).T
    assert np.all((-84.5 < lon) & (lon < -84.4)) and np.all((33.6 < lat) & (lat < 33.7))  # Atlanta


def test_geopackage_keeps_the_scene_crs(atlanta, tmp_path):
    from rasterio.crs import CRS

    image, buildings = atlanta
    path = write_mask(tmp_path / "buildings.gpkg", buildings, image)
    assert CRS.from_user_input(read_info(path)["crs"]) == CRS.from_wkt(image.geometry.crs)


def test_area_is_in_square_metres_in_projected_and_geographic_crs(atlanta, sample):
    image, buildings = atlanta  # EPSG:32616, 0.5 m pixels
    first = mask_polygons(buildings, image.geometry)[0]
    assert first.area_m2 == pytest.approx((buildings == 1).sum() * 0.25, rel=0.01)
    roads = read_image(sample("vegas"))  # EPSG:4326, ~2.7e-6 degree pixels
    mask = read_image(sample("vegas_labels")).array > 0
    area = mask_polygons(mask, roads.geometry)[0].area_m2
    lat = np.radians(36.2)
    pixel_m2 = (2.7e-6 * 111_320 * np.cos(lat)) * (2.7e-6 * 110_950)
    assert area == pytest.approx(mask.sum() * pixel_m2, rel=0.02)


def test_roads_in_a_geographic_crs_round_trip(sample, tmp_path):
    roads = read_image(sample("vegas"))
    mask = (read_image(sample("vegas_labels")).array > 0).astype(np.uint8)
    path = write_mask(tmp_path / "roads.geojson", mask, roads)
    back = rasterize_polygons(read_polygons(path, roads.geometry.crs), roads.spatial_shape, roads.geometry)
    assert _iou(back > 0, mask > 0) >= 0.99


def test_polygons_need_a_georeferenced_non_empty_mask(atlanta, ct, tmp_path):
    image, _ = atlanta
    with pytest.raises(ExportError, match="the mask is empty"):
        write_mask(tmp_path / "none.geojson", np.zeros(image.spatial_shape, np.uint8), image)
    with pytest.raises(ExportError, match="needs a 2D raster"):
        write_mask(tmp_path / "ct.gpkg", np.ones(ct.spatial_shape, np.uint8), ct)
    assert not list(tmp_path.iterdir())


def test_a_plain_photo_has_no_polygons(sample, tmp_path):
    photo = read_image(sample("quicklook"))
    with pytest.raises(GeometryError, match="georeferenced"):
        write_mask(tmp_path / "x.geojson", np.ones(photo.spatial_shape, np.uint8), photo)
