"""Experiment: a first click -> the image region (felzenszwalb superpixel) holding it -> its box + the click.

Session 27, tried and not kept (README, *Working windows*: "Tried and not kept"). Felzenszwalb's graph-based
segmentation of the working window (scikit-image) gives the region holding the click; its bounding box goes with the
click as the prompt (a region wider than half the window falls back to the plain click).

Usage (from the repository root): SP=scale,sigma,min_size[,pad] python docs/clicks/region_box/region_box.py evaluate ...
(SP unset: the plain path). Figures: docs/clicks/region_box/results.txt.
"""
import os
import sys

import numpy as np
from skimage.segmentation import felzenszwalb

from gfm_napari.engine import predictor as P
from gfm_napari.engine.prompts import Prompts, box_from_mask, clip_box

PLANES: dict[int, tuple] = {}  # id(embedding features) -> (those features, kept alive so the id stays theirs; plane)
SEGS: dict[tuple, np.ndarray] = {}
setting = os.environ.get("SP")

original_embed_many = P.Predictor.embed_many
original_predict = P.Predictor.predict_prompts


def embed_many(self, image, axis, indices, *, normalization, batch_size=4, window=None):
    out = original_embed_many(self, image, axis, indices, normalization=normalization, batch_size=batch_size,
                              window=window)
    for emb, index in zip(out, indices):
        plane = np.asarray(normalization.apply(P._plane_part(image, axis, index, window)), np.float32)
        PLANES[id(emb.features)] = (emb.features, plane)
    return out


def segments(key, plane, scale, sigma, min_size):
    k = (key, scale, sigma, min_size)
    if k not in SEGS:
        img = plane if plane.ndim == 2 else plane[..., :3]
        SEGS[k] = felzenszwalb(img, scale=scale, sigma=sigma, min_size=min_size,
                               channel_axis=None if img.ndim == 2 else -1)
    return SEGS[k]


def predict_prompts(self, embedding, prompts, mask_input=None, *, multimask=None, search=True):
    plane = PLANES.get(id(embedding.features), (None, None))[1]
    if setting is None or plane is None or not P.is_first_click(prompts, mask_input) or prompts.candidate:
        return original_predict(self, embedding, prompts, mask_input, multimask=multimask, search=search)
    parts = setting.split(",")
    scale, sigma, min_size = float(parts[0]), float(parts[1]), int(parts[2])
    pad = float(parts[3]) if len(parts) > 3 else 0.0
    seg = segments(id(embedding.features), plane, scale, sigma, min_size)
    x, y = prompts.points[0]
    region = seg == seg[int(round(y)), int(round(x))]
    box = box_from_mask(region)
    side = max(embedding.plane_shape)
    if box is None or max(box[2] - box[0], box[3] - box[1]) > side / 2:
        return original_predict(self, embedding, prompts, mask_input, multimask=multimask, search=search)
    box = (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)
    box = clip_box(box, embedding.plane_shape)
    return original_predict(self, embedding, Prompts(prompts.points, prompts.labels, box), mask_input,
                            multimask=False, search=False)


P.Predictor.embed_many = embed_many
P.Predictor.predict_prompts = predict_prompts

from gfm_napari.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
