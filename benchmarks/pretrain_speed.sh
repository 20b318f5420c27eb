#!/usr/bin/env bash
# Issue 23's CPU-feasible mode: pretraining images/s with 0..3 frozen stages after the stem (same data, batch,
# seed; each run 6 steps, the first left out as warm-up). Prints one JSON line per setting.
# Usage: bash benchmarks/pretrain_speed.sh [DATA=../shared/data/ct_totalseg/example_ct_sm.nii.gz] [OUT=runs/pretrain_speed]
set -euo pipefail
data=${1:-../shared/data/ct_totalseg/example_ct_sm.nii.gz}
out=${2:-runs/pretrain_speed}
rm -rf "$out" && mkdir -p "$out"
for frozen in ${FROZEN:-0 1 2 3}; do
  gfm-napari -q pretrain --data "$data" --out "$out/frozen$frozen" --steps 6 --batch-size 8 --warmup 1 \
    --freeze-stages "$frozen" --checkpoint-every 100 --device cpu >/dev/null
  python - "$out/frozen$frozen/log.jsonl" "$frozen" <<'PY'
import json, statistics, sys
records = [json.loads(line) for line in open(sys.argv[1])]
rates = [r["images_per_s"] for r in records[1:]]
print(json.dumps({"frozen_stages": int(sys.argv[2]), "images_per_s": round(statistics.median(rates), 3),
                  "steps": len(records), "l_mim_first": records[0]["l_mim"], "l_feat_first": records[0]["l_feat"]}))
PY
done
