"""Summarise docs/pretrain/run_three_arms.sh: one row per arm (held-apart Dice, clicks, compute) as a Markdown table,
and the pretraining loss curves (PNG); with run_pretraining_curve.sh's points (``featN``: arm 2 resumed to N steps),
a row each and the held-apart Dice against the pretraining images (``pretraining_curve.png``).

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
    "base_encoder": "base model, its encoder loaded as an encoder file (the reference of the encoder-alone rows)",
    "none": "1. no pretraining → adapter",
    "feat_encoder": "2. L_MIM + L_feat, the encoder alone",
    "feat": "2. L_MIM + L_feat → adapter",
    "mim_encoder": "3. L_MIM alone, the encoder alone",
    "mim": "3. L_MIM alone → adapter",
}
COLOURS = {"feat": "#1f77b4", "mim": "#2ca02c"}
CROPS_PER_STEP = 4  # the scripts' BATCH


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


def _curve_steps(folder: Path) -> list[int]:
    """The step counts of run_pretraining_curve.sh's points found in ``folder``, in order."""
    return sorted(int(m.group(1)) for p in folder.glob("feat*_prompts.json")
                  if (m := re.fullmatch(r"feat(\d+)_prompts\.json", p.name)))


def _arm_names(folder: Path) -> dict[str, str]:
    """Row names: the arms, run_pretraining_curve.sh's points, and adapters trained again with another seed
    (``<arm>_seed<k>``, after their arm)."""
    curve = {}
    for n in _curve_steps(folder):
        curve[f"feat{n}_encoder"] = f"2. L_MIM + L_feat, resumed to {n} steps, the encoder alone"
        curve[f"feat{n}"] = f"2. L_MIM + L_feat, resumed to {n} steps → adapter"
    arms = {}
    for arm, title in ARMS.items():  # the curve's rows after arm 2's
        arms |= {arm: title} | (curve if arm == "feat" else {})
    names = {}
    for arm, title in arms.items():
        names[arm] = title
        for path in sorted(folder.glob(f"{arm}_seed*_prompts.json")):
            seed = path.name.removeprefix(f"{arm}_seed").removesuffix("_prompts.json")
            names[f"{arm}_seed{seed}"] = f"{title} (adapter seed {seed})"
    return names


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


def _chain_wall_s(folder: Path, summary: dict, arm: str) -> float | None:
    """Pretraining wall time of ``arm`` from step 0: a curve point adds the resumed segments before it."""
    if not arm.startswith("feat"):
        return summary[arm]["pretraining"].get("wall_s")
    steps = summary[arm]["pretraining"].get("steps", 0)
    parts = ["feat"] + [f"feat{n}" for n in _curve_steps(folder) if n <= steps]
    walls = [summary[p]["pretraining"].get("wall_s") for p in parts if p in summary]
    return sum(walls) if walls and None not in walls else None

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


def _dice_curve(folder: Path, summary: dict) -> None:
    """Held-apart box and one-click Dice against the crops pretraining saw, after the adapter (0: arm 1) and of the
    encoder alone (0: the base model)."""
    crops = {arm: row["pretraining"]["steps"] * CROPS_PER_STEP for arm, row in summary.items()
             if arm.startswith("feat") and row["pretraining"]}
    series = {"after the adapter": [(0, "none")] + [(n, arm) for arm, n in crops.items()],
              "the encoder alone": [(0, "base")] + [(n, f"{arm}_encoder") for arm, n in crops.items()]}
    series = {name: sorted(p for p in points if p[1] in summary) for name, points in series.items()}
    if len(series["after the adapter"]) < 3:
        return
    figure, ax = plt.subplots(figsize=(5.6, 3.4), layout="constrained")
    for (name, points), style in zip(series.items(), ("-", "--")):
        for key, label, colour in (("box", "box", "#1f77b4"), ("click", "one click", "#d62728")):
            ax.plot([n for n, _ in points], [summary[a]["held_apart"].get(key) for _, a in points], "o" + style,
                    color=colour, label=f"{label}, {name}")
    ax.set_xlabel("pretraining crops (L_MIM + L_feat)")
    ax.set_ylabel("held-apart Dice")
    ax.legend(fontsize=7)
    figure.savefig(folder / "pretraining_curve.png", dpi=110)


