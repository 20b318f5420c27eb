"""IoU against the number of clicks, one line per structure and the overall mean (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

from ..images.atomic import atomic_path


def plot_iou_curves(report: dict, path: str | Path) -> Path:
    """Write the mIoU@k curves of an interactive-evaluation report (:func:`.interactive.evaluate_clicks`) as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 4.5), dpi=120)
    axes = figure.add_subplot()
    for name, summary in report["structures"].items():
        curve = summary["mIoU@k"]
        axes.plot(range(1, len(curve) + 1), curve, linewidth=1, alpha=0.7,
                  label=f"{name} (NoC@85 {summary['NoC@85']:.1f})")
    overall = report["overall"]
    if overall is not None:
        curve = overall["mIoU@k"]
        axes.plot(range(1, len(curve) + 1), curve, color="black", linewidth=2.5,
                  label=f"all {overall['objects']} objects (NoC@85 {overall['NoC@85']:.1f})")
    for level in (0.8, 0.85, 0.9):
        axes.axhline(level, color="grey", linewidth=0.5, linestyle=":")
    feed = "logits fed back" if report.get("feed_logits") else "no logits feedback"
    axes.set(xlabel="prompts (clicks; a first box counts as one)", ylabel="mean IoU", ylim=(0, 1),
             title=f"{report['image']} · {report['model']} · first prompt: {report['start']} · {feed}")
    axes.title.set_fontsize(8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.2)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png")
    return out
