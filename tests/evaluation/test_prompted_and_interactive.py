"""`gfm-napari evaluate`: one-shot prompt Dice and simulated-click NoC on real labelled data."""

import json

from gfm_napari.cli import main


def test_box_prompts_on_liver_and_spleen_report_dice_per_structure(evaluate_ct):
    report = evaluate_ct("--prompt", "box", "--prompt", "click")
    assert set(report["structures"]) == {"liver", "spleen"}  # names from labels.json
    liver = report["structures"]["liver"]
    assert liver["slices"] == 2 and liver["dice"]["box"] >= 0.8 and liver["dice"]["box"] > liver["dice"]["click"]


def test_simulated_clicks_report_noc_failures_and_miou_per_click(evaluate_ct):
    report = evaluate_ct("--clicks", "3", "--start", "box")
    overall = report["overall"]
    assert overall["objects"] == 4 and len(overall["mIoU@k"]) == 3
    assert {"NoC@85", "NoC@90", "failures@85"} <= set(overall)
    assert overall["mIoU@k"][0] >= 0.7  # a box on liver / spleen
    liver = report["structures"]["liver"]
    columns = {"plane", "pixels", "NoC@80", "NoC@85", "NoC@90", "best_iou"}
    assert [set(row) for row in liver["per_object"]] == [columns, columns]
    assert all(row["pixels"] > 0 and 1 <= row["NoC@85"] <= 3 for row in liver["per_object"])


def test_simulated_clicks_write_an_iou_vs_clicks_plot_beside_the_report(evaluate_ct, tmp_path):
    report = evaluate_ct("--clicks", "3", "--no-feed-logits")
    plot = tmp_path / "report0.png"  # beside the report, report0.json
    assert report["plot"] == str(plot) and report["feed_logits"] is False
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_propagated_structures_report_dice_per_volume(evaluate_ct):
    report = evaluate_ct("--propagate")
    assert report["start"] == "box"
    for name in ("liver", "spleen"):  # measured 3D Dice: liver 0.918, spleen 0.926 (30 labelled slices each)
        structure = report["structures"][name]
        assert structure["dice_3d"] >= 0.88 and structure["slices_reached"] >= 25
    assert report["mean_dice_3d"] >= 0.88


def test_an_adapter_file_is_loaded_over_the_model(evaluate_ct):
    from importlib.resources import files

    weights = files("gfm_napari") / "resources" / "weights" / "litemedsam_clicks.safetensors"
    base = evaluate_ct("--model", "litemedsam", "--prompt", "click")
    tuned = evaluate_ct("--model", "litemedsam", "--prompt", "click", "--adapter", str(weights))
    assert tuned["model"].startswith(base["model"] + "+")
    assert tuned["structures"]["liver"]["dice"]["click"] > base["structures"]["liver"]["dice"]["click"] + 0.3


def test_bands_choose_what_a_multiband_scene_feeds_the_model(shared_data, tmp_path, capsys):
    """The real Atlanta panchromatic band written 4 times (a stand-in for a multi-band scene): whichever 3 bands
    are chosen, the model sees what it sees on the single-band scene, so the Dice is the same (the tile's top-left
    256 px: one working window)."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    folder, window = shared_data / "sat_spacenet_atlanta_buildings", Window(0, 0, 256, 256)

    def crop(source, target, copies=1):
        with rasterio.open(source) as src:
            profile = {**src.profile, "count": copies, "width": 256, "height": 256,
                       "transform": src.window_transform(window)}
            band = src.read(1, window=window)
        with rasterio.open(target, "w", **profile) as dst:
            dst.write(np.stack([band] * copies))
        return target

    source = crop(folder / "sample_geotiff.tif", tmp_path / "one_band.tif")
    four = crop(folder / "sample_geotiff.tif", tmp_path / "four_band.tif", copies=4)
    labels = str(crop(folder / "buildings_instances_derived.tif", tmp_path / "buildings.tif"))
    reports = []
    for image, extra in ((source, []), (four, ["--bands", "4,3,2"])):
        out = tmp_path / f"{image.stem}.json"
        argv = ["evaluate", "--image", str(image), "--label", labels, "--instances", "--prompt", "box", "-o", str(out)]
        assert main(argv + extra) == 0
        reports.append(json.loads(out.read_text()))
    capsys.readouterr()
    assert reports[0]["mean_dice"]["box"] > 0.5  # real buildings were evaluated
    assert "bands=custom:4,3,2" in reports[1]["normalization"]
    assert reports[1]["mean_dice"]["box"] == reports[0]["mean_dice"]["box"]
    assert main(["evaluate", "--image", str(four), "--label", labels, "--bands", "5,1,1"]) == 2
    assert "the raster has 4 bands" in capsys.readouterr().err


def test_a_user_who_presses_next_mask_segments_the_manual_lung_tumour_sooner(shared_data, tmp_path):
    folder = shared_data / "radiomics_nrrd_manual"
    reports = []
    for extra in ([], ["--next-mask"]):
        out = tmp_path / f"lung{len(extra)}.json"
        args = ["evaluate", "--image", str(folder / "lung1_image_crop.nrrd"),
                "--label", str(folder / "lung1_label_crop.nrrd"), "--clicks", "3", *extra, "-o", str(out)]
        assert main(args) == 0
        reports.append(json.loads(out.read_text()))
    plain, pressed = (report["overall"]["mIoU@k"] for report in reports)
    assert reports[1]["next_mask"] is True and plain[0] == pressed[0]  # the same first click and mask
    assert pressed[2] >= plain[2] + 0.02  # 3 prompts (a press is one): measured 0.528 against 0.493 in float
    presses = [row.get("next_mask_presses", 0) for s in reports[1]["structures"].values() for row in s["per_object"]]
    assert sum(presses) >= 1
