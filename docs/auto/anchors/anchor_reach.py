"""Session 27 (issue 20, measured, not kept): can box prompts reach the Atlanta footprints at all?

For each SpaceNet footprint of the 900 px tile (>= 50 px), every box of a global anchor grid (centres every 8 px;
squares of 8-64 px, 2:1 and 1:2 boxes of 16-64 px) whose IoU with the footprint's tight box is >= 0.5 is given
as a box prompt (working windows as for any prompt); the best mask IoU is kept. Results: docs/auto/anchors/results.txt.
Usage (from the repository root, ~1 min): python docs/auto/anchors/anchor_reach.py
(per footprint: runs/anchor_reach.json)
"""
import json
from pathlib import Path
import numpy as np
import torch
from gfm_napari.images import read_image, fit_normalization
from gfm_napari.models import load_model
from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.zoom import PlaneSegmenter
from gfm_napari.engine.prompts import Prompts, box_from_mask
from gfm_napari.engine.click_search import _box_iou
A = "../shared/data/sat_spacenet_atlanta_buildings"
image = read_image(f"{A}/sample_geotiff.tif")
labels = read_image(f"{A}/buildings_instances_derived.tif").array.squeeze()
model = load_model("litemedsam_clicks")
pred = Predictor(model)
plane = PlaneSegmenter(pred, image, None, None, fit_normalization(image))
H, W = labels.shape
sizes = ([(s, s) for s in (8, 12, 16, 24, 32, 48, 64)] + [(2 * s, s) for s in (8, 12, 16, 24, 32)]
         + [(s, 2 * s) for s in (8, 12, 16, 24, 32)])
def biou(a, b):
    return float(_box_iou(torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64))[0])
res = []
for lid in np.unique(labels)[1:]:
    truth = labels == lid
    if truth.sum() < 50: continue
    tb = box_from_mask(truth)
    cands = []
    for w, h in sizes:
        for cx in np.arange(4, W, 8):
            if abs(cx - (tb[0]+tb[2])/2) > 40: continue
            for cy in np.arange(4, H, 8):
                if abs(cy - (tb[1]+tb[3])/2) > 40: continue
                b = (max(0, cx - w/2), max(0, cy - h/2), min(W, cx + w/2), min(H, cy + h/2))
                if biou(b, tb) >= 0.5: cands.append(b)
    best = 0.0
    for b in cands:
        p = plane.predict(Prompts(box=b), feedback=False)
        best = max(best, (p.mask & truth).sum() / (p.mask | truth).sum())
    tight = plane.predict(Prompts(box=tb), feedback=False).mask
    ti = (tight & truth).sum() / (tight | truth).sum()
    res.append((int(lid), len(cands), float(best), float(ti)))
    print(res[-1], flush=True)
r = np.array([x[2] for x in res]); t = np.array([x[3] for x in res])
print("anchors best IoU>=0.5:", (r >= 0.5).sum(), "of", len(r), "tight box IoU>=0.5:", (t >= 0.5).sum(),
      "mean best", r.mean())
Path("runs").mkdir(exist_ok=True)
json.dump(res, open("runs/anchor_reach.json", "w"))
