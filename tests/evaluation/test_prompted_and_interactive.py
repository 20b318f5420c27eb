"""`gfm-napari evaluate`: one-shot prompt Dice and simulated-click NoC on real labelled data."""

import json

from gfm_napari.cli import main


def _evaluate(shared_data, tmp_path, capsys, *extra):
    out = tmp_path / "report.json"
    argv = ["evaluate", "--image", str(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz"),
            "--label", str(shared_data / "ct_totalseg" / "example_seg.nii.gz"), "--labels", "5,1",
            "--max-slices", "2", "-o", str(out), *extra]
    assert main(argv) == 0
    capsys.readouterr()
    return json.loads(out.read_text())


def test_box_prompts_on_liver_and_spleen_report_dice_per_structure(shared_data, tmp_path, capsys):
    report = _evaluate(shared_data, tmp_path, capsys, "--prompt", "box", "--prompt", "click")
    assert set(report["structures"]) == {"liver", "spleen"}  # names from labels.json
    liver = report["structures"]["liver"]
    assert liver["slices"] == 2 and liver["dice"]["box"] >= 0.8 and liver["dice"]["box"] > liver["dice"]["click"]


def test_simulated_clicks_report_noc_failures_and_miou_per_click(shared_data, tmp_path, capsys):
    report = _evaluate(shared_data, tmp_path, capsys, "--clicks", "3", "--start", "box")
    overall = report["overall"]
    assert overall["objects"] == 4 and len(overall["mIoU@k"]) == 3
    assert {"NoC@85", "NoC@90", "failures@85"} <= set(overall)
    assert overall["mIoU@k"][0] >= 0.7  # a box on liver / spleen
