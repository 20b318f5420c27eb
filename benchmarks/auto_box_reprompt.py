"""Does re-prompting the automatic pass's candidates with boxes find more Atlanta buildings? (issue 20's raster
recall; measured, not shipped)

    python benchmarks/auto_box_reprompt.py [--data ../shared/data] [--size 512] [-o report.json]   # ~5 min, 2 cores

The raw candidates of the grid's clicks over the tile's top-left ``size``² px (as ``auto_selection.py``; any
predicted IoU >= 0.2, area filter as the product), each distinct bounding box re-prompted twice with the box of its
own mask (a box is what the model segments best: box Dice 0.80 on these buildings against 0.60 for a click). Each
refined mask is scored by its predicted IoU, or by that times its *box consistency* (IoU of the prompt box and the
mask's box), then suppressed, merged across seams and painted as the pass does; matched to the footprints at
IoU >= 0.5. The 8-bit model, the raster prompt path.
"""

from __future__ import annotations

import numpy as np
import torch

from auto_selection import atlanta, pass_matches, raw_candidates
from report import emit  # benchmarks/report.py (run as a script, its folder is on the path)

from gfm_napari.engine.auto import auto_windows
from gfm_napari.engine.auto_window import AutoSettings, Candidate, suppressed
from gfm_napari.engine.prompts import ResizeLongestSide, box_from_mask
from gfm_napari.engine.tiles import touches_inner_edge
from gfm_napari.engine.zoom import zoom_above
from gfm_napari.images.windowed import Window

BATCH = 16


def box_iou(a, b) -> float:
    """IoU of two (x0, y0, x1, y1) boxes (one pair; ``engine.click_search`` has the row-wise tensor form)."""
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return width * height / union if union > 0 else 0.0


def box_masks(predictor, embedding, boxes: list) -> tuple[np.ndarray, np.ndarray]:
    """One mask and predicted IoU per box (plane pixels), decoded in batches."""
    rows, cols = embedding.plane_shape
    resize = ResizeLongestSide((rows, cols), predictor.model.spec.input_size)
    masks, scores = [], []
    for start in range(0, len(boxes), BATCH):
        prompts = torch.as_tensor(np.stack([resize.box(box) for box in boxes[start : start + BATCH]]),
                                  dtype=torch.float32)
        with torch.inference_mode():
            logits, iou = predictor.decoder_for(embedding).decode(embedding.features, boxes=prompts)
            masks.append((predictor.upscale(logits, (rows, cols))[:, 0] > 0).numpy())
        scores.append(iou[:, 0].numpy())
    return np.concatenate(masks), np.concatenate(scores)


def refined(setting, image, window: Window, settings: AutoSettings) -> dict:
    raw = raw_candidates(setting, image, window, settings)
    embedding = setting.predictor.embed(image, None, None, normalization=setting.normalization, window=window)
    area = raw["mask"].reshape(len(raw["mask"]), -1).sum(1)
    fits = settings.fits_area(area, window.rows * window.cols) & (raw["score"] >= 0.2)
    boxes = list(dict.fromkeys(box_from_mask(raw["mask"][i]) for i in np.flatnonzero(fits)))
    masks, _ = box_masks(setting.predictor, embedding, boxes)
    boxes = [box_from_mask(mask) or box for mask, box in zip(masks, boxes)]  # the second round: each mask's own box
    masks, scores = box_masks(setting.predictor, embedding, boxes)
    consistency = np.array([box_iou(box, box_from_mask(mask)) if mask.any() else 0.0
                            for box, mask in zip(boxes, masks)])
    return {"window": window, "mask": masks, "score": scores, "consistency": consistency}


def matched(windows: list[dict], shape, truth, size: int, rank_by_consistency: bool, min_consistency: float,
            settings: AutoSettings) -> dict:
    kept = []
    for w in windows:
        rank = w["score"] * w["consistency"] if rank_by_consistency else w["score"]
        index = np.flatnonzero(w["consistency"] >= min_consistency)
        for i in suppressed(w["mask"], index[np.argsort(-rank[index], kind="stable")].tolist(), settings.max_overlap):
            kept.append(Candidate(w["window"], w["mask"][i], float(w["score"][i]), 1.0,
                                  touches_inner_edge(w["window"], shape, w["mask"][i])))
    return pass_matches(kept, shape, truth, size, settings)


def main() -> None:
    args, image, setting, truth = atlanta(__doc__.splitlines()[0], "int8")
    shape, settings = image.plane_shape(None), AutoSettings()
    windows = [refined(setting, image, w, settings)
               for w in auto_windows(Window(0, 0, args.size, args.size), shape, 256, zoom_above(image.modality))]
    report = {"region": [0, 0, args.size, args.size], "refined_candidates": sum(len(w["mask"]) for w in windows),
              "rules": {}}
    for by_consistency in (False, True):
        for least in (0.0, 0.9):
            name = (f"rank by predicted IoU{' x box consistency' if by_consistency else ''}, "
                    f"box consistency >= {least}")
            report["rules"][name] = matched(windows, shape, truth, args.size, by_consistency, least, settings)
            print(name, report["rules"][name], flush=True)
    emit(report, args.output)


if __name__ == "__main__":
    main()
