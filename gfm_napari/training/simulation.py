"""Prompts simulated as users give them, in the decoder's frame: a first click, a jittered box, corrections.

Corrections follow the RITM rule (:func:`gfm_napari.evaluation.clicker.next_click`): the next click goes to the
interior of the largest error region, positive in a miss, negative in a false alarm.
"""

from __future__ import annotations

import numpy as np

from ..engine.prompts import depth_map


def first_click(target: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """(x, y) inside ``target``: half the time its most interior pixel, else a random pixel at least a third as
    deep as that one (users click inside, rarely on the rim)."""
    distance = depth_map(target)
    if rng.random() < 0.5:
        row, col = np.unravel_index(int(np.argmax(distance)), target.shape)
    else:
        rows, cols = np.nonzero(distance >= max(1.0, distance.max() / 3))
        pick = rng.integers(len(rows))
        row, col = rows[pick], cols[pick]
    return float(col), float(row)


def jittered_box(target: np.ndarray, rng: np.random.Generator, jitter: float = 0.1) -> np.ndarray:
    """The tight (x0, y0, x1, y1) box of ``target``, each side moved by up to ``jitter`` of the box's size."""
    rows, cols = np.nonzero(target)
    x0, x1, y0, y1 = cols.min(), cols.max(), rows.min(), rows.max()
    width, height = x1 - x0 + 1, y1 - y0 + 1
    shift = rng.uniform(-jitter, jitter, 4) * np.array([width, height, width, height])
    limit = target.shape[1] - 1, target.shape[0] - 1
    box = np.array([x0, y0, x1, y1], float) + shift
    box[[0, 2]] = np.clip(box[[0, 2]], 0, limit[0])
    box[[1, 3]] = np.clip(box[[1, 3]], 0, limit[1])
    if box[2] <= box[0] or box[3] <= box[1]:
        return np.array([x0, y0, x1, y1], float)
    return box
