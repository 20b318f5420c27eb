"""Summarise docs/pretrain/run_three_arms.sh: one row per arm (held-apart Dice, clicks, compute) as a Markdown table,
and the pretraining loss curves (PNG).

    python docs/pretrain/summarize_three_arms.py [RESULTS_DIR]     (default docs/pretrain/three_arms)
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ARMS = {
    "base": "base model, no adapter",
    "none": "1. no pretraining → adapter",
    "feat": "2. L_MIM + L_feat → adapter",
    "mim": "3. L_MIM alone → adapter",
}
COLOURS = {"feat": "#1f77b4", "mim": "#2ca02c"}


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _time_report(path: Path) -> dict:
    """Wall time (s) and peak RSS (GB) from a GNU ``time -v`` report."""
    if not path.is_file():
        return {}
    text = path.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    seconds = 0.0
    for part in wall.group(1).split(":") if wall else ():
        seconds = seconds * 60 + float(part)
    return {"wall_s": round(seconds, 1), "peak_rss_gb": round(int(rss.group(1)) / 1e6, 2) if rss else None}


def _pretraining(folder: Path, arm: str) -> dict:
    records = [r for r in _json_lines(folder / f"pretrain_log_{arm}.jsonl") if "l_mim" in r]
    if not records:
        return {}
    rates = [r["images_per_s"] for r in records[1:]] or [records[0]["images_per_s"]]
    return {
        "steps": records[-1]["step"],
        "images_per_s_median": round(statistics.median(rates), 3),
        "l_mim_first_last": [records[0]["l_mim"], records[-1]["l_mim"]],
        "l_feat_first_last": [records[0]["l_feat"], records[-1]["l_feat"]],
        **_time_report(folder / f"pretrain_{arm}.time"),
    }


def _adapter(folder: Path, arm: str) -> dict:
    records = _json_lines(folder / f"adapter_log_{arm}.jsonl")
    validations = [(r["step"], r["val"]) for r in records if "val" in r]
    if not validations:
        return {}
    best_step, best = max(validations, key=lambda item: item[1]["score"])
    return {
        "validation_before": validations[0][1], "best_step": best_step, "validation_best": best,
        **_time_report(folder / f"adapter_{arm}.time"),
    }


def _held_apart(folder: Path, arm: str) -> dict:
    result: dict = {}
    prompts = folder / f"{arm}_prompts.json"
    if not prompts.is_file():  # an earlier version of the script evaluated boxes alone
        prompts = folder / f"{arm}_box.json"
    if prompts.is_file():
        result.update(json.loads(prompts.read_text())["mean_dice"])
    clicks = folder / f"{arm}_clicks.json"
    if clicks.is_file():
        overall = json.loads(clicks.read_text())["overall"]
        result.update({"objects": overall["objects"], "mIoU@1": overall["mIoU@k"][0], "mIoU@3": overall["mIoU@k"][2],
                       "mIoU@5": overall["mIoU@k"][4], "NoC@85": overall["NoC@85"], "NoC@90": overall["NoC@90"]})
    return result


def _loss_curves(folder: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    for arm in ("feat", "mim"):
        records = [r for r in _json_lines(folder / f"pretrain_log_{arm}.jsonl") if "l_mim" in r]
        steps = [r["step"] for r in records]
        for ax, key in zip(axes, ("l_mim", "l_feat")):
            values = [r[key] for r in records]
            if records and any(values):  # L_MIM alone has no teacher, so no L_feat
                ax.plot(steps, values, lw=1, label=ARMS[arm], color=COLOURS[arm])
    for ax, title in zip(axes, ("L_MIM (masked pixels, L1)", "L_feat (1 − cosine to the teacher)")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    figure.savefig(folder / "loss_curves.png", dpi=110)


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.0f} min"


def _cell(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def main(folder: Path) -> dict:
    summary = {arm: {"held_apart": _held_apart(folder, arm), "pretraining": _pretraining(folder, arm),
                     "adapter": _adapter(folder, arm)} for arm in ARMS}
    summary = {arm: row for arm, row in summary.items() if row["held_apart"]}
    (folder / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    _loss_curves(folder)
    print("| arm | box Dice | one-click Dice | mIoU@1 / @3 / @5 | NoC@85 / 90 | validation box / 1-click (best) "
          "| pretraining: steps, wall time, L_MIM, L_feat | adapter wall time |")
    print("|---|---|---|---|---|---|---|---|")
    for arm, row in summary.items():
        held, pre, adapter = row["held_apart"], row["pretraining"], row["adapter"]
        best = adapter.get("validation_best", {})
        pretraining = (f"{pre['steps']} steps, {_minutes(pre.get('wall_s'))}, {pre['l_mim_first_last'][0]:.3f} → "
                       f"{pre['l_mim_first_last'][1]:.3f}, " + (f"{pre['l_feat_first_last'][0]:.3f} → "
                       f"{pre['l_feat_first_last'][1]:.3f}" if pre["l_feat_first_last"][0] else "—")) if pre else ""
        print(f"| {ARMS[arm]} | {_cell(held.get('box'))} | {_cell(held.get('click'))} | "
              f"{_cell(held.get('mIoU@1'))} / {_cell(held.get('mIoU@3'))} / {_cell(held.get('mIoU@5'))} | "
              f"{_cell(held.get('NoC@85'), 1)} / {_cell(held.get('NoC@90'), 1)} | "
              f"{_cell(best.get('box'))} / {_cell(best.get('click1'))} | {pretraining} | "
              f"{_minutes(adapter.get('wall_s'))} |")
    return summary


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/pretrain/three_arms"))
