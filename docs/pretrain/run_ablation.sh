#!/usr/bin/env bash
# The pretraining proof (README "Continual pretraining"): pretrain LiteMedSAM's encoder on the two real CT volumes,
# with and without the feature loss, then measure the box-prompt Dice of the base and both encoders on their
# labelled slices. Run from the repository root:
#   bash docs/pretrain/run_ablation.sh                                  (CPU: set STEPS small, e.g. STEPS=20 BATCH=2)
#   DEVICE=cuda STEPS=200 BATCH=32 VARIANTS="feat feat4 mim" bash docs/pretrain/run_ablation.sh   (one GPU, bf16)
# Variants: feat (L_MIM + L_feat), featN (L_MIM + N x L_feat), mim (L_MIM alone). FROZEN=K: the CPU-feasible mode
# (--freeze-stages K).
set -euo pipefail
PY=${PY:-python -m gfm_napari}
S=../shared/data
CT1=${CT1:-$S/ct_totalseg/example_ct_sm.nii.gz}
CT1_SEG=${CT1_SEG:-$S/ct_totalseg/example_seg.nii.gz}
CT2=${CT2:-$S/dicom_ct_series_totalseg/series}
CT2_SEG=${CT2_SEG:-$S/dicom_ct_series_totalseg/example_seg_dicom.nii.gz}
RUNS=${RUNS:-runs/pretrain}
OUT=${RESULTS:-docs/pretrain}
DEVICE=${DEVICE:-cpu}
mkdir -p "$RUNS" "$OUT"
evaluate() {  # $1 = name, $2... = extra options
  local name=$1; shift
  $PY evaluate --image "$CT1" --label "$CT1_SEG" --prompt box --device "$DEVICE" "$@" -o "$OUT/ct_${name}_box.json" > /dev/null
  $PY evaluate --image "$CT2" --label "$CT2_SEG" --prompt box --device "$DEVICE" "$@" -o "$OUT/dicom_${name}_box.json" > /dev/null
}
evaluate base
for variant in ${VARIANTS:-feat feat4 mim}; do
  case $variant in mim) weight=0 ;; feat) weight=1 ;; feat*) weight=${variant#feat} ;; esac  # featN: N x L_feat
  rm -rf "$RUNS/$variant"
  $PY pretrain --data "$CT1" "$CT2" --out "$RUNS/$variant" --steps "${STEPS:-300}" --batch-size "${BATCH:-32}" \
    --feat-weight $weight --freeze-stages "${FROZEN:-0}" --device "$DEVICE" --checkpoint-every "${STEPS:-300}" | tail -n 2
  cp "$RUNS/$variant/log.jsonl" "$OUT/log_$variant.jsonl"
  evaluate "$variant" --encoder "$RUNS/$variant/encoder"
done
