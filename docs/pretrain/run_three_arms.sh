#!/usr/bin/env bash
# The GFM proof (README "Does pretraining help?"): three arms, each followed by the same adapter, evaluated on data
# that neither pretraining nor adaptation ever saw: MR brain tumour (BraTS FLAIR, expert labels; DOMAIN=brats, the
# default) or aerial buildings (SpaceNet Atlanta footprints; DOMAIN=aerial); the splits are three_arms_<DOMAIN>.sh.
#   arm 1: no pretraining -> adapter;  arm 2: L_MIM + L_feat -> adapter;  arm 3: L_MIM alone -> adapter.
# The split, the adapter and the evaluation: docs/pretrain/three_arms_common.sh.
# Run from the repository root (about 1 h 40 min on 2 CPU cores with the defaults):
#   bash docs/pretrain/run_three_arms.sh
# With the mask decoder trained too (docs/pretrain/three_arms_decoder, about 1 h):
#   RUNS=runs/three_arms_decoder RESULTS=docs/pretrain/three_arms_decoder ADAPTER_OPTS=--train-decoder \
#     bash docs/pretrain/run_three_arms.sh
# Aerial buildings (docs/pretrain/three_arms_aerial, about 1 h; 1 h 35 min with two more adapter seeds per arm):
#   DOMAIN=aerial RUNS=runs/three_arms_aerial RESULTS=docs/pretrain/three_arms_aerial \
#     bash docs/pretrain/run_three_arms.sh
#   then, with the same variables, SEEDS="1 2" ARMS="none feat mim" bash docs/pretrain/run_adapter_seeds.sh
# Settings: those of three_arms_common.sh, and STEPS (pretraining steps, default 120, as measured), ARMS
# ("none feat mim"), SKIP_BASE=1 (no evaluation of the model, or of its encoder loaded as a file, without adapter).
# Then: python docs/pretrain/summarize_three_arms.py [RESULTS]
set -euo pipefail
source "$(dirname "$0")/three_arms_common.sh"
if [ -z "${SKIP_BASE:-}" ]; then
  evaluate base  # the model as shipped, no adapter
  evaluate_base_encoder  # its encoder loaded as a file: the prompt path of the pretrained encoders, no adapter
fi
for arm in ${ARMS:-none feat mim}; do
  case $arm in
    none) adapt_and_evaluate none ;;  # over the base encoder
    feat | mim)
      case $arm in mim) weight=0 ;; feat) weight=1 ;; esac
      pretrain "$arm" $weight "${STEPS:-120}" "$arm"
      keep_encoder "$arm" "${STEPS:-120}"  # for run_adapter_seeds.sh, before a curve resumes the run
      evaluate_prompts "${arm}_encoder" --encoder "$RUNS/pretrain_$arm/encoder"  # the encoder alone, no adapter
      adapt_and_evaluate "$arm" --encoder "$RUNS/pretrain_$arm/encoder" ;;
  esac
done
