"""Prompts given on the command line: the --point clicks as arrays, a --box clipped to the plane."""

from __future__ import annotations

import argparse

from .progress import warn


def clicks(args: argparse.Namespace):
    """``--point`` clicks as (points [N, 2] float64 x, y; labels [N] int64, 1 positive, 0 negative)."""
    import numpy as np

    points = np.array([(x, y) for x, y, _ in args.point], dtype=np.float64).reshape(-1, 2)
    labels = np.array([label for _, _, label in args.point], dtype=np.int64)
    return points, labels


def fit_box(box, plane_shape: tuple[int, int]):
    """``box`` clipped to the plane (a warning says so); PromptError when it is empty or outside the plane."""
    from ..engine.prompts import clip_box

    if box is None:
        return None
    clipped = clip_box(box, plane_shape)
    if clipped != tuple(box):
        rows, cols = plane_shape
        warn(f"the box ({', '.join(f'{v:g}' for v in box)}) reaches past the {cols}x{rows} (x by y) image: "
             f"clipped to ({', '.join(f'{v:g}' for v in clipped)})")
    return clipped
