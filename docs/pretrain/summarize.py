"""Summarise docs/pretrain/run_ablation.sh: box Dice per model and CT, the loss curves (PNG) and the speed.

    python docs/pretrain/summarize.py [RESULTS_DIR]     (default docs/pretrain)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODELS = {
    "base": "base encoder",
    "feat": "pretrained, L_MIM + L_feat",
    "feat4": "pretrained, L_MIM + 4 L_feat",
    "mim": "pretrained, L_MIM only",
}
COLOURS = {"feat": "#1f77b4", "feat4": "#ff7f0e", "mim": "#2ca02c"}
DATASETS = {"ct": "CT NIfTI (TotalSegmentator sample)", "dicom": "CT DICOM series"}


def main(folder: Path) -> dict:
    summary: dict = {"box_dice": {}, "runs": {}}
    for model in MODELS:
        for data in DATASETS:
            path = folder / f"{data}_{model}_box.json"
            if path.is_file():
                report = json.loads(path.read_text())
                summary["box_dice"].setdefault(model, {})[data] = report["mean_dice"]["box"]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    for variant in ("feat", "feat4", "mim"):
        path = folder / f"log_{variant}.jsonl"
        if not path.is_file():
            continue
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        steps = [r["step"] for r in records]
        for ax, key in zip(axes, ("l_mim", "l_feat")):
            values = [r[key] for r in records]
            if any(values):  # L_MIM alone computes no L_feat (no teacher): nothing to draw
                ax.plot(steps, values, lw=1, label=MODELS[variant], color=COLOURS[variant])
        rates = [r["images_per_s"] for r in records[1:]] or [records[0]["images_per_s"]]
        summary["runs"][variant] = {
            "steps": steps[-1], "images_per_s_median": statistics.median(rates),
            "l_mim_first_last": [records[0]["l_mim"], records[-1]["l_mim"]],
            "l_feat_first_last": [records[0]["l_feat"], records[-1]["l_feat"]],
        }
    for ax, title in zip(axes, ("L_MIM (L1 on masked pixels)", "L_feat (1 - cosine, vs frozen teacher)")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=8)
    figure.savefig(folder / "loss_curves.png", dpi=110)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("| model | " + " | ".join(DATASETS.values()) + " |")
    print("|---|" + "---|" * len(DATASETS))
    for model, name in MODELS.items():
        row = summary["box_dice"].get(model, {})
        print(f"| {name} | " + " | ".join(f"{row[d]:.3f}" if d in row else "" for d in DATASETS) + " |")
    return summary


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/pretrain"))