def _seed_means(summary: dict, names: dict[str, str]) -> dict[str, dict]:
    """Per arm adapted with several seeds (``<arm>`` and ``<arm>_seed<k>``): the mean of each held-apart figure,
    and the box and one-click Dice's spread (max − min), as rows ``<arm>_mean``."""
    means = {}
    for arm in names:
        runs = [summary[a]["held_apart"] for a in [arm, *(a for a in summary if a.startswith(f"{arm}_seed"))]
                if a in summary]
        if len(runs) < 2:
            continue
        keys = [k for k in runs[0] if all(isinstance(r.get(k), (int, float)) for r in runs)]
        held = {k: round(statistics.mean(r[k] for r in runs), 4) for k in keys}
        spread = {k: round(max(r[k] for r in runs) - min(r[k] for r in runs), 4) for k in ("box", "click") if k in keys}
        means[f"{arm}_mean"] = {"held_apart": held, "seeds": len(runs), "spread": spread,
                                "title": f"{names[arm]}: mean of {len(runs)} adapter seeds (box / click spread "
                                         f"{spread.get('box', 0):.3f} / {spread.get('click', 0):.3f})"}
    return means


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.0f} min"


def _cell(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def main(folder: Path) -> dict:
    names = _arm_names(folder)
    summary = {arm: {"held_apart": _held_apart(folder, arm), "pretraining": _pretraining(folder, arm),
                     "adapter": _adapter(folder, arm)} for arm in names}
    summary = {arm: row for arm, row in summary.items() if row["held_apart"]}
    means = _seed_means(summary, names)
    for arm, row in summary.items():
        if row["pretraining"]:
            row["pretraining"]["wall_s_from_step_0"] = _chain_wall_s(folder, summary, arm)
    (folder / "summary.json").write_text(json.dumps(summary | means, indent=1) + "\n")
    _loss_curves(folder)
    _dice_curve(folder, summary)
    print("| arm | box Dice | one-click Dice | mIoU@1 / @3 / @5 | NoC@85 / 90 | validation box / 1-click (best) "
          "| pretraining: steps, wall time, L_MIM, L_feat | adapter wall time |")
    print("|---|---|---|---|---|---|---|---|")
    for arm, row in summary.items():
        held, pre, adapter = row["held_apart"], row["pretraining"], row["adapter"]
        best = adapter.get("validation_best", {})
        pretraining = (f"{pre['steps']} steps, {_minutes(pre.get('wall_s_from_step_0'))}, "
                       f"{pre['l_mim_first_last'][0]:.3f} → "
                       f"{pre['l_mim_first_last'][1]:.3f}, " + (f"{pre['l_feat_first_last'][0]:.3f} → "
                       f"{pre['l_feat_first_last'][1]:.3f}" if pre["l_feat_first_last"][0] else "—")) if pre else ""
        print(f"| {names[arm]} | {_cell(held.get('box'))} | {_cell(held.get('click'))} | "
              f"{_cell(held.get('mIoU@1'))} / {_cell(held.get('mIoU@3'))} / {_cell(held.get('mIoU@5'))} | "
              f"{_cell(held.get('NoC@85'), 1)} / {_cell(held.get('NoC@90'), 1)} | "
              f"{_cell(best.get('box'))} / {_cell(best.get('click1'))} | {pretraining} | "
              f"{_minutes(adapter.get('wall_s'))} |")
    for row in means.values():
        held = row["held_apart"]
        print(f"| {row['title']} | {_cell(held.get('box'))} | {_cell(held.get('click'))} | "
              f"{_cell(held.get('mIoU@1'))} / {_cell(held.get('mIoU@3'))} / {_cell(held.get('mIoU@5'))} | "
              f"{_cell(held.get('NoC@85'), 1)} / {_cell(held.get('NoC@90'), 1)} |  |  |  |")
    return summary


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/pretrain/three_arms"))
