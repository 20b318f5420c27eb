#!/usr/bin/env bash
# Issue 23's curve: the adapter's held-apart Dice against the number of pretraining images (L_MIM + L_feat), on the
# three-arm split (docs/pretrain/three_arms_common.sh). The run of arm 2 (run_three_arms.sh, 120 steps) is resumed to
# each further point; at each, the encoder is copied, evaluated alone (box and one click) and with the same adapter
# trained over it.
# Run after run_three_arms.sh, with the same RUNS / RESULTS / ADAPTER_OPTS, from the repository root:
#   RUNS=runs/three_arms_decoder RESULTS=docs/pretrain/three_arms_decoder ADAPTER_OPTS=--train-decoder \
#     POINTS="240 360" bash docs/pretrain/run_pretraining_curve.sh
# A resumed run's cosine schedule is recomputed for the new total, so the learning rate rises again at each point.
# Then: python docs/pretrain/summarize_three_arms.py [RESULTS]
set -euo pipefail
source "$(dirname "$0")/three_arms_common.sh"
[ -f "$RUNS/encoder_feat${STEPS:-120}.json" ] || keep_encoder feat "${STEPS:-120}"  # kept by run_three_arms.sh now
for total in ${POINTS:-240 360}; do
  pretrain feat 1 "$total" "feat$total" --resume
  keep_encoder feat "$total"
  evaluate_prompts "feat${total}_encoder" --encoder "$RUNS/encoder_feat$total"  # the encoder alone, no adapter
  adapt_and_evaluate "feat$total" --encoder "$RUNS/encoder_feat$total"
done
