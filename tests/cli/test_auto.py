"""`gfm-napari auto` writes one label per object found, on the source's grid; `evaluate --auto` measures it against
a label map beside segment-anything's SamAutomaticMaskGenerator on the same weights."""

import json

import nibabel as nib
import numpy as np
import pyogrio
import pytest
from rasterio import open as rasterio_open

from gfm_napari.cli import main
from gfm_napari.evaluation.automatic import match_objects, truth_objects

SLICE = 12


def test_auto_on_a_ct_slice_writes_its_organs_as_labels_on_the_source_grid(shared_data, ct_labels, tmp_path, capsys):
    source = shared_data / "ct_totalseg" / "example_ct_sm.nii.gz"
    out = tmp_path / "everything.nii.gz"
    assert main(["auto", str(source), "--axis", "2", "--slice", str(SLICE), "-o", str(out)]) == 0
    assert "objects from 1 window" in capsys.readouterr().out
    written = nib.load(out)
    np.testing.assert_array_equal(written.affine, nib.load(source).affine)
    labels = np.asarray(written.dataobj)
    assert not np.delete(labels, SLICE, axis=2).any()
    counts = match_objects(truth_objects(ct_labels[:, :, SLICE], 50, instances=False), labels[:, :, SLICE])
    assert counts["matched"] >= 7, counts  # measured 9 of the 15 TotalSegmentator structures at IoU >= 0.5


def test_auto_on_a_region_of_an_aerial_tile_writes_polygons_with_label_area_and_score(shared_data, tmp_path):
    source = shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif"
    out = tmp_path / "everything.gpkg"
    assert main(["auto", str(source), "--region", "0,0,255,255", "-q", "-o", str(out)]) == 0
    info = pyogrio.read_info(out)
    assert {"label", "name", "area_m2", "score"} <= set(info["fields"])
    assert info["features"] >= 12  # measured 19


def test_evaluate_auto_reports_recall_and_precision_beside_the_peer(shared_data, tmp_path, capsys):
    data = shared_data / "ct_totalseg"
    out = tmp_path / "auto.json"
    assert main(["evaluate", "--auto", "--peer", "--image", str(data / "example_ct_sm.nii.gz"), "--label",
                 str(data / "example_seg.nii.gz"), "--max-slices", "1", "-q", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    ours, peer = report["gfm_napari"], report["sam_automatic_mask_generator"]
    assert len(report["planes"]) == 1 and ours["truth_objects"] == peer["truth_objects"] > 0
    assert ours["recall"] >= 0.6  # measured 0.77 on slice 15 (SamAutomaticMaskGenerator: 0.62)
    assert ours["recall"] >= peer["recall"]
    assert report["clicks_per_plane"] == [16 * 16]  # the default grid on a slice smaller than 256 px


@pytest.mark.parametrize("args, message", [
    (["--region", "5000,5000,6000,6000"], "outside"),
    (["--propagate"], "--propagate needs a volume"),
    (["--points-per-side", "0"], "points_per_side"),
])
def test_bad_auto_input_is_one_line_before_any_model_work(shared_data, tmp_path, capsys, args, message):
    source = shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif"
    assert main(["auto", str(source), *args, "-o", str(tmp_path / "x.tif")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_peer_goes_with_auto(shared_data, capsys):
    data = shared_data / "ct_totalseg"
    assert main(["evaluate", "--peer", "--image", str(data / "example_ct_sm.nii.gz"), "--label",
                 str(data / "example_seg.nii.gz")]) == 2
    assert "--peer goes with --auto" in capsys.readouterr().err


@pytest.fixture
def huge_scene(shared_data, tmp_path, monkeypatch):
    """The Atlanta tile tiled 2 x 2 (1300 px a side), with the size limit lowered to 1 Mpx so that it counts as a
    scene too large to read whole."""
    monkeypatch.setattr("gfm_napari.images.windowed.LARGE_RASTER_PIXELS", 1024 * 1024)
    path = tmp_path / "atlanta_2x2.tif"
    with rasterio_open(shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif") as src:
        scene = src.read(1)
        profile = {**src.profile, "height": 2 * scene.shape[0], "width": 2 * scene.shape[1], "tiled": True,
                   "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    with rasterio_open(path, "w", **profile) as dst:
        dst.write(np.tile(scene, (2, 2)), 1)
    return path


def test_auto_on_a_scene_too_large_to_read_whole_asks_for_a_region(huge_scene, tmp_path, capsys):
    assert main(["auto", str(huge_scene), "-o", str(tmp_path / "all.tif")]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: this scene is too large to segment whole: give --region X0,Y0,X1,Y1 around the part to "
        "segment")
    assert not (tmp_path / "all.tif").exists()


def test_auto_on_a_region_of_a_scene_too_large_to_read_whole_writes_the_region_objects(huge_scene, tmp_path):
    out = tmp_path / "region.tif"
    assert main(["auto", str(huge_scene), "--region", "0,0,255,255", "-q", "-o", str(out)]) == 0
    with rasterio_open(out) as written, rasterio_open(huge_scene) as scene:
        assert (written.crs, written.transform, written.shape) == (scene.crs, scene.transform, scene.shape)
        labels = written.read(1)
    assert labels[:256, :256].max() >= 12  # measured 19 objects on the same region of the tile itself
    assert not labels[256:, :].any() and not labels[:, 256:].any()
