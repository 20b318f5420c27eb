#!/usr/bin/env bash
# How much of a difference between arms is the adapter's own seed: arms of run_three_arms.sh (ARMS, default
# "none feat") adapted again with other seeds (reports <arm>_seed<k>_*), arms 2 and 3 over the encoders
# run_three_arms.sh kept ($RUNS/encoder_feat120, $RUNS/encoder_mim120).
# Run after it, with the same RUNS / RESULTS / ADAPTER_OPTS, from the repository root:
#   RUNS=runs/three_arms_decoder RESULTS=docs/pretrain/three_arms_decoder ADAPTER_OPTS=--train-decoder \
#     SEEDS="1 2" bash docs/pretrain/run_adapter_seeds.sh
# Then: python docs/pretrain/summarize_three_arms.py [RESULTS]
set -euo pipefail
source "$(dirname "$0")/three_arms_common.sh"
for seed in ${SEEDS:-1}; do
  for arm in ${ARMS:-none feat}; do
    case $arm in
      none) SEED=$seed adapt_and_evaluate "none_seed$seed" ;;
      *) SEED=$seed adapt_and_evaluate "${arm}_seed$seed" --encoder "$RUNS/encoder_$arm${STEPS:-120}" ;;
    esac
  done
done
