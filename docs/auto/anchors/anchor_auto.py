"""Session 27 (issue 20, measured, not kept): an automatic pass from anchor boxes instead of a grid of clicks.

One native 256 px window of the Atlanta tile (top-left corner ROW COL); box prompts on a grid of anchors (centres
every STRIDE px; squares of 8-48 px, 2:1 and 1:2 boxes of 16-48 px), decoded 8 per call; each answer scored by
predicted IoU, box consistency (IoU of the anchor and its mask's tight box), stability, votes (how many other
answers agree with it at mask IoU >= 0.7, on 4x pooled masks) and products of these; candidates taken greedily by
score (16 px .. half the window; at most 10 % over those kept, as the shipped pass). Prints, per score, how many of
the window's footprints (>= 50 px, >= 80 % inside) a kept mask matches at IoU >= 0.5, and how many any answer
reaches. Results: docs/auto/anchors/results.txt; the
decoded answers are kept in runs/ for the next run.
Usage (from the repository root; ~3 min a window at stride 16): python docs/auto/anchors/anchor_auto.py ROW COL STRIDE
"""
import sys, time
from pathlib import Path
import numpy as np, torch
from gfm_napari.images import read_image, fit_normalization
from gfm_napari.images.windowed import Window
from gfm_napari.models import load_model
from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.auto_window import stability_scores, suppressed
from gfm_napari.engine.click_search import _low_res_boxes, _box_iou
A = "../shared/data/sat_spacenet_atlanta_buildings"
image = read_image(f"{A}/sample_geotiff.tif")
labels = read_image(f"{A}/buildings_instances_derived.tif").array.squeeze()
pred = Predictor(load_model("litemedsam_clicks"))
norm = fit_normalization(image)
row0, col0 = int(sys.argv[1]), int(sys.argv[2])
stride = int(sys.argv[3]) if len(sys.argv) > 3 else 8
win = Window(row0, col0, 256, 256)
emb = pred.embed(image, None, None, normalization=norm, window=win)
seg = pred.decoder_for(emb)
shapes = ([(s, s) for s in (8, 12, 16, 24, 32, 48)] + [(2 * s, s) for s in (8, 12, 16, 24)]
          + [(s, 2 * s) for s in (8, 12, 16, 24)])
boxes = []
for w, h in shapes:
    for cx in np.arange(stride/2, 256, stride):
        for cy in np.arange(stride/2, 256, stride):
            boxes.append((max(0, cx-w/2), max(0, cy-h/2), min(255, cx+w/2), min(255, cy+h/2)))
boxes = torch.tensor(boxes, dtype=torch.float32)
t = time.time()
lab = labels[win.slices]
truths = [lab == i for i in np.unique(lab)[1:]
          if (lab == i).sum() >= 50 and (labels == i).sum() - (lab == i).sum() < 0.2 * (labels == i).sum()]
T = torch.from_numpy(np.stack(truths)).flatten(1).float()
cache = Path(f"runs/anchors_{row0}_{col0}_{stride}.pt")  # the decoded answers, to try other scores in seconds
if cache.exists():
    masks, S, stab, tight = torch.load(cache, weights_only=True)
else:
    M, S, stab, tight = [], [], [], []
    with torch.inference_mode():
        for i in range(0, len(boxes), 8):
            lg, sc = seg.decode(emb.features, boxes=boxes[i:i+8], multimask=False)
            lg = lg[:, 0].float()
            m = lg > 0
            M.append(m); S.append(sc[:, 0].float())
            stab.append(stability_scores(lg, 1.0))
            tight.append(_low_res_boxes(m, 1.0))
    masks = torch.cat(M); S = torch.cat(S); stab = torch.cat(stab); tight = torch.cat(tight)
    cache.parent.mkdir(exist_ok=True)
    torch.save((masks, S, stab, tight), cache)
f = masks.flatten(1).float(); inter = f @ T.T
iou = inter / (f.sum(1)[:, None] + T.sum(1)[None] - inter).clamp(min=1)
dt = time.time() - t
pooled = torch.nn.functional.avg_pool2d(masks[:, None].float(), 4)[:, 0].flatten(1) > 0.5
pf = pooled.float(); pi = pf @ pf.T; pa = pf.sum(1)
piou = pi / (pa[:, None] + pa[None] - pi).clamp(min=1)
votes = (piou >= 0.7).sum(1).float()
cons = _box_iou(boxes, tight).nan_to_num(0.0)
area = masks.flatten(1).sum(1)
print(f"window {row0},{col0}: {len(boxes)} anchors in {dt:.1f}s; {len(truths)} footprints; reachable (IoU>=0.5):",
      int((iou.max(0).values >= 0.5).sum()))
def select(score, max_overlap=0.1):
    order = [k for k in torch.argsort(score, descending=True).tolist()
             if 16 <= area[k] <= 256 * 256 / 2 and score[k] > 0]
    return suppressed(masks.numpy(), order, max_overlap)
valid = (S >= 0.5) & (stab >= 0.8)
SCORES = [("iou", S), ("iou*cons", S * cons), ("iou*cons*stab", S * cons * stab), ("cons", cons), ("votes", votes),
          ("votes*iou", votes * S), ("votes*cons", votes * cons), ("votes*iou*cons", votes * S * cons),
          ("iou filt", S * valid), ("iou*cons filt", S * cons * valid)]
selected = {name: select(score) for name, score in SCORES}
for name, kept in selected.items():
    m = iou[kept].max(0).values if kept else torch.zeros(len(truths))
    print(f"  {name:16s} kept {len(kept):4d}  matched {int((m >= 0.5).sum())} of {len(truths)}")
# why: each reached footprint's best answer against the masks kept (by predicted IoU x consistency) that cover it
kept = selected["iou*cons"]
for j in range(iou.shape[1]):
    k = int(torch.argmax(iou[:, j]))
    if iou[k, j] < 0.5:
        continue
    over = [q for q in kept if (masks[q] & masks[k]).sum() > 0.1 * area[k]]
    print(f"  footprint {j}: best answer {int(area[k])} px, IoU {iou[k, j]:.2f}, score {float(S[k] * cons[k]):.3f};"
          " kept over it: " + ", ".join(f"{int(area[q])} px score {float(S[q] * cons[q]):.3f}" for q in over))
