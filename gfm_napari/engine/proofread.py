"""Correcting an existing object: its mask becomes the starting prediction that clicks refine.

SAM-family decoders take the previous prediction's low-res logits as mask input; an object drawn elsewhere (a
TotalSegmentator organ, a building footprint) has none, so its binary mask is turned into such logits
(:meth:`~gfm_napari.engine.predictor.Predictor.mask_input`) in the working window its bounding box gets, and the
bounding box itself is the box prompt. The next click is then decoded with box + click + mask input, as the model
would refine its own prediction.
"""

from __future__ import annotations

import numpy as np

from ..errors import PromptError
from .predictor import Prediction
from .prompts import Prompts, box_from_mask
from .zoom import PlaneSegmenter


def object_mask(labels: np.ndarray, axis: int | None, index: int | None, object_id: int) -> np.ndarray:
    """Object ``object_id``'s mask on a plane of ``labels`` (the whole array for a 2D image, ``axis`` None).

    Raises:
        PromptError: an id below 1, or the object is not on that plane (saying where it is in a volume).
    """
    if object_id < 1:
        raise PromptError(f"object ids start at 1 (0 is the background), got {object_id}")
    plane = labels if axis is None else np.take(labels, index, axis)
    mask = plane == object_id
    if mask.any():
        return mask
    if axis is None:
        raise PromptError(f"object {object_id} is not in the label map")
    on = np.flatnonzero((labels == object_id).any(axis=tuple(d for d in range(labels.ndim) if d != axis)))
    where = f"it is on slices {on[0]}..{on[-1]}" if on.size else "nor anywhere in the label map"
    raise PromptError(f"object {object_id} is not on slice {index} along axis {axis} ({where})")


def start_prediction(plane: PlaneSegmenter, mask: np.ndarray) -> tuple[Prompts, Prediction]:
    """The box prompt and the starting prediction (the mask itself, its low-res logits in the working window
    of the box) for an existing object's ``mask`` (bool (rows, cols)) on ``plane``."""
    box = box_from_mask(mask)
    if box is None:
        raise PromptError("the object is empty on this plane: nothing to start from")
    prompts = Prompts(box=box)
    window = plane.window_for(prompts)
    local = mask if window is None else mask[window.slices]
    logits = plane.predictor.mask_input(local)
    return prompts, Prediction(np.asarray(mask, bool).copy(), float("nan"), logits, window)
