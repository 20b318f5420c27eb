"""Markdown table from the JSON reports of clicks_heldapart.sh: one row per (set, model) found in OUT."""

import json
import sys
from pathlib import Path

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/clicks_heldapart")
titles = {
    "atlanta": "Atlanta buildings, 900 px tile, 0.5 m (validation tile)",
    "strip": "Atlanta buildings, rows 600..899 of the tile (held apart from the buildings recipe)",
    "water": "Sen1Floods11 water, Sentinel-2, 512 px",
    "brats": "BraTS FLAIR: necrosis, oedema, enhancing tumour",
    "lung": "CT lung tumour, manual outline (radiomics lung1)",
    "ct": "CT DICOM series: spleen, liver, stomach, aorta, IVC (TotalSegmentator)",
}
models = sorted({p.name.rsplit("-", 2)[0] for p in out.glob("*-clicks.json")})
print("| set (objects) | model | box Dice | one-click Dice center / random | mIoU@1 / @3 / @5 | NoC@85 (failures) | NoC@90 |")
print("|---|---|---|---|---|---|---|")
for name, title in titles.items():
    for model in models:
        files = [out / f"{model}-{name}-{kind}.json" for kind in ("oneshot", "random", "clicks")]
        if not all(f.is_file() for f in files):
            continue
        oneshot, random, clicks = (json.loads(f.read_text()) for f in files)
        overall = clicks["overall"]
        miou = overall["mIoU@k"]
        print(f"| {title} ({overall['objects']}) | {model} | {oneshot['mean_dice']['box']:.3f} | "
              f"{oneshot['mean_dice']['click']:.3f} / {random['mean_dice']['click']:.3f} | "
              f"{miou[0]:.3f} / {miou[2]:.3f} / {miou[4]:.3f} | {overall['NoC@85']:.2f} ({overall['failures@85']}) | "
              f"{overall['NoC@90']:.2f} |")
