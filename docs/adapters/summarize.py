"""Print the README's adapter table from docs/adapters/*.json and the runs' logs (after run_wm.sh).

    python docs/adapters/summarize.py [RUNS]      # RUNS: the runs folder of run_wm.sh (default runs/adapters)
"""

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
RUNS = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/adapters")


def row(name: str) -> str:
    box = json.loads((HERE / f"wm_{name}_box.json").read_text())["mean_dice"]["box"]
    clicks = json.loads((HERE / f"wm_{name}_clicks.json").read_text())["overall"]
    miou = clicks["mIoU@k"]
    cells = [f"{box:.3f}", f"{miou[0]:.3f} / {miou[2]:.3f} / {miou[4]:.3f}",
             f"{clicks['NoC@80']:.1f} / {clicks['NoC@85']:.1f} / {clicks['NoC@90']:.1f}"]
    run = RUNS / f"wm_{name}"
    if run.is_dir():
        records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        vals = [r["val"] for r in records if "val" in r]
        steps = [r for r in records if "steps_per_s" in r]
        time_log = (RUNS / f"wm_{name}.time").read_text()
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", time_log).group(1)
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_log).group(1)) / 2**20
        best = max(vals, key=lambda v: v["score"])
        cells += [f"{vals[0]['box']:.3f} → {best['box']:.3f}", f"{vals[0]['click1']:.3f} → {best['click1']:.3f}",
                  f"{steps[-1]['steps_per_s']:.2f}", wall, f"{rss:.1f} GB"]
    else:
        cells += ["", "", "", "", ""]
    return f"| {name} | " + " | ".join(cells) + " |"


print("| model | box Dice | mIoU@1 / @3 / @5 | NoC@80 / 85 / 90 | validation box Dice | validation 1-click Dice "
      "| steps/s | training wall time | peak RSS |")
print("|---|---|---|---|---|---|---|---|---|")
for name in ("base", "lora", "adaptformer", "bottleneck"):
    if (HERE / f"wm_{name}_box.json").exists():
        print(row(name))
