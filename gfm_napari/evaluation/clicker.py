"""Simulated clicks (the RITM / SimpleClick rule), NoC@IoU and mIoU@k.

A simulated user looks at the current error and clicks the pixel deepest inside the largest error region:

* false negatives ``fn = truth & ~pred`` and false positives ``fp = ~truth & pred``;
* the Euclidean distance transform of each map, padded by one pixel of zeros first so that the image border
  bounds a region like any other edge (then cropped back); pixels already clicked are never chosen again;
* a positive click (label 1) at the deepest false negative when its depth is at least the deepest false
  positive's, otherwise a negative click (label 0) at the deepest false positive (ties: first in row-major order).

The first click may instead be drawn at random from the object's inner half (:func:`first_click` with
``"random"``: uniform over the pixels at least half the maximum depth from the border), to measure how much the
result depends on where the first click lands; the clicks after it follow the rule above.

With ``next_mask``, the user also uses the dock's Next mask after the first click: they press it until the best of
the click's three masks (by IoU) is shown, 0-2 presses in the model's rank order, each counted as one prompt of the
session, and correct that mask. This user is optimistic by up to two prompts: they stop at the best mask without
pressing on to see that the later ones are worse.

Coordinates follow SAM: a click is ``(x, y, label)`` with x = column, y = row, in plane pixels. Masks are bool
arrays (rows, cols). Pure numpy/scipy apart from the :class:`~gfm_napari.engine.zoom.PlaneSegmenter` driven by
:func:`simulate` (whose tensors are used through their own methods: this module does not import torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ..engine.prompts import CANDIDATES, NEGATIVE, POSITIVE, Prompts, box_from_mask, depth_map
from ..errors import GfmError

if TYPE_CHECKING:
    from ..engine.zoom import PlaneSegmenter

Click = tuple[int, int, int]  # (x = column, y = row, label 1 / 0)
STARTS = ("click", "box")
FIRST_CLICKS = ("center", "random")
DEFAULT_TARGETS = (0.80, 0.85, 0.90)


@dataclass(frozen=True)
class ClickTrace:
    """One simulated session on one object.

    ``ious[k - 1]`` is the IoU after ``k`` prompts (length ``max_clicks``; padded with the last value when the
    session stopped early because no error was left). ``clicks`` are the clicks given, ``(x, y, label)``.
    ``start`` is ``"click"`` or ``"box"``; with ``"box"`` the box is prompt number 1 and ``ious[0]`` its IoU.
    """

    ious: tuple[float, ...]
    clicks: tuple[Click, ...]
    start: str
    presses: int = 0  # Next mask presses after the first click (each one prompt: they are in ``ious``)

    @property
    def max_clicks(self) -> int:
        return len(self.ious)


def iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two bool masks of the same shape; 1.0 when both are empty."""
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    union = int(np.logical_or(prediction, truth).sum())
    return 1.0 if union == 0 else int(np.logical_and(prediction, truth).sum()) / union


def next_click(prediction: np.ndarray, truth: np.ndarray, clicked: np.ndarray | None = None) -> Click | None:
    """The next simulated click ``(x, y, label)`` for a (rows, cols) ``prediction`` against ``truth``.

    ``clicked`` (bool, rows × cols) marks pixels already clicked: they are never chosen again. As in RITM the
    distance transform is taken on the whole error map and clicked pixels are then ruled out. Returns None
    when no (unclicked) error pixel is left.
    """
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    if prediction.shape != truth.shape or truth.ndim != 2:
        raise ValueError(f"prediction {prediction.shape} and truth {truth.shape} must be the same 2D shape")
    fn_depth = depth_map(truth & ~prediction)
    fp_depth = depth_map(~truth & prediction)
    if clicked is not None:
        clicked = np.asarray(clicked, bool)
        if clicked.shape != truth.shape:
            raise ValueError(f"clicked {clicked.shape} must have the shape of truth {truth.shape}")
        fn_depth[clicked] = 0.0
        fp_depth[clicked] = 0.0
    fn_max, fp_max = float(fn_depth.max()), float(fp_depth.max())
    if fn_max == 0.0 and fp_max == 0.0:
        return None
    depth, label = (fn_depth, POSITIVE) if fn_max >= fp_max else (fp_depth, NEGATIVE)
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return int(col), int(row), int(label)


