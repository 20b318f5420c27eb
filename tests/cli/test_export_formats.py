"""`gfm-napari segment` writes polygons, DICOM-SEG and tiled masks; `--bands` picks a raster's bands."""

import json

import rasterio

from gfm_napari.cli import main
from gfm_napari.images import read_image
from gfm_napari.images.dicom_seg import read_dicom_seg
from gfm_napari.images.vector import rasterize_polygons, read_polygons

ATLANTA = "sat_spacenet_atlanta_buildings/sample_geotiff.tif"


def test_a_tiled_segmentation_gives_the_same_footprint_as_tif_and_polygons(shared_data, tmp_path, capsys):
    source = shared_data / ATLANTA
    args = ["segment", str(source), "--tile", "256", "--box", "64,443,85,493", "--name", "house"]
    assert main([*args, "-o", str(tmp_path / "house.tif")]) == 0
    assert main([*args, "-o", str(tmp_path / "house.gpkg")]) == 0
    assert "1 window(s) of the 900x900 scene" in capsys.readouterr().out
    image = read_image(source)
    with rasterio.open(tmp_path / "house.tif") as mask_file:
        assert mask_file.crs == rasterio.open(source).crs and mask_file.shape == (900, 900)
        mask = mask_file.read(1) > 0
    (label, _), = polygons = read_polygons(tmp_path / "house.gpkg", image.geometry.crs)
    back = rasterize_polygons(polygons, image.spatial_shape, image.geometry) > 0
    assert mask.sum() > 100 and (back & mask).sum() / (back | mask).sum() >= 0.99


def test_geojson_output_of_a_whole_scene_names_the_object(shared_data, tmp_path):
    out = tmp_path / "building.geojson"
    assert main(["segment", str(shared_data / ATLANTA), "--box", "64,443,85,493", "--name", "house", "-o", str(out)]) == 0
    feature, = json.loads(out.read_text())["features"]
    assert feature["properties"]["name"] == "house" and feature["properties"]["area_m2"] > 0


def test_dicom_series_to_dicom_seg(shared_data, tmp_path):
    series = shared_data / "dicom_ct_series_totalseg" / "series"
    out = tmp_path / "spleen.dcm"
    assert main(["segment", str(series), "--slice", "10", "--box", "294,245,392,377", "--name", "spleen",
                 "-o", str(out)]) == 0
    labels, names = read_dicom_seg(out, read_image(series))
    assert names == {1: "spleen"} and labels[10].sum() > 1000 and not labels[:10].any()


def test_bands_choose_the_model_input_and_unknown_bands_are_one_line_errors(shared_data, tmp_path, capsys):
    rgb = shared_data / "sat_landsat_rgb_rasterio" / "RGB.byte.tif"
    assert main(["info", str(rgb), "--bands", "3,2,1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model_bands"] == "custom:3,2,1"
    code = main(["segment", str(rgb), "--bands", "false-colour", "--box", "300,300,400,400", "-o", str(tmp_path / "x.tif")])
    assert code == 2 and "does not name its nir" in capsys.readouterr().err
    code = main(["segment", str(rgb), "--bands", "4,3,2", "--box", "300,300,400,400", "-o", str(tmp_path / "x.tif")])
    assert code == 2 and "the raster has 3 bands" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
