"""Bad-input sweep: what users type and feed the command line gives one line (`error: ...`, exit 2, or
`warning: ...` on stderr), leaves no output file, and is refused before any model work where it can be.

Real files from shared/data and resources/samples, or small files derived from them in tmp_path. Tests that must
fail before the model loads replace the CLI's model loader with one that fails the test (``no_model``); tests of
what the CLI does with a result replace the model and the segmentation job (``fake_segmentation``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import rasterio
import torch
from PIL import Image as PILImage

from gfm_napari.cli import build_parser, main
from gfm_napari.cli import models as cli_models
from gfm_napari.cli.outputs import check_output
from gfm_napari.cli.parser import joined_negative_values
from gfm_napari.engine import segment_file
from gfm_napari.jobs import Progress, run

CT = "ct_totalseg/example_ct_sm.nii.gz"  # 122 x 101 x 30, axial axis 2: a slice is 101 (x) by 122 (y)
SEG = "ct_totalseg/example_seg.nii.gz"
SERIES = "dicom_ct_series_totalseg/series"
RGB = "sat_landsat_rgb_rasterio/RGB.byte.tif"  # 3 x 718 x 791 uint8, nodata 0
SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
SAMPLE_CT = SAMPLES / "ct_abdomen.nii.gz"
SAMPLE_SEG = SAMPLES / "ct_abdomen_seg.nii.gz"
ATLANTA = SAMPLES / "atlanta_buildings.tif"


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.strip()


@pytest.fixture
def no_model(monkeypatch):
    """The model must not load: the case is refused before any model work."""

    def load(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(cli_models, "load", load)


@pytest.fixture
def fake_segmentation(monkeypatch):
    """No model: the segmentation job records its arguments and returns ``calls["mask"]`` (default: empty)."""
    calls: dict = {}

    def job(image, model, **kwargs):
        calls.update(kwargs)
        yield Progress(0, 1, "encoding the image")
        mask = calls.get("mask")
        return np.zeros(image.spatial_shape, bool) if mask is None else mask

    monkeypatch.setattr(cli_models, "load", lambda *args, **kwargs: "model")
    monkeypatch.setattr(segment_file, "segment_job", job)
    return calls


@pytest.fixture(scope="module")
def rgb_crop(shared_data) -> np.ndarray:
    """A 200 x 240 RGB crop of the real Landsat scene (inside its data, no nodata collar)."""
    with rasterio.open(shared_data / RGB) as src:
        return np.moveaxis(src.read(window=((260, 460), (280, 520))), 0, -1)


# ---- 2. arguments -------------------------------------------------------------------------------------------
def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == "gfm-napari 0.1.0\n"


def test_a_negative_window_level_parses_as_typed():
    args = build_parser().parse_args(joined_negative_values(
        ["segment", "ct.nii.gz", "--window", "-600,1500", "--box", "-5,10,20,20", "-o", "o.nii.gz"]))
    assert args.window == (-600.0, 1500.0) and args.box == (-5.0, 10.0, 20.0, 20.0)


def test_a_lung_window_reaches_the_segmentation(shared_data, tmp_path, capsys, fake_segmentation):
    out = tmp_path / "lung.nii.gz"
    argv = ["segment", str(shared_data / CT), "--window", "-600,1500", "--box", "20,30,60,90", "-o", str(out)]
    assert main(argv) == 0
    assert fake_segmentation["window"] == (-600.0, 1500.0)


@pytest.mark.parametrize("value", [["--box", "nan,nan,nan,nan"], ["--window", "40,inf"], ["--point", "nan,5"]])
def test_non_finite_numbers_are_one_line_errors(shared_data, tmp_path, capsys, value):
    out = tmp_path / "o.nii.gz"
    with pytest.raises(SystemExit) as stop:
        main(["segment", str(shared_data / CT), *value, "-o", str(out)])
    assert stop.value.code == 2
    assert "needs finite numbers" in _one_error(capsys)
    assert not out.exists()


def test_an_argument_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["segment", "ct.nii.gz", "--box", "1,2,3"])
    assert stop.value.code == 2
    assert _one_error(capsys) == ("error: argument --box: --box X0,Y0,X1,Y1 needs 4 comma-separated numbers, got "
                                  "'1,2,3' (see gfm-napari segment --help)")


# ---- 3. outputs checked before any work ----------------------------------------------------------------------
def test_evaluate_refuses_to_write_its_report_over_the_label_map(tmp_path, capsys, no_model):
    label = tmp_path / "seg.nii.gz"
    shutil.copy(SAMPLE_SEG, label)
    before = label.read_bytes()
    assert main(["evaluate", "--image", str(SAMPLE_CT), "--label", str(label), "-o", str(label)]) == 2
    assert _one_error(capsys) == f"error: -o {label} is an input file (--label): choose another file name"
    assert label.read_bytes() == before


def test_evaluate_refuses_to_draw_its_plot_over_the_image(tmp_path, capsys, no_model):
    image = tmp_path / "ct.nii.gz"
    shutil.copy(SAMPLE_CT, image)
    before = image.read_bytes()
    argv = ["evaluate", "--image", str(image), "--label", str(SAMPLE_SEG), "--clicks", "3", "--plot", str(image),
            "-o", str(tmp_path / "r.json")]
    assert main(argv) == 2
    assert _one_error(capsys) == f"error: --plot {image} is an input file (--image): choose another file name"
    assert image.read_bytes() == before and not (tmp_path / "r.json").exists()


def test_evaluate_report_in_a_missing_folder_is_refused(tmp_path, capsys, no_model):
    out = tmp_path / "nowhere" / "r.json"
    assert main(["evaluate", "--image", str(SAMPLE_CT), "--label", str(SAMPLE_SEG), "-o", str(out)]) == 2
    assert _one_error(capsys) == f"error: the folder {out.parent} does not exist (-o {out})"


def test_evaluate_report_must_be_json(tmp_path, capsys, no_model):
    out = tmp_path / "r.txt"
    assert main(["evaluate", "--image", str(SAMPLE_CT), "--label", str(SAMPLE_SEG), "-o", str(out)]) == 2
    assert _one_error(capsys) == "error: -o r.txt: the JSON report is written as .json, not '.txt'"


def test_segment_refuses_an_unknown_mask_suffix_before_the_model(shared_data, tmp_path, capsys, no_model):
    out = tmp_path / "o.xyz"
    assert main(["segment", str(shared_data / CT), "--box", "20,30,60,90", "-o", str(out)]) == 2
    assert _one_error(capsys) == ("error: -o o.xyz: cannot write a mask as '.xyz'; use one of .nii.gz, .nii, "
                                  ".seg.nrrd, .nrrd, .mha, .tif, .tiff, .png, .geojson, .gpkg, .dcm")
    assert not out.exists()


def test_segment_refuses_a_format_the_source_cannot_have_before_the_model(shared_data, tmp_path, capsys, no_model):
    out = tmp_path / "o.dcm"
    assert main(["segment", str(shared_data / CT), "--box", "20,30,60,90", "-o", str(out)]) == 2
    assert "DICOM-SEG needs a DICOM source" in _one_error(capsys)
    assert not out.exists()


def test_segment_refuses_a_missing_output_folder_before_the_model(shared_data, tmp_path, capsys, no_model):
    out = tmp_path / "nowhere" / "o.nii.gz"
    assert main(["segment", str(shared_data / CT), "--box", "20,30,60,90", "-o", str(out)]) == 2
    assert _one_error(capsys) == f"error: the folder {out.parent} does not exist (-o {out})"


def test_segment_refuses_to_overwrite_a_file_of_the_input_dicom_folder(shared_data, tmp_path, capsys, no_model):
    series = tmp_path / "series"
    shutil.copytree(shared_data / SERIES, series)
    victim = sorted(series.iterdir())[0]
    before = victim.read_bytes()
    assert main(["segment", str(series), "--box", "300,250,400,350", "-o", str(victim)]) == 2
    assert _one_error(capsys) == f"error: -o {victim} is an input file (the image): choose another file name"
    assert victim.read_bytes() == before


def test_bench_refuses_to_write_over_its_image(tmp_path, capsys, no_model):
    image = tmp_path / "ct.json"  # a JSON-named input is still an input
    image.write_text("{}")
    assert main(["bench", str(image), "-o", str(image)]) == 2
    assert _one_error(capsys) == f"error: -o {image} is an input file (the image): choose another file name"


def test_bench_report_in_a_missing_folder_is_refused(tmp_path, capsys, no_model):
    out = tmp_path / "nowhere" / "bench.json"
    assert main(["bench", "-o", str(out)]) == 2
    assert _one_error(capsys) == f"error: the folder {out.parent} does not exist (-o {out})"


def test_train_adapter_export_to_a_missing_folder_is_refused_before_reading(tmp_path, capsys, no_model):
    export = tmp_path / "nowhere" / "liver"
    argv = ["train-adapter", "--image", str(SAMPLE_CT), "--label", str(SAMPLE_SEG), "--out", str(tmp_path / "run"),
            "--export", str(export)]
    assert main(argv) == 2
    assert _one_error(capsys) == f"error: the folder {export.parent} does not exist (--export {export}.safetensors)"
    assert not (tmp_path / "run").exists()


def test_train_adapter_export_may_go_into_the_run_folder_it_creates(tmp_path):
    args = build_parser().parse_args(["train-adapter", "--image", "ct.nii.gz", "--label", "seg.nii.gz",
                                     "--out", str(tmp_path / "run"), "--export", str(tmp_path / "run" / "liver")])
    check_output(args.export, "--export", "an adapter", created=args.out)  # no error


# ---- 4. a TIFF without CRS is a plain image ------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_a_tiff_without_crs_segments_like_a_png(rgb_crop, tmp_path, capsys, litemedsam_clicks, monkeypatch):
    plain = tmp_path / "plain.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=240, height=200, count=3, dtype="uint8") as dst:
        dst.write(np.moveaxis(rgb_crop, -1, 0))
    monkeypatch.setattr(cli_models, "load", lambda *args, **kwargs: litemedsam_clicks)
    out = tmp_path / "mask.tif"
    assert main(["segment", str(plain), "--box", "60,50,180,150", "-o", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}")
    with rasterio.open(out) as mask:
        assert mask.crs is None and mask.shape == (200, 240) and mask.read(1).any()


def test_tile_on_a_tiff_without_crs_says_so(rgb_crop, tmp_path, capsys, no_model):
    plain = tmp_path / "plain.tif"
    PILImage.fromarray(rgb_crop).save(plain)
    assert main(["segment", str(plain), "--tile", "256", "--box", "60,50,180,150", "-o", str(tmp_path / "m.tif")]) == 2
    assert _one_error(capsys).startswith("error: --tile: 'plain.tif' has no CRS")


# ---- 5. prompts that cannot work -----------------------------------------------------------------------------
def test_a_lone_negative_click_is_refused_before_the_model(shared_data, tmp_path, capsys, no_model):
    out = tmp_path / "o.nii.gz"
    assert main(["segment", str(shared_data / CT), "--point", "50,60,-", "-o", str(out)]) == 2
    assert _one_error(capsys) == ("error: negative clicks alone do not say where the object is: a segmentation needs "
                                  "at least one positive click or a box")
    assert not out.exists()


def test_a_point_outside_the_slice_is_refused_before_the_model(shared_data, tmp_path, capsys, no_model):
    assert main(["segment", str(shared_data / CT), "--point", "5,900", "-o", str(tmp_path / "o.nii.gz")]) == 2
    assert _one_error(capsys) == "error: point (5, 900) is outside the 101x122 (x by y) image"


# ---- 6. nothing to segment, nothing to evaluate, an empty result ---------------------------------------------
def test_a_constant_ct_is_refused(shared_data, tmp_path, capsys, no_model):
    ct = nib.load(shared_data / CT)
    constant = tmp_path / "constant.nii.gz"
    nib.save(nib.Nifti1Image(np.full(ct.shape, -1000, np.int16), ct.affine, ct.header), constant)
    out = tmp_path / "o.nii.gz"
    assert main(["segment", str(constant), "--box", "20,30,60,90", "-o", str(out)]) == 2
    assert _one_error(capsys) == "error: the volume has no contrast (every voxel is -1000): nothing to segment"
    assert not out.exists()


def test_a_geotiff_that_is_nodata_everywhere_is_refused(shared_data, tmp_path, capsys, no_model):
    with rasterio.open(shared_data / RGB) as src:
        profile, shape = src.profile, (src.count, src.height, src.width)
    empty = tmp_path / "nodata.tif"
    with rasterio.open(empty, "w", **profile) as dst:
        dst.write(np.zeros(shape, np.uint8))
    out = tmp_path / "o.tif"
    assert main(["segment", str(empty), "--box", "300,300,400,400", "-o", str(out)]) == 2
    assert _one_error(capsys) == "error: the image has nodata everywhere (nodata = 0): nothing to segment"
    assert not out.exists()


def test_evaluate_of_a_label_id_that_is_not_there_is_refused(capsys, no_model):
    argv = ["evaluate", "--image", str(SAMPLE_CT), "--label", str(SAMPLE_SEG), "--labels", "5,999"]
    assert main(argv) == 2
    present = np.unique(nib.load(SAMPLE_SEG).get_fdata()).astype(int)[1:]
    shown = ", ".join(map(str, present[:20])) + (", ..." if len(present) > 20 else "")
    assert _one_error(capsys) == f"error: label 999 is not in the label map (present: {shown})"


def test_evaluate_of_an_empty_label_map_is_refused(tmp_path, capsys, no_model):
    seg = nib.load(SAMPLE_SEG)
    zeros = tmp_path / "zeros.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(seg.shape, np.uint8), seg.affine), zeros)
    assert main(["evaluate", "--image", str(SAMPLE_CT), "--label", str(zeros), "-o", str(tmp_path / "r.json")]) == 2
    assert _one_error(capsys) == "error: the label map is empty (every pixel is 0): nothing to evaluate"
    assert not (tmp_path / "r.json").exists()


def test_evaluate_with_no_structure_large_enough_is_refused(capsys, no_model):
    assert main(["evaluate", "--image", str(SAMPLE_CT), "--label", str(SAMPLE_SEG), "--min-pixels", "100000"]) == 2
    assert _one_error(capsys) == ("error: no labelled structure covers 100000 pixels on a plane (the smallest "
                                  "cross-section evaluated): nothing to evaluate")


def test_an_empty_mask_is_written_with_a_warning(shared_data, tmp_path, capsys, fake_segmentation):
    out = tmp_path / "o.nii.gz"
    assert main(["segment", str(shared_data / CT), "--box", "20,30,60,90", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("warning: the mask is empty: the model found no object at the prompt (try a tighter box "
                            "or more clicks)\n")
    assert captured.out == f"wrote {out} (0 voxels in the mask)\n"
    assert out.is_file() and not np.asarray(nib.load(out).dataobj).any()


# ---- 7. boxes ------------------------------------------------------------------------------------------------
def test_a_box_partly_outside_is_clipped_with_a_warning(shared_data, tmp_path, capsys, fake_segmentation):
    assert main(["segment", str(shared_data / CT), "--box", "-5,10,500,50", "-o", str(tmp_path / "o.nii.gz")]) == 0
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning == ("warning: the box (-5, 10, 500, 50) reaches past the 101x122 (x by y) image: clipped to "
                       "(0, 10, 101, 50)")
    assert fake_segmentation["box"] == (0.0, 10.0, 101.0, 50.0)


def test_a_box_entirely_outside_names_the_image_size(shared_data, tmp_path, capsys, no_model):
    assert main(["segment", str(shared_data / CT), "--box", "200,10,500,50", "-o", str(tmp_path / "o.nii.gz")]) == 2
    assert _one_error(capsys) == "error: box (200, 10, 500, 50) is outside the 101x122 (x by y) image"


def test_a_box_covering_a_tiny_image_is_valid(rgb_crop, tmp_path, capsys, fake_segmentation):
    tiny = tmp_path / "tiny.png"
    PILImage.fromarray(np.ascontiguousarray(rgb_crop[100:102, 100:102])).save(tiny)
    assert main(["segment", str(tiny), "--box", "0,0,2,2", "-o", str(tmp_path / "m.png")]) == 0
    assert fake_segmentation["box"] == (0.0, 0.0, 2.0, 2.0) and capsys.readouterr().err.startswith("warning: the mask")


def test_a_1x1_image_is_refused_for_its_lack_of_contrast_not_its_box(rgb_crop, tmp_path, capsys, no_model):
    pixel = tmp_path / "pixel.png"
    PILImage.fromarray(np.ascontiguousarray(rgb_crop[100:101, 100:101])).save(pixel)
    r, g, b = rgb_crop[100, 100]
    assert main(["segment", str(pixel), "--box", "0,0,1,1", "-o", str(tmp_path / "m.png")]) == 2
    assert _one_error(capsys) == f"error: the image has no contrast (every pixel is {r}, {g}, {b}): nothing to segment"


# ---- 8. messages in the command line's words -----------------------------------------------------------------
def test_a_4d_nifti_asks_for_volume(shared_data, tmp_path, capsys, no_model):
    ct = nib.load(shared_data / CT)
    four = tmp_path / "ct4d.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([np.asarray(ct.dataobj)] * 2, axis=-1), ct.affine), four)
    assert main(["segment", str(four), "--box", "20,30,60,90", "-o", str(tmp_path / "o.nii.gz")]) == 2
    assert _one_error(capsys) == ("error: 'ct4d.nii.gz' is 4D with shape (122, 101, 30, 2): pick one volume with "
                                  "--volume 0..1")
    assert main(["info", str(four), "--volume", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shape"] == [122, 101, 30]


@pytest.fixture
def two_series(shared_data, tmp_path) -> Path:
    """The real series (which has an empty SeriesInstanceUID) with every other file given a UID: two series."""
    folder = tmp_path / "two"
    folder.mkdir()
    for i, path in enumerate(sorted((shared_data / SERIES).iterdir())):
        dataset = pydicom.dcmread(path)
        if i % 2:
            dataset.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1"
        dataset.save_as(folder / path.name)
    return folder


def test_several_series_are_listed_as_series_uid_options(two_series, capsys):
    assert main(["info", str(two_series)]) == 2
    assert _one_error(capsys) == (
        "error: found 2 DICOM series in 'two': pick one with --series-uid '' (no SeriesInstanceUID, 'CT Body 3.0', "
        "10 slices); --series-uid 1.2.826.0.1.3680043.8.498.1 ('CT Body 3.0', 10 slices)")


def test_the_series_without_uid_is_picked_with_an_empty_series_uid(two_series, capsys):
    assert main(["info", str(two_series), "--series-uid", "", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shape"] == [10, 512, 512]


def test_a_dicom_gap_is_one_warning_line(shared_data, tmp_path, capsys):
    folder = tmp_path / "gap"
    folder.mkdir()
    for i, path in enumerate(sorted((shared_data / SERIES).iterdir())):
        if i != 7:
            shutil.copy(path, folder / path.name)
    assert main(["info", str(folder), "--json"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: irregular slice spacing (expected 2 mm): 4 mm between slices") and err.count(
        "\n") == 1


def test_a_random_checkpoint_is_not_a_weights_file(shared_data, tmp_path, capsys):
    noise = tmp_path / "weights.pth"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    out = tmp_path / "o.nii.gz"
    argv = ["segment", str(shared_data / CT), "--box", "20,30,60,90", "--model", "litemedsam", "--checkpoint",
            str(noise), "-o", str(out)]
    assert main(argv) == 2
    assert _one_error(capsys).startswith("error: weights.pth is not a weights file gfm-napari can load safely (")
    assert not out.exists()


# ---- 9. a finished training run ------------------------------------------------------------------------------
def test_rerunning_a_finished_adapter_run_says_so_without_caching(tmp_path, capsys, monkeypatch, no_model):
    from gfm_napari.training import adapters
    from gfm_napari.training.loop import LoopConfig, train_loop

    out = tmp_path / "run"
    weight = torch.nn.Parameter(torch.zeros(2))
    scores = iter([0.5, 0.6])  # steps 0 and 2: the run learnt something
    run(train_loop({"w": weight}, lambda rng: {"loss": ((weight - 1) ** 2).sum()}, lambda: {"score": next(scores)},
                   out, LoopConfig(steps=2, val_every=2, checkpoint_every=2)))
    (out / "data.json").write_text(json.dumps({"train_planes": 3, "validation_planes": 1}))
    monkeypatch.setattr(adapters, "_plane_objects", lambda *a, **k: pytest.fail("the prefix was cached again"))
    argv = ["train-adapter", "--image", str(SAMPLE_CT), "--label", str(SAMPLE_SEG), "--steps", "2", "--out", str(out)]
    assert main(argv) == 0
    assert capsys.readouterr().out == (
        f"the run in {out} already reached step 2 of 2: nothing to train (a larger --steps continues it)\n"
        f"best validation score 0.6000 at step 2 in {out}\n")


def test_another_mask_of_a_click_with_a_box_is_one_line_before_the_model(shared_data, tmp_path, capsys, no_model):
    scene = shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif"
    args = ["segment", str(scene), "--point", "75,468", "--box", "60,440,90,500", "--candidate", "2"]
    assert main([*args, "-o", str(tmp_path / "m.tif")]) == 2
    assert _one_error(capsys) == ("error: the model's other masks are offered for one positive click alone (no box, no "
                                  "other click): with more prompts it gives one mask")
    assert not (tmp_path / "m.tif").exists()


def test_next_mask_without_a_simulated_first_click_is_one_line_before_the_model(tmp_path, capsys, no_model):
    for extra in ([], ["--clicks", "5", "--start", "box"]):
        args = ["evaluate", "--image", str(SAMPLE_CT), "--label", str(SAMPLE_SEG), "--next-mask", *extra]
        assert main([*args, "-o", str(tmp_path / "r.json")]) == 2
        assert _one_error(capsys) == "error: --next-mask goes with --clicks and a first click (not --start box)"
