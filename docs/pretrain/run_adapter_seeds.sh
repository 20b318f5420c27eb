#!/usr/bin/env bash
# How much of a difference between arms is the adapter's own seed: arms 1 and 2 of run_three_arms.sh adapted again
# with other seeds (reports <arm>_seed<k>_*), arm 2 over its 120-step encoder as run_pretraining_curve.sh keeps it.
# Run after those two, with the same RUNS / RESULTS / ADAPTER_OPTS, from the repository root:
#   RUNS=runs/three_arms_decoder RESULTS=docs/pretrain/three_arms_decoder ADAPTER_OPTS=--train-decoder \
#     SEEDS="1 2" bash docs/pretrain/run_adapter_seeds.sh
# Then: python docs/pretrain/summarize_three_arms.py [RESULTS]
set -euo pipefail
source "$(dirname "$0")/three_arms_common.sh"
for seed in ${SEEDS:-1}; do
  SEED=$seed adapt_and_evaluate "none_seed$seed"
  SEED=$seed adapt_and_evaluate "feat_seed$seed" --encoder "$RUNS/encoder_feat${STEPS:-120}"
done
