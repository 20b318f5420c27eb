"""Where the automatic pass loses the Atlanta buildings: every raw candidate of the windows over a region, then how
many footprints each selection rule keeps at IoU >= 0.5 (issue 20's raster recall).

    python benchmarks/auto_selection.py [--data ../shared/data] [--size 512] [-o report.json]   # ~15 min, 2 cores

Per footprint in the region's top-left ``size``² px (the 9 native 256 px windows of the pass): the best IoU of any
candidate of the grid's clicks (three per click, no filter), and of those the filters keep. Then the whole pass
(filters, suppression, seams, label map) under each rule: the product's filters, looser ones, none, and a
*consensus* score (how many other clicks of the window give a mask at IoU >= ``agree`` with it). Float encoder, the
raster prompt path, as ``gfm-napari evaluate --auto`` runs it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from report import emit  # benchmarks/report.py (run as a script, its folder is on the path)

from gfm_napari.engine.auto import auto_windows, merge_across_windows, paint_objects
from gfm_napari.engine.auto_window import AutoSettings, Candidate, point_grid, stability_scores, suppressed
from gfm_napari.engine.prompts import ResizeLongestSide
from gfm_napari.engine.tiles import touches_inner_edge
from gfm_napari.engine.zoom import zoom_above
from gfm_napari.evaluation.automatic import match_objects, truth_objects
from gfm_napari.evaluation.prompted import Selection, prepare
from gfm_napari.images import read_image
from gfm_napari.images.windowed import Window
from gfm_napari.models import load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def raw_candidates(setting, image, window: Window, settings: AutoSettings) -> dict:
    """Every candidate of the window's grid: masks, predicted IoU, stability, the click that made it."""
    predictor = setting.predictor
    embedding = predictor.embed(image, None, None, normalization=setting.normalization, window=window)
    rows, cols = embedding.plane_shape
    resize = ResizeLongestSide((rows, cols), predictor.model.spec.input_size)
    grid = point_grid(settings.grid_side(rows, cols), rows, cols)
    masks, scores, stabilities, clicks = [], [], [], []
    for start in range(0, len(grid), settings.points_per_batch):
        batch = grid[start : start + settings.points_per_batch]
        coords = torch.as_tensor(resize.points(batch), dtype=torch.float32)[:, None]
        labels = torch.ones(coords.shape[:2], dtype=torch.int64)
        with torch.inference_mode():
            logits, iou = predictor.decoder_for(embedding).decode(embedding.features, points=(coords, labels),
                                                                   multimask=True)
            up = predictor.upscale(logits.flatten(0, 1)[:, None], (rows, cols))[:, 0]
        stabilities.append(stability_scores(up, settings.stability_offset).numpy())
        masks.append((up > 0).numpy())
        scores.append(iou.flatten().numpy())
        clicks.append(np.repeat(np.arange(start, start + len(batch)), 3))
    return {"window": window, "mask": np.concatenate(masks), "score": np.concatenate(scores),
            "stability": np.concatenate(stabilities), "click": np.concatenate(clicks)}


def consensus(mask: np.ndarray, click: np.ndarray, agree: float) -> np.ndarray:
    """For each mask: how many other clicks gave a mask at IoU >= ``agree`` with it."""
    flat = torch.from_numpy(mask.reshape(len(mask), -1)).float()
    inter = flat @ flat.T
    area = flat.sum(1)
    iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=1)
    hit = ((iou >= agree) & torch.from_numpy(click[:, None] != click[None, :])).numpy()
    return np.array([len(np.unique(click[row])) for row in hit])


def selected(windows: list[dict], shape, truth, min_score: float, min_stability: float, agree: float | None,
             settings: AutoSettings) -> dict:
    """The whole pass over the stored candidates with one selection rule, matched to the truth."""
    kept: list[Candidate] = []
    for w in windows:
        area = w["mask"].reshape(len(w["mask"]), -1).sum(1)
        ok = settings.fits_area(area, w["window"].rows * w["window"].cols)
        ok &= (w["score"] >= min_score) & (w["stability"] >= min_stability)
        index = np.flatnonzero(ok)
        rank = w["score"][index]
        if agree is not None:
            votes = consensus(w["mask"][index], w["click"][index], agree)
            index, rank = index[votes >= 1], (votes + w["score"][index])[votes >= 1]
        for i in suppressed(w["mask"], index[np.argsort(-rank, kind="stable")].tolist(), settings.max_overlap):
            kept.append(Candidate(w["window"], w["mask"][i], float(w["score"][i]), float(w["stability"][i]),
                                  touches_inner_edge(w["window"], shape, w["mask"][i])))
    return pass_matches(kept, shape, truth, max(w["window"].row + w["window"].rows for w in windows), settings)