def inner_half(truth: np.ndarray) -> np.ndarray:
    """The pixels of a 2D bool ``truth`` whose depth (:func:`~gfm_napari.engine.prompts.depth_map`: Euclidean
    distance to the nearest pixel outside, the image border counting as outside) is at least half the maximum."""
    depth = depth_map(np.asarray(truth, bool))
    peak = float(depth.max())
    if peak == 0.0:
        raise ValueError("truth is empty: nothing to click on")
    return depth >= peak / 2


def object_rng(seed: int, *key: int) -> np.random.Generator:
    """A Generator for one object, seeded from ``(seed, *key)`` (non-negative ints, e.g. label id and the object's
    position among that label's objects), so that a draw does not depend on which objects were drawn before."""
    if seed < 0 or any(k < 0 for k in key):
        raise ValueError(f"seed and key must be non-negative integers, not {(seed, *key)}")
    return np.random.default_rng([int(seed), *(int(k) for k in key)])


def check_first_click(mode: str, seed: int, *, start: str = "click") -> None:
    """GfmError unless ``mode`` is one of :data:`FIRST_CLICKS`, the session starts with a click where the mode is
    not the default, and ``seed`` is non-negative (the options of ``evaluate --first-click``)."""
    if mode not in FIRST_CLICKS:
        raise GfmError(f"the first click must be one of {', '.join(FIRST_CLICKS)}, not {mode!r}")
    if mode != "center" and start != "click":
        raise GfmError(f"a {mode} first click needs the session to start with a click, not a {start}")
    if seed < 0:
        raise GfmError(f"the seed must be a non-negative integer, not {seed}")


def first_click(truth: np.ndarray, mode: str = "center", rng: np.random.Generator | None = None) -> Click:
    """The first (positive) click ``(x, y, 1)`` on an object ``truth`` (2D bool, not empty).

    ``"center"``: the RITM rule on an empty prediction, i.e. the object's most interior pixel (ties: first in
    row-major order). ``"random"``: uniform over :func:`inner_half` (pixels at least half the maximum depth from
    the border), drawn with ``rng`` (required).
    """
    if mode not in FIRST_CLICKS:
        raise ValueError(f"first click must be one of {FIRST_CLICKS}, not {mode!r}")
    truth = np.asarray(truth, bool)
    if truth.ndim != 2:
        raise ValueError(f"truth must be 2D, not {truth.shape}")
    if not truth.any():
        raise ValueError("truth is empty: nothing to click on")
    if mode == "center":
        click = next_click(np.zeros_like(truth), truth)
        assert click is not None
        return click
    if rng is None:
        raise ValueError("a random first click needs a numpy Generator (rng)")
    rows, cols = np.nonzero(inner_half(truth))
    pick = int(rng.integers(rows.size))
    return int(cols[pick]), int(rows[pick]), int(POSITIVE)


def simulate(
    plane: PlaneSegmenter,
    truth: np.ndarray,
    *,
    start: str = "click",
    max_clicks: int = 20,
    feed_logits: bool = True,
    threshold: float = 0.49,
    first: str = "center",
    rng: np.random.Generator | None = None,
    next_mask: bool = False,
) -> ClickTrace:
    """Simulate up to ``max_clicks`` prompts on one object ``truth`` (bool, ``plane.plane_shape``).

    ``start="click"``: the first prompt is a click by :func:`next_click` from an empty prediction.
    ``start="box"``: the first prompt is the truth's tight box (:func:`box_from_mask`) and counts as prompt
    number 1; the clicks that follow keep the box. Each prediction uses every click so far (and the box), with
    the previous low-res logits as ``mask_input`` when ``feed_logits`` (an object keeps its working window
    either way); the mask is ``sigmoid(logits) > threshold`` on the plane grid (0.49 as in RITM, not the
    predictor's ``> 0.5`` mask). Stops early only when no error is left. ``first`` (with ``start="click"`` only)
    chooses the first click by :func:`first_click` (``"random"`` draws it with ``rng``); every later click follows
    :func:`next_click`. ``next_mask`` (with ``start="click"``): the first click's mask is the best of its three,
    reached by Next mask presses that count as prompts (module docstring).
    """
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}, not {start!r}")
    if first not in FIRST_CLICKS:
        raise ValueError(f"first click must be one of {FIRST_CLICKS}, not {first!r}")
    if first != "center" and start != "click":
        raise ValueError(f"a {first} first click applies to start='click' only")
    if next_mask and start != "click":
        raise ValueError("Next mask applies to a first click (start='click') only")
    if max_clicks < 1:
        raise ValueError(f"max_clicks must be at least 1, not {max_clicks}")
    truth = np.asarray(truth, bool)
    if truth.shape != tuple(plane.plane_shape):
        raise ValueError(f"truth {truth.shape} does not match the plane {tuple(plane.plane_shape)}")
    if not truth.any():
        raise ValueError("truth is empty: nothing to click on")

    def predict(prompts: Prompts, previous):
        result = plane.predict(prompts, previous, feedback=feed_logits)
        return np.asarray(plane.plane_logits(result).sigmoid().cpu().numpy() > threshold), result

    box = box_from_mask(truth) if start == "box" else None
    prediction = np.zeros_like(truth)
    last = None
    ious: list[float] = []
    if box is not None:
        prediction, last = predict(Prompts(box=box), None)
        ious.append(iou(prediction, truth))
    clicks: list[Click] = []
    presses = 0
    clicked = np.zeros_like(truth)
    while len(ious) < max_clicks:
        if not clicks and box is None:
            click = first_click(truth, first, rng)
        else:
            click = next_click(prediction, truth, clicked)
        if click is None:
            break
        clicks.append(click)
        clicked[click[1], click[0]] = True
        points = np.array([[x, y] for x, y, _ in clicks], np.float64)
        labels = np.array([label for _, _, label in clicks], np.int64)
        prediction, last = predict(Prompts(points, labels, box), last)
        ious.append(iou(prediction, truth))
        if next_mask and len(clicks) == 1:
            shown = [(prediction, last)] + [predict(Prompts(points, labels, candidate=rank), None)
                                            for rank in range(1, CANDIDATES)]
            scores = [iou(mask, truth) for mask, _ in shown]
            presses = int(np.argmax(scores))
            ious += scores[1 : presses + 1]
            prediction, last = shown[presses]
    ious = ious[:max_clicks]
    ious += [ious[-1]] * (max_clicks - len(ious))
    return ClickTrace(tuple(float(v) for v in ious), tuple(clicks), start, presses)


