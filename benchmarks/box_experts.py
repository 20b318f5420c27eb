"""Box Dice of the click-trained prompt path, the box-trained base decoder and two ways of combining them, on the
same embeddings (issue 19: box Dice within a point of the base on every domain).

    python benchmarks/box_experts.py [--data ../shared/data] [-o report.json]   # ~10 min on 2 cores, float

For a lone box (no click, no previous mask) each rule answers with: ``clicks`` the shipped prompt path of the image's
modality; ``base`` LiteMedSAM's own box-trained prompt encoder and decoder; ``higher_predicted_iou`` whichever of the
two predicts the higher IoU; ``mean_logits`` the mean of both logits. Sets: the radiomics lung tumour, brain and
breast lesions (manual outlines in 3D Slicer), BraTS (expert labels), the CT sample, the abdominal MR, the DICOM CT
series and the Atlanta buildings (raster path).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from report import emit  # benchmarks/report.py (run as a script, its folder is on the path)

from gfm_napari.engine.predictor import Predictor
from gfm_napari.evaluation.prompted import Selection, evaluate_prompts
from gfm_napari.images import read_image
from gfm_napari.models import load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RULES = ("clicks", "base", "higher_predicted_iou", "mean_logits")


class BoxExperts:
    """A segmenter that answers lone boxes by ``rule`` from ``clicks`` and ``base``; anything else by ``clicks``."""

    def __init__(self, clicks, base) -> None:
        self.clicks, self.base, self.rule = clicks, base, "clicks"

    def __getattr__(self, name):
        return getattr(self.clicks, name)

    def decode(self, embeddings, **prompts):
        answer = self.clicks.decode(embeddings, **prompts)
        lone_box = prompts.get("boxes") is not None and prompts.get("points") is None \
            and prompts.get("mask_input") is None
        if not lone_box or self.rule == "clicks":
            return answer
        other = self.base.decode(embeddings, **prompts)
        if self.rule == "base":
            return other
        if self.rule == "higher_predicted_iou":
            return answer if float(answer[1].max()) >= float(other[1].max()) else other
        return (answer[0] + other[0]) / 2, (answer[1] + other[1]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    d = args.data
    lesions = d / "radiomics_nrrd_manual"
    sets = {
        "lung tumour": (lesions / "lung1_image_crop.nrrd", lesions / "lung1_label_crop.nrrd", Selection()),
        "brain1 lesion": (lesions / "brain1_image.nrrd", lesions / "brain1_label.nrrd", Selection()),
        "brain2 lesion": (lesions / "brain2_image.nrrd", lesions / "brain2_label.nrrd", Selection()),
        "breast1 lesion": (lesions / "breast1_image.nrrd", lesions / "breast1_label.nrrd", Selection()),
        "BraTS": (d / "mr_brats_tumour_manual" / "Flair_subtrMeanDivStd.nii.gz",
                  d / "mr_brats_tumour_manual" / "OTMultiClass.nii.gz", Selection(label_ids=[1, 2, 4], max_slices=4)),
        "CT sample": (d / "ct_totalseg" / "example_ct_sm.nii.gz", d / "ct_totalseg" / "example_seg.nii.gz",
                      Selection(label_ids=[1, 2, 3, 5, 6], max_slices=3)),
        "MR abdomen": (d / "mr_totalseg" / "example_mr_sm.nii.gz", d / "mr_totalseg" / "example_seg_mr.nii.gz",
                       Selection(label_ids=[1, 2, 3, 5, 6])),
        "CT DICOM series": (d / "dicom_ct_series_totalseg" / "series",
                            d / "dicom_ct_series_totalseg" / "example_seg_dicom.nii.gz",
                            Selection(label_ids=[1, 5, 6, 52, 63])),
        "Atlanta buildings": (d / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif",
                              d / "sat_spacenet_atlanta_buildings" / "buildings_instances_derived.tif",
                              Selection(instances=True)),
    }
    model = load_model("litemedsam_clicks", device="cpu", precision="float")
    base = load_model("litemedsam", device="cpu", precision="float").segmenter
    experts = {id(s): BoxExperts(s, base) for s in (model.segmenter, *model.prompt_paths.values())}
    model = dataclasses.replace(model, segmenter=experts[id(model.segmenter)],
                                prompt_paths={k: experts[id(s)] for k, s in model.prompt_paths.items()})
    predictor = Predictor(model)  # one cache: every rule decodes the same embeddings
    report = {}
    for name, (image_path, label_path, selection) in sets.items():
        image, labels = read_image(image_path), read_image(label_path)
        report[name] = {}
        for rule in RULES:
            for expert in experts.values():
                expert.rule = rule
            result = evaluate_prompts(image, labels, model, selection, prompt_kinds=("box",), predictor=predictor)
            report[name][rule] = result["mean_dice"]["box"]
        report[name]["objects"] = sum(s["objects"] for s in result["structures"].values())
        print(name, report[name], flush=True)
    emit(report, args.output, indent=1)


if __name__ == "__main__":
    main()