def pass_matches(kept: list[Candidate], shape, truth, size: int, settings: AutoSettings) -> dict:
    """The pass's end over the candidates kept in each window (seams merged, label map painted), matched to the
    footprints of the top-left ``size``² px."""
    labels, _ = paint_objects(merge_across_windows(kept), shape, settings.min_area)
    result = match_objects(truth[:size, :size], labels[:size, :size])
    return {"matched": result["matched"], "truth": result["truth"], "found": result["found"]}


def atlanta(description: str, precision: str):
    """The command line (``--data``, ``--size``, ``-o``) and the Atlanta tile: ``(args, image, setting, truth)``,
    the evaluation setting on the raster prompt path in ``precision`` and the footprints as object ids."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    folder = args.data / "sat_spacenet_atlanta_buildings"
    image = read_image(folder / "sample_geotiff.tif")
    setting = prepare(image, read_image(folder / "buildings_instances_derived.tif"),
                      load_model("litemedsam_clicks", device="cpu", precision=precision), Selection(instances=True))
    return args, image, setting, truth_objects(setting.labels, 50, True)


def main() -> None:
    args, image, setting, truth = atlanta(__doc__.splitlines()[0], "float")
    shape = image.plane_shape(None)
    settings = AutoSettings()
    windows = [raw_candidates(setting, image, w, settings)
               for w in auto_windows(Window(0, 0, args.size, args.size), shape, 256, zoom_above(image.modality))]
    best_raw: dict[int, float] = {}
    best_kept: dict[int, float] = {}
    good = []  # per candidate: does it reach IoU >= 0.5 with a footprint
    for w in windows:
        part = truth[w["window"].slices]
        passes = (w["score"] >= settings.min_predicted_iou) & (w["stability"] >= settings.min_stability)
        for mask, keep in zip(w["mask"], passes):
            best = 0.0
            for t in np.unique(part[mask]):
                if t == 0:
                    continue
                inside = int(np.count_nonzero(mask & (part == t)))
                iou = inside / (int(mask.sum()) + int(np.count_nonzero(truth == t)) - inside)
                best = max(best, iou)
                best_raw[int(t)] = max(best_raw.get(int(t), 0.0), iou)
                if keep:
                    best_kept[int(t)] = max(best_kept.get(int(t), 0.0), iou)
            good.append(best >= 0.5)
    good = np.array(good)
    scores = np.concatenate([w["score"] for w in windows])
    stabilities = np.concatenate([w["stability"] for w in windows])
    footprints = [int(t) for t in np.unique(truth[: args.size, : args.size]) if t]
    report = {
        "region": [0, 0, args.size, args.size],
        "windows": len(windows),
        "footprints": len(footprints),
        "reachable_by_any_candidate": sum(best_raw.get(t, 0) >= 0.5 for t in footprints),
        "reachable_after_filters": sum(best_kept.get(t, 0) >= 0.5 for t in footprints),
        "candidates": int(len(good)),
        "candidates_at_iou_0.5": int(good.sum()),
        "median_predicted_iou": {"those": round(float(np.median(scores[good])), 3),
                                 "all": round(float(np.median(scores)), 3)},
        "median_stability": {"those": round(float(np.median(stabilities[good])), 3),
                             "all": round(float(np.median(stabilities)), 3)},
        "rules": {},
    }
    for name, (score, stability, agree) in {
        "product (predicted IoU >= 0.5, stability >= 0.8)": (0.5, 0.8, None),
        "predicted IoU >= 0.4, stability >= 0.7": (0.4, 0.7, None),
        "no filter": (0.0, 0.0, None),
        "consensus: another click agrees at IoU >= 0.6": (0.0, 0.0, 0.6),
        "consensus: another click agrees at IoU >= 0.75": (0.0, 0.0, 0.75),
    }.items():
        report["rules"][name] = selected(windows, shape, truth, score, stability, agree, settings)
        print(name, report["rules"][name], flush=True)
    emit(report, args.output)


if __name__ == "__main__":
    main()