def noc(ious: Sequence[float], target: float) -> int:
    """Number of prompts needed to reach IoU >= ``target``: the first k with ``ious[k - 1] >= target``.

    When the target is never reached this is ``len(ious)`` (= max_clicks), and the object counts as a failure
    (see :func:`reached`).
    """
    hits = np.flatnonzero(np.asarray(ious, np.float64) >= target)
    return int(hits[0]) + 1 if hits.size else len(ious)


def reached(ious: Sequence[float], target: float) -> bool:
    """Whether IoU >= ``target`` within the trace (a reach at the very last prompt is not a failure)."""
    return bool(np.any(np.asarray(ious, np.float64) >= target))


def _target_name(target: float) -> str:
    return f"{100 * target:.4g}"


def object_summary(trace: ClickTrace | Sequence[float], targets: Sequence[float] = DEFAULT_TARGETS) -> dict:
    """One object's NoC per target and best IoU within the trace: which objects hold a mean NoC up."""
    ious = list(trace.ious) if isinstance(trace, ClickTrace) else list(trace)
    summary: dict = {f"NoC@{_target_name(target)}": noc(ious, target) for target in targets}
    summary["best_iou"] = round(float(max(ious)), 4)
    if isinstance(trace, ClickTrace) and trace.presses:
        summary["next_mask_presses"] = trace.presses
    return summary


def summarise(
    traces: Sequence[ClickTrace | Sequence[float]], targets: Sequence[float] = DEFAULT_TARGETS
) -> dict:
    """JSON-serialisable summary of traces (or bare IoU lists) that share one ``max_clicks``.

    Keys: ``objects``, ``max_clicks``, ``NoC@80`` … (mean NoC per target, failures counting ``max_clicks``),
    ``failures@80`` … (objects that never reached the target), ``mIoU@k`` (a list: entry k - 1 is the mean IoU
    after k prompts, k = 1 .. max_clicks). Floats are rounded to 4 places.
    """
    rows = [list(t.ious) if isinstance(t, ClickTrace) else list(t) for t in traces]
    if not rows:
        raise ValueError("no traces to summarise")
    lengths = {len(r) for r in rows}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"every trace needs the same, non-zero number of IoUs (got lengths {sorted(lengths)})")
    table = np.asarray(rows, np.float64)
    summary: dict = {"objects": len(rows), "max_clicks": table.shape[1]}
    for target in targets:
        summary[f"NoC@{_target_name(target)}"] = round(float(np.mean([noc(r, target) for r in rows])), 4)
    for target in targets:
        summary[f"failures@{_target_name(target)}"] = int(sum(not reached(r, target) for r in rows))
    summary["mIoU@k"] = [round(float(v), 4) for v in table.mean(axis=0)]
    return summary
