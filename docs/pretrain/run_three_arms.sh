#!/usr/bin/env bash
# The GFM proof (README "Does pretraining help?"): three arms on MR brain tumour (BraTS FLAIR, expert labels), each
# followed by the same adapter, evaluated on a slab that neither pretraining nor adaptation ever saw.
#   arm 1: no pretraining -> adapter;  arm 2: L_MIM + L_feat -> adapter;  arm 3: L_MIM alone -> adapter.
# Split of BraTS pat0001 (axial slices; the tumour spans 29..102):
#   slices 0..65   unlabelled pretraining images (FLAIR and T1c), and the adapter's training/validation (29..65)
#   slices 70..102 held apart: evaluation only
# Pretraining also reads two other patients' glioma MR (radiomics brain1/brain2, T1 post-Gd, NRRD; images only).
# Run from the repository root (about 1 h 40 min on 2 CPU cores with the defaults):
#   bash docs/pretrain/run_three_arms.sh
# Settings: STEPS (pretraining steps, default 120, as measured), BATCH (crops per step, 4), FROZEN (--freeze-stages, 2),
# ASTEPS (adapter steps, 150), ARMS ("none feat mim"), SKIP_BASE=1 (no evaluation of the model without adapter).
# Then: python docs/pretrain/summarize_three_arms.py
set -euo pipefail
PY=${PY:-python -m gfm_napari}
S=../shared/data
B=$S/mr_brats_tumour_manual
LABEL=$B/OTMultiClass.nii.gz
RUNS=${RUNS:-runs/three_arms}
OUT=${RESULTS:-docs/pretrain/three_arms}
mkdir -p "$RUNS/data" "$OUT"
python - "$B" "$RUNS/data" <<'PY'
import sys, nibabel as nib
src, dst = sys.argv[1:]
for name in ("Flair_subtrMeanDivStd", "T1c_subtrMeanDivStd"):
    image = nib.load(f"{src}/{name}.nii.gz")
    nib.save(image.slicer[:, :, 0:66], f"{dst}/{name}_slices0-65.nii.gz")  # the slicer keeps the affine exact
PY
PRETRAIN_DATA=("$RUNS/data" "$S/radiomics_nrrd_manual/brain1_image.nrrd" "$S/radiomics_nrrd_manual/brain2_image.nrrd")
IMAGE=$B/Flair_subtrMeanDivStd.nii.gz
evaluate() {  # $1 = name, $2... = extra options
  local name=$1; shift
  $PY evaluate --image "$IMAGE" --label "$LABEL" --labels 1,2,4 --slices 70:103 --max-slices 8 --prompt box \
    --prompt click "$@" -o "$OUT/${name}_prompts.json" > /dev/null
  $PY evaluate --image "$IMAGE" --label "$LABEL" --labels 1,2,4 --slices 70:103 --max-slices 8 --clicks 20 "$@" \
    -o "$OUT/${name}_clicks.json" > /dev/null
}
[ -n "${SKIP_BASE:-}" ] || evaluate base  # the model as shipped, no adapter
for arm in ${ARMS:-none feat mim}; do
  encoder=()
  if [ "$arm" != none ]; then
    case $arm in mim) weight=0 ;; feat) weight=1 ;; esac
    /usr/bin/time -v $PY pretrain --data "${PRETRAIN_DATA[@]}" --out "$RUNS/pretrain_$arm" --steps "${STEPS:-120}" \
      --batch-size "${BATCH:-4}" --feat-weight $weight --freeze-stages "${FROZEN:-2}" --seed 0 \
      --checkpoint-every 50 2> "$OUT/pretrain_$arm.time" | tail -n 2
    cp "$RUNS/pretrain_$arm/log.jsonl" "$OUT/pretrain_log_$arm.jsonl"
    encoder=(--encoder "$RUNS/pretrain_$arm/encoder")
  fi
  /usr/bin/time -v $PY train-adapter --preset adapter --kind bottleneck --image "$IMAGE" --label "$LABEL" --labels 1,2,4 \
    --slices 29:66 --steps "${ASTEPS:-150}" --val-every 50 --seed 0 "${encoder[@]}" --out "$RUNS/adapter_$arm" \
    --export "$RUNS/adapter_$arm/tumour_$arm" 2> "$OUT/adapter_$arm.time" | tail -n 2
  cp "$RUNS/adapter_$arm/log.jsonl" "$OUT/adapter_log_$arm.jsonl" 2>/dev/null || true
  evaluate "$arm" "${encoder[@]}" --adapter "$RUNS/adapter_$arm/tumour_$arm"
done
