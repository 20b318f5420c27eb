"""How close can any mask of the default model come to the reference labels? Per structure of the held-apart CT
series (the slices the clicks proof uses), the mean IoU of the label against:

* ``grid_256``: itself after a round trip through the decoder's low-res grid (256 cells across for the default
  model; area down, bilinear up as the predictor upscales logits, threshold): what that resolution alone costs;
* ``smooth_5px``: itself smoothed by a 5 × 5 box filter: how much of the label is staircase (TotalSegmentator
  labels predicted at 1.5 mm, on a 0.98 mm grid) that a smooth outline cannot follow;
* ``tight_box``: the default model's mask for the label's tight box, its best single prompt;
* ``tight_box_zoom3``: the same box in a crop three times the label's size (at least 48 px), encoded at the model's
  input size: what a Zoom-In view (RITM) could give;

and how much of the label's outline has an edge in the image that a 2D model could follow:

* ``edge_step_hu``: the median, over outline pixels, of the step between the mean CT values (in the 40/400 window)
  within 2 px inside and outside the label;
* ``outline_without_edge``: the fraction of outline pixels where that step is under 20 HU (the liver's noise is
  about 20 HU on this series): where the reference follows no visible boundary.

Each object's figures are listed too (``per_object``), beside its plane index and its NoC@85 with the simulated
user of ``gfm-napari evaluate --clicks 20``; ``by_edge`` splits the mean NoC@85 between the objects whose outline
mostly has an edge and those where half of it or more has none.

``--figure`` draws each structure's costliest object (highest NoC@85, then lowest tight-box IoU): the label's
outline in green, the tight-box mask in red, on the CT in its 40/400 window.

    python benchmarks/click_ceiling.py [--data ../shared/data] [-o ceiling.json] [--figure ceiling.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from scipy import ndimage

from gfm_napari.engine.cache import CacheKey
from gfm_napari.engine.predictor import Embedding, Predictor
from gfm_napari.engine.prompts import Prompts, ResizeLongestSide, box_from_mask
from gfm_napari.evaluation.clicker import iou, noc, simulate
from gfm_napari.evaluation.prompted import Selection, prepare
from gfm_napari.images import Normalization, Plane, read_image
from gfm_napari.models import DEFAULT_MODEL, load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LABELS = [1, 5, 6, 52, 63]  # spleen, liver, stomach, aorta, inferior vena cava: as benchmarks/clicks_proof.sh
NO_EDGE_HU = 20.0


def grid_round_trip(truth: np.ndarray, low_res: int) -> np.ndarray:
    """The label on the decoder's low-res grid (the plane's longest side = ``low_res`` cells) and back."""
    mask = torch.from_numpy(truth.astype(np.float32))[None, None]
    low = F.interpolate(mask, size=ResizeLongestSide(truth.shape, low_res).resized_shape, mode="area")
    return F.interpolate(low * 2 - 1, size=truth.shape, mode="bilinear", align_corners=False)[0, 0].numpy() > 0


def box_smoothed(truth: np.ndarray, width: int) -> np.ndarray:
    mask = torch.from_numpy(truth.astype(np.float32))[None, None]
    padded = F.pad(mask, (width // 2,) * 4, mode="replicate")
    return F.avg_pool2d(padded, width, stride=1)[0, 0].numpy() > 0.5


def zoomed_tight_box(predictor: Predictor, plane01: np.ndarray, truth: np.ndarray, factor: float = 3.0) -> np.ndarray:
    """The model's mask for the label's tight box, prompted in a square crop ``factor`` times the box's longest side."""
    x0, y0, x1, y1 = box_from_mask(truth)
    side = max(factor * max(x1 - x0, y1 - y0), 48.0)
    top, left = (max(int(round((a + b - side) / 2)), 0) for a, b in ((y0, y1), (x0, x1)))
    bottom, right = min(int(round(top + side)), truth.shape[0]), min(int(round(left + side)), truth.shape[1])
    crop = plane01[top:bottom, left:right]
    with torch.inference_mode():
        features = predictor.model.segmenter.encode(predictor.preprocess(crop).to(predictor.model.device))
    key = CacheKey(f"crop {top} {left}", None, None, predictor.model.model_id, "")
    embedding = Embedding(features, crop.shape, key)
    mask = np.zeros_like(truth)
    prompts = Prompts(box=(x0 - left, y0 - top, x1 - left, y1 - top))
    mask[top:bottom, left:right] = predictor.predict_prompts(embedding, prompts).mask
    return mask


