"""How close can any mask of the default model come to the reference labels? Per structure of the held-apart CT
series (the slices the clicks proof uses), the mean IoU of the label against:

* ``grid_256``: itself after a round trip through the decoder's low-res grid (256 cells across for the default
  model; area down, bilinear up as the predictor upscales logits, threshold): what that resolution alone costs;
* ``smooth_5px``: itself smoothed by a 5 × 5 box filter: how much of the label is staircase (TotalSegmentator
  labels predicted at 1.5 mm, on a 0.98 mm grid) that a smooth outline cannot follow;
* ``tight_box``: the default model's mask for the label's tight box, its best single prompt.

    python benchmarks/click_ceiling.py [--data ../shared/data] [-o ceiling.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gfm_napari.engine.prompts import Prompts, ResizeLongestSide, box_from_mask
from gfm_napari.evaluation.clicker import iou
from gfm_napari.evaluation.prompted import Selection, prepare
from gfm_napari.images import read_image
from gfm_napari.models import DEFAULT_MODEL, load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LABELS = [1, 5, 6, 52, 63]  # spleen, liver, stomach, aorta, inferior vena cava: as benchmarks/clicks_proof.sh


def grid_round_trip(truth: np.ndarray, low_res: int) -> np.ndarray:
    """The label on the decoder's low-res grid (the plane's longest side = ``low_res`` cells) and back."""
    mask = torch.from_numpy(truth.astype(np.float32))[None, None]
    low = F.interpolate(mask, size=ResizeLongestSide(truth.shape, low_res).resized_shape, mode="area")
    return F.interpolate(low * 2 - 1, size=truth.shape, mode="bilinear", align_corners=False)[0, 0].numpy() > 0


def box_smoothed(truth: np.ndarray, width: int) -> np.ndarray:
    mask = torch.from_numpy(truth.astype(np.float32))[None, None]
    padded = F.pad(mask, (width // 2,) * 4, mode="replicate")
    return F.avg_pool2d(padded, width, stride=1)[0, 0].numpy() > 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("-o", "--out", type=Path)
    args = parser.parse_args()
    series = args.data / "dicom_ct_series_totalseg"
    image = read_image(series / "series")
    model = load_model(DEFAULT_MODEL)
    selection = Selection(label_ids=LABELS, max_slices=8)
    setting = prepare(image, read_image(series / "example_seg_dicom.nii.gz"), model, selection)
    low_res = 4 * model.segmenter.embedding_size[0]  # SAM's decoder upsamples its embedding 4x
    report = {}
    for label_id, objects in setting.objects(selection):
        rows = []
        for index, truth in objects:
            embedding = setting.predictor.embed(image, setting.axis, index, normalization=setting.normalization)
            boxed = setting.predictor.predict_prompts(embedding, Prompts(box=box_from_mask(truth))).mask
            rows.append([iou(grid_round_trip(truth, low_res), truth), iou(box_smoothed(truth, 5), truth), iou(boxed, truth)])
        means = np.mean(rows, axis=0).round(3).tolist()
        report[setting.names.get(label_id, str(label_id))] = dict(zip(("grid_256", "smooth_5px", "tight_box"), means))
    text = json.dumps({"model": model.model_id, "slices_per_structure": 8, "iou": report}, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
