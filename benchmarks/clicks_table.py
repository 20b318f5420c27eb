"""Markdown table from the JSON reports of clicks_proof.sh: base vs click-trained, per domain."""

import json
import sys
from pathlib import Path

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/clicks_proof")
names = {"ct": "CT (DICOM series: spleen, liver, stomach, aorta, IVC)", "mr": "MR abdomen (spleen, kidneys, liver, stomach)",
         "sat": "Satellite (43 Atlanta buildings)"}
print("| domain | model | box Dice | 1-click Dice | mIoU@1 | mIoU@3 | mIoU@5 | NoC@85 | NoC@90 | failures@90 / objects |")
print("|---|---|---|---|---|---|---|---|---|---|")
for domain, title in names.items():
    for model in ("litemedsam", "litemedsam_clicks"):
        oneshot = json.loads((out / f"{model}-{domain}-oneshot.json").read_text())["mean_dice"]
        clicks = json.loads((out / f"{model}-{domain}-clicks.json").read_text())["overall"]
        miou = clicks["mIoU@k"]
        print(f"| {title} | {model} | {oneshot['box']:.3f} | {oneshot['click']:.3f} | {miou[0]:.3f} | {miou[2]:.3f} | "
              f"{miou[4]:.3f} | {clicks['NoC@85']:.2f} | {clicks['NoC@90']:.2f} | {clicks['failures@90']} / {clicks['objects']} |")
