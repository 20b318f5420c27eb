"""Proofreading measured: an imperfect existing mask, then one or three corrective clicks (simulated, RITM-style).

The "imperfect" mask is the reference object eroded or dilated by 1-3 px (seeded), as a model's outline error; the
reference: TotalSegmentator's liver on the shared CT (a strong 3D model's output, not manual ground truth) on every
axial slice with >= 200 liver pixels, and the 43 hand-drawn SpaceNet building footprints of the Atlanta tile. Each
correction goes through the dock's path (``SegmentationSession.edit_object`` then clicks), with the starting mask fed
as mask input ("mask in") or, as an ablation, with only its box ("box only": logits feedback off); the model's
answer is taken where it corrects a clicked region only (the shipped rule, ``proofread.local_correction``) or, with
``--model-answer``, as it is.

    PYTHONPATH=. python benchmarks/proofread_clicks.py [--model litemedsam_clicks] [--clicks 3] [--model-answer]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.propagate import dice
from gfm_napari.engine.session import SegmentationSession
from gfm_napari.evaluation.clicker import next_click
from gfm_napari.images import fit_normalization, read_image
from gfm_napari.images.label_maps import read_labels
from gfm_napari.models import load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def cases(seed: int = 0):
    """(name, image, labels, plane key, object id, imperfect labels) for every object to correct."""
    rng = np.random.default_rng(seed)
    ct = read_image(DATA / "ct_totalseg" / "example_ct_sm.nii.gz")
    ct_labels = read_labels(DATA / "ct_totalseg" / "example_seg.nii.gz", ct)
    for index in np.flatnonzero((ct_labels == 5).sum(axis=(0, 1)) >= 200):
        yield "ct liver", ct, ct_labels, (2, int(index)), 5, _spoilt(ct_labels, 5, (2, int(index)), rng)
    tile = read_image(DATA / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif")
    buildings = read_labels(DATA / "sat_spacenet_atlanta_buildings" / "geotiff_labels.geojson", tile)
    for label in np.unique(buildings)[1:]:
        spoilt = _spoilt(buildings, label, (None, None), rng)
        yield "atlanta building", tile, buildings, (None, None), int(label), spoilt


def _spoilt(labels: np.ndarray, label: int, key, rng) -> np.ndarray:
    """``labels`` with object ``label`` eroded or dilated (into the background only) by 1-3 px on plane ``key``."""
    out = labels.copy()
    plane = out if key[0] is None else out[:, :, key[1]]
    mask = plane == label
    size = int(rng.integers(1, 4))
    if rng.random() < 0.5:
        smaller = ndimage.binary_erosion(mask, iterations=size)
        plane[mask & ~smaller] = 0
    else:
        plane[ndimage.binary_dilation(mask, iterations=size) & (plane == 0)] = label
    return out


def correct(predictor, image, normalization, imperfect, key, label, truth, clicks: int, feedback: bool) -> list[float]:
    session = SegmentationSession(predictor, image, normalization, labels=imperfect.copy(), feedback_logits=feedback)
    session.edit_object(*key, label)
    mask = session.preview(*key)
    scores, clicked = [dice(mask, truth)], np.zeros(truth.shape, bool)
    for _ in range(clicks):
        click = next_click(mask, truth, clicked)
        if click is None:
            scores.append(scores[-1])
            continue
        x, y, sign = click
        clicked[y, x] = True
        session.add_point(*key, x, y, positive=bool(sign))
        mask = session.preview(*key)
        scores.append(dice(mask, truth))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="litemedsam_clicks")
    parser.add_argument("--clicks", type=int, default=3)
    parser.add_argument("--model-answer", action="store_true", help="take the model's mask as it is (ablation)")
    args = parser.parse_args()
    if args.model_answer:
        from gfm_napari.engine import session

        session.local_correction = lambda plane, start, prediction, prompts: prediction
    predictor = Predictor(load_model(args.model))
    results: dict[str, dict[str, list[list[float]]]] = {}
    normalizations = {}
    for name, image, labels, key, label, imperfect in cases():
        normalization = normalizations.setdefault(name, fit_normalization(image))
        truth = (labels if key[0] is None else labels[:, :, key[1]]) == label
        for mode, feedback in (("mask in", True), ("box only", False)):
            scores = correct(predictor, image, normalization, imperfect, key, label, truth, args.clicks, feedback)
            results.setdefault(name, {}).setdefault(mode, []).append(scores)
    for name, modes in results.items():
        for mode, runs in modes.items():
            table = np.array(runs)
            kept = np.mean(table[:, 1] >= table[:, 0] - 0.005)
            line = " -> ".join(f"{v:.3f}" for v in table.mean(axis=0))
            print(f"{name:17s} {mode:9s} n={len(table):2d}  mean Dice by clicks 0..{args.clicks}: {line}  "
                  f"one click improves or keeps (>= -0.005): {kept:.0%}  worst after one: {table[:, 1].min():.3f}")
    means = {n: {m: np.array(r).mean(axis=0).round(4).tolist() for m, r in v.items()} for n, v in results.items()}
    print(json.dumps(means))


if __name__ == "__main__":
    main()
