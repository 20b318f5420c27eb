"""Which of SAM's three candidates a lone click should keep: selection rules measured on the held-apart sets (float,
one view; the README's "Tried, not kept: other rules for a lone click's candidate"). Prints one JSON line per set with
the one-click Dice (centre and random first click, seed 0) of each rule; the session-24 lines are in
docs/clicks/candidate_rules.json.

Rules: head (the IoU head's pick, shipped), middle, small<D> (the smallest candidate whose predicted IoU is within D of
the best), depth<D> (within D of the best, the candidate in which the click lies deepest, relative to its deepest
pixel), stable (SAM's stability score: the mask at logit +1 over the mask at -1), headxstable (predicted IoU times
stability). The session-26 lines of head,stable,headxstable are in docs/clicks/candidate_rules_stability.txt.

Usage: python docs/clicks/candidate_rules.py head,middle,small0.2,depth0.2 [SET ...]   (from the repository root)
"""

import json
import sys
from pathlib import Path

import torch
from scipy import ndimage

from gfm_napari.engine.predictor import Predictor
from gfm_napari.evaluation.prompted import Selection, evaluate_prompts
from gfm_napari.images import read_image
from gfm_napari.models import load_model

D = Path("../shared/data")
RADIOMICS = "radiomics_nrrd_manual"
SETS = {
    "ct": ("dicom_ct_series_totalseg/series", "dicom_ct_series_totalseg/example_seg_dicom.nii.gz",
           Selection(label_ids=(1, 5, 6, 52, 63))),
    "lung": (f"{RADIOMICS}/lung1_image_crop.nrrd", f"{RADIOMICS}/lung1_label_crop.nrrd", Selection()),
    "brain1": (f"{RADIOMICS}/brain1_image.nrrd", f"{RADIOMICS}/brain1_label.nrrd", Selection()),
    "brain2": (f"{RADIOMICS}/brain2_image.nrrd", f"{RADIOMICS}/brain2_label.nrrd", Selection()),
    "breast": (f"{RADIOMICS}/breast1_image.nrrd", f"{RADIOMICS}/breast1_label.nrrd", Selection()),
    "brats": ("mr_brats_tumour_manual/Flair_subtrMeanDivStd.nii.gz", "mr_brats_tumour_manual/OTMultiClass.nii.gz",
              Selection(label_ids=(1, 2, 4), max_slices=4)),
    "mr": ("mr_totalseg/example_mr_sm.nii.gz", "mr_totalseg/example_seg_mr.nii.gz",
           Selection(label_ids=(1, 2, 3, 5, 6))),
    "atlanta": ("sat_spacenet_atlanta_buildings/sample_geotiff.tif",
                "sat_spacenet_atlanta_buildings/buildings_instances_derived.tif", Selection(instances=True)),
    "water": ("sat_sen1floods11_water_manual/Spain_7370579_S2Hand.tif",
              "sat_sen1floods11_water_manual/Spain_7370579_LabelHand.tif",
              Selection(label_ids=(1,), instances=True, min_pixels=500)),
}


def depth(mask, x, y):
    """How deep (x, y) lies in ``mask``, relative to its deepest pixel."""
    if not mask.any():
        return 0.0
    distances = ndimage.distance_transform_edt(mask)
    row, col = min(int(y), mask.shape[0] - 1), min(int(x), mask.shape[1] - 1)
    return float(distances[row, col] / distances.max())


def stability(logits, offset=1.0):
    """Per candidate, the IoU of its mask at logit +offset and at -offset."""
    high, low = (logits > offset).flatten(1).sum(1), (logits > -offset).flatten(1).sum(1)
    return high.float() / low.clamp(min=1).float()


def pick(rule, logits, scores, points):
    """The candidate ``rule`` keeps, of the decoder's three for one lone click."""
    s = scores[0]
    if rule == "head":
        return int(torch.argmax(s))
    if rule == "middle":
        return 1
    if rule == "stable":  # SAM's stability score: IoU of the mask at logit +1 and at -1
        return int(torch.argmax(stability(logits[0])))
    if rule == "headxstable":
        return int(torch.argmax(s * stability(logits[0])))
    delta = float(rule[5:])
    plausible = [i for i in range(3) if s[i] >= s.max() - delta]
    masks = logits[0] > 0
    if rule.startswith("small"):
        plausible = [i for i in plausible if masks[i].any()]
        return min(plausible, key=lambda i: int(masks[i].sum())) if plausible else int(torch.argmax(s))
    if rule.startswith("depth"):
        x, y = points[0][0, 0].tolist()
        return max(plausible, key=lambda i: (round(depth(masks[i].cpu().numpy(), x, y), 2), float(s[i])))
    raise ValueError(rule)


class Chooser:
    """A prompt path whose lone-click answers keep the candidate of ``rule`` (marked as the best score)."""

    def __init__(self, segmenter, rule):
        self.segmenter, self.rule = segmenter, rule

    def __getattr__(self, name):
        return getattr(self.segmenter, name)

    def decode(self, features, **prompts):
        logits, scores = self.segmenter.decode(features, **prompts)
        if logits.shape[1] == 3:
            chosen = pick(self.rule, logits, scores, prompts.get("points"))
            scores = torch.full_like(scores, -1.0)
            scores[0, chosen] = 1.0
        return logits, scores


model = load_model("litemedsam_clicks", precision="float")
rules = sys.argv[1].split(",")
for name in sys.argv[2:] or SETS:
    img, lab, sel = SETS[name]
    image, labels = read_image(D / img), read_image(D / lab)
    predictor = Predictor(model)
    plain = predictor.decoder_for
    row = {}
    for rule in rules:
        predictor.decoder_for = lambda emb, rule=rule: Chooser(plain(emb), rule)
        for first in ("center", "random"):
            r = evaluate_prompts(image, labels, model, sel, prompt_kinds=("click",), predictor=predictor,
                                 first_click=first)
            row[f"{rule}/{first}"] = r["mean_dice"]["click"]
    print(name, json.dumps(row), flush=True)
