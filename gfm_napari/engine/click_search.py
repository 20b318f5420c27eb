"""One positive click → a search over square boxes centred on it (the "box-search" click strategy).

SAM-family decoders follow boxes far better than a lone click (satellite buildings and fields: a click gives
Dice ~0.1, a box ~0.8), so the first click of an object is turned into box prompts:

1. square boxes centred on the click, half-sizes a fixed fraction of the plane's longest side (so a 512² CT slice
   and a 256 px tile behave alike), plus the tight box of the plain click prediction; the click itself goes with
   every box as a positive point (measured better than the boxes alone) and a candidate must cover the click;
2. every candidate is re-prompted ``rounds`` times with the tight box of its own mask;
3. the candidate kept is the one most consistent with its mask: IoU(its last box, tight box of its mask) × the
   decoder's predicted IoU (the predicted IoU alone picks worse).

All candidates of a round go through the decoder in one batched call (``Segmenter.decode`` with K boxes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .predictor import Embedding, Prediction, Predictor
from .prompts import ResizeLongestSide, box_from_mask, clip_box

# half-sizes of the square boxes, as fractions of the plane's longest side (2..16 px on a 256 px plane): on held-apart
# satellite objects 2..16 beat 4..32 and 4..64 (large squares win the consistency score with masks of whole blocks)
HALF_SIZES: tuple[float, ...] = (2 / 256, 4 / 256, 8 / 256, 16 / 256)
ROUNDS = 2  # re-prompts of each candidate with its own mask's tight box


def search_click(
    predictor: Predictor,
    embedding: Embedding,
    point: Sequence[float],
    *,
    half_sizes: Sequence[float] = HALF_SIZES,
    rounds: int = ROUNDS,
    with_point: bool = True,
    with_direct: bool = True,
    require_click: bool = True,
) -> Prediction:
    """The mask for one positive click at ``point`` (x, y) found by a box search (see the module doc).

    Args:
        half_sizes: square half-sizes as fractions of the plane's longest side.
        rounds: re-prompts of each candidate with the tight box of its mask.
        with_point: also give the click itself as a positive point in every prompt set.
        with_direct: add the plain click prediction (its mask's tight box) as one more candidate.
        require_click: keep only candidates whose mask covers the click.
    """
    shape = embedding.plane_shape
    x, y = float(point[0]), float(point[1])
    side = max(shape)
    segmenter = predictor.decoder_for(embedding)
    device = predictor.model.device
    resize = ResizeLongestSide(shape, predictor.model.spec.input_size)
    plane_boxes: list[tuple[float, float, float, float]] = []
    for fraction in half_sizes:
        h = max(fraction * side, 1.0)
        plane_boxes.append(clip_box((x - h, y - h, x + h, y + h), shape))
    direct = None
    if with_direct:
        direct = predictor.predict(embedding, np.array([[x, y]]), np.array([1]), multimask=True, search=False)
        tight = box_from_mask(direct.mask)
        if tight is not None:
            plane_boxes.append(tight)
    if not plane_boxes:
        return direct
    # the search runs in the model's input frame on the low-res logits; only the winner is upscaled to the plane
    boxes = torch.as_tensor(np.stack([resize.box(b) for b in plane_boxes]), dtype=torch.float32)
    k = len(plane_boxes)
    click = resize.points(np.array([[x, y]]))[0]
    point_args = None
    if with_point:
        coords = torch.as_tensor(click, dtype=torch.float32, device=device).view(1, 1, 2).expand(k, 1, 2)
        point_args = (coords, torch.ones((k, 1), dtype=torch.int64, device=device))
    rows, cols = resize.resized_shape
    for round_ in range(rounds + 1):
        with torch.inference_mode():
            logits, scores = segmenter.decode(
                embedding.features, points=point_args, boxes=boxes.to(device), multimask=False
            )
        scale = predictor.model.spec.input_size / logits.shape[-1]
        masks = (logits[:, 0] > segmenter.mask_threshold).cpu()
        masks = masks[:, : int(np.ceil(rows / scale)), : int(np.ceil(cols / scale))]
        tight = _low_res_boxes(masks, scale)
        if round_ < rounds:  # re-prompt with each candidate's tight box (an empty mask keeps its box)
            boxes = torch.where(torch.isnan(tight), boxes, tight)
    consistency = _box_iou(boxes, tight).nan_to_num(0.0) * scores[:, 0].cpu()
    if require_click:
        r, c = int(min(click[1] / scale, masks.shape[1] - 1)), int(min(click[0] / scale, masks.shape[2] - 1))
        consistency = consistency * masks[:, r, c]
    best = int(torch.argmax(consistency))
    if direct is not None and float(consistency[best]) <= 0.0:
        return direct
    low_res = logits[best : best + 1, :1].clone()
    mask = (predictor.upscale(low_res, shape)[0, 0] > segmenter.mask_threshold).cpu().numpy()
    if embedding.valid is not None:
        mask &= embedding.valid
    return Prediction(mask, float(scores[best, 0]), low_res)


def _low_res_boxes(masks: torch.Tensor, scale: float) -> torch.Tensor:
    """Tight boxes (K, 4) of low-res masks (K, l, l) in the input frame (inclusive corners, as
    :func:`box_from_mask`); NaN rows for empty masks."""
    any_rows, any_cols = masks.any(dim=2), masks.any(dim=1)
    out = torch.full((len(masks), 4), float("nan"))
    for i in range(len(masks)):
        r = torch.nonzero(any_rows[i]).flatten()
        c = torch.nonzero(any_cols[i]).flatten()
        if len(r):
            out[i] = torch.tensor([c[0] * scale, r[0] * scale, (c[-1] + 1) * scale - 1, (r[-1] + 1) * scale - 1])
    return out


def _box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise IoU of (K, 4) boxes (NaN where either is NaN)."""
    iw = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = iw * ih
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / union.clamp(min=1e-6)
