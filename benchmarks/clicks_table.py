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

print()
print("| domain | structure | model | box Dice | 1-click Dice | mIoU@1 | mIoU@3 | NoC@85 | NoC@90 |")
print("|---|---|---|---|---|---|---|---|---|")
for domain in ("ct", "mr"):
    reports = {model: (json.loads((out / f"{model}-{domain}-oneshot.json").read_text())["structures"],
                       json.loads((out / f"{model}-{domain}-clicks.json").read_text())["structures"])
               for model in ("litemedsam", "litemedsam_clicks")}
    for structure in reports["litemedsam"][1]:
        for model, (oneshot, clicks) in reports.items():
            dice, trace = oneshot[structure]["dice"], clicks[structure]
            print(f"| {domain.upper()} | {structure} | {model} | {dice['box']:.3f} | {dice['click']:.3f} | "
                  f"{trace['mIoU@k'][0]:.3f} | {trace['mIoU@k'][2]:.3f} | {trace['NoC@85']:.1f} | {trace['NoC@90']:.1f} |")