def outline_steps(plane: np.ndarray, truth: np.ndarray, normalization: Normalization, reach: int = 2) -> np.ndarray:
    """Per outline pixel of ``truth``: |mean inside - mean outside| of the windowed CT values within ``reach`` px."""
    values = np.clip(plane.astype(np.float64), normalization.low[0], normalization.high[0])
    size = 2 * reach + 1
    inside, outside = truth.astype(np.float64), (~truth).astype(np.float64)

    def local_mean(weights: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(values * weights, size) / np.maximum(ndimage.uniform_filter(weights, size), 1e-9)

    outline = truth & ~ndimage.binary_erosion(truth)
    return np.abs(local_mean(inside) - local_mean(outside))[outline]


def draw_costliest(panels: list[tuple[str, dict, np.ndarray, np.ndarray, np.ndarray]], path: Path) -> None:
    """One panel per (structure, row, plane in [0, 1], label, tight-box mask), cropped around the label."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.2 * len(panels), 3.6), layout="constrained")
    for axes, (name, row, plane01, truth, boxed) in zip(figure.subplots(1, len(panels)), panels):
        rows, cols = np.flatnonzero(truth.any(1)), np.flatnonzero(truth.any(0))
        margin = max(12, (rows[-1] - rows[0]) // 3, (cols[-1] - cols[0]) // 3)
        window = (slice(max(rows[0] - margin, 0), rows[-1] + margin),
                  slice(max(cols[0] - margin, 0), cols[-1] + margin))
        axes.imshow(plane01[window], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes.contour(truth[window], [0.5], colors="lime", linewidths=1)
        axes.contour(boxed[window], [0.5], colors="red", linewidths=1)
        axes.set_title(f"{name}, plane {row['plane']}\nNoC@85 {row['NoC@85']}, tight box IoU {row['tight_box']:.2f}\n"
                       f"outline without edge {row['outline_without_edge']:.0%}", fontsize=9)
        axes.set_axis_off()
    figure.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("-o", "--out", type=Path)
    parser.add_argument("--figure", type=Path, help="draw each structure's costliest object into this PNG")
    args = parser.parse_args()
    series = args.data / "dicom_ct_series_totalseg"
    image = read_image(series / "series")
    model = load_model(DEFAULT_MODEL)
    selection = Selection(label_ids=LABELS, max_slices=8)
    setting = prepare(image, read_image(series / "example_seg_dicom.nii.gz"), model, selection)
    low_res = 4 * model.segmenter.embedding_size[0]  # SAM's decoder upsamples its embedding 4x
    report, panels = {}, []
    for label_id, objects in setting.objects(selection):
        rows, costliest = [], None
        for index, truth in objects:
            plane = Plane.at(image, setting.axis, index).take(image.array)
            plane01 = setting.normalization.apply(plane)
            embedding = setting.predictor.embed(image, setting.axis, index, normalization=setting.normalization)
            boxed = setting.predictor.predict_prompts(embedding, Prompts(box=box_from_mask(truth))).mask
            zoomed = zoomed_tight_box(setting.predictor, plane01, truth)
            steps = outline_steps(plane, truth, setting.normalization)
            values = {
                "grid_256": iou(grid_round_trip(truth, low_res), truth),
                "smooth_5px": iou(box_smoothed(truth, 5), truth),
                "tight_box": iou(boxed, truth),
                "tight_box_zoom3": iou(zoomed, truth),
                "edge_step_hu": float(np.median(steps)),
                "outline_without_edge": float(np.mean(steps < NO_EDGE_HU)),
                "NoC@85": noc(simulate(setting.predictor, embedding, truth, max_clicks=20).ious, 0.85),
            }
            rows.append({"plane": index, **{name: round(value, 3) for name, value in values.items()}})
            cost = (values["NoC@85"], -values["tight_box"])
            if costliest is None or cost > costliest[0]:
                costliest = (cost, rows[-1], plane01, truth, boxed)
        name = setting.names.get(label_id, str(label_id))
        means = {column: round(float(np.mean([row[column] for row in rows])), 3) for column in values}
        report[name] = {**means, "per_object": rows}
        panels.append((name.replace("_", " "), *costliest[1:]))
    rows = [row for structure in report.values() for row in structure["per_object"]]
    by_edge = {}
    for name, edgeless in (("mostly_edged", False), ("half_or_more_without_edge", True)):
        counts = [row["NoC@85"] for row in rows if (row["outline_without_edge"] >= 0.5) == edgeless]
        by_edge[name] = {"objects": len(counts), "NoC@85": round(float(np.mean(counts)), 2) if counts else None}
    report_all = {"model": model.model_id, "slices_per_structure": 8, "structures": report, "by_edge": by_edge}
    text = json.dumps(report_all, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.figure:
        draw_costliest(panels, args.figure)


if __name__ == "__main__":
    main()
