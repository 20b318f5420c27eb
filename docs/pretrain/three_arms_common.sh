# Shared by run_three_arms.sh and run_pretraining_curve.sh (sourced, not run): the data split, one pretraining run,
# one adapter and the held-apart evaluation of the GFM proof on MR brain tumour (README "Does pretraining help?").
# Split of BraTS pat0001 (axial slices; the tumour spans 29..102):
#   slices 0..65   unlabelled pretraining images (FLAIR and T1c), and the adapter's training/validation (29..65)
#   slices 70..102 held apart: evaluation only
# Pretraining also reads two other patients' glioma MR (radiomics brain1/brain2, T1 post-Gd, NRRD; images only).
# Settings: BATCH (crops per pretraining step, 4), FROZEN (--freeze-stages, 2), ASTEPS (adapter steps, 150),
# ADAPTER_OPTS (more train-adapter options, e.g. "--train-decoder"), SEED (the adapter's seed, 0), RUNS (run
# folders), RESULTS (reports).
PY=${PY:-python -m gfm_napari}
export GFM_NAPARI_PRECISION=${GFM_NAPARI_PRECISION:-float}  # as measured: the arms' encoders, not their 8-bit copies
S=../shared/data
B=$S/mr_brats_tumour_manual
LABEL=$B/OTMultiClass.nii.gz
IMAGE=$B/Flair_subtrMeanDivStd.nii.gz
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

evaluate_prompts() {  # $1 = name, $2... = extra options: box and one-click Dice on slices 70..102
  local name=$1; shift
  $PY evaluate --image "$IMAGE" --label "$LABEL" --labels 1,2,4 --slices 70:103 --max-slices 8 --prompt box \
    --prompt click "$@" -o "$OUT/${name}_prompts.json" > /dev/null
}

evaluate() {  # $1 = name, $2... = extra options: evaluate_prompts, then 20 simulated clicks, on slices 70..102
  local name=$1; shift
  evaluate_prompts "$name" "$@"
  $PY evaluate --image "$IMAGE" --label "$LABEL" --labels 1,2,4 --slices 70:103 --max-slices 8 --clicks 20 "$@" \
    -o "$OUT/${name}_clicks.json" > /dev/null
}

pretrain() {  # $1 = run name, $2 = --feat-weight, $3 = steps, $4 = report name, $5... = more options (--resume);
  local name=$1 weight=$2 total=$3 report=$4; shift 4  # the encoder: $RUNS/pretrain_$1/encoder
  /usr/bin/time -v $PY pretrain --data "${PRETRAIN_DATA[@]}" --out "$RUNS/pretrain_$name" --steps "$total" \
    --batch-size "${BATCH:-4}" --feat-weight "$weight" --freeze-stages "${FROZEN:-2}" --seed 0 \
    --checkpoint-every 50 "$@" 2> "$OUT/pretrain_$report.time" | tail -n 2
  cp "$RUNS/pretrain_$name/log.jsonl" "$OUT/pretrain_log_$report.jsonl"
}

adapt_and_evaluate() {  # $1 = name, $2... = the encoder option (none for the base encoder)
  local name=$1; shift
  /usr/bin/time -v $PY train-adapter --preset adapter --kind bottleneck --image "$IMAGE" --label "$LABEL" --labels 1,2,4 \
    --slices 29:66 --steps "${ASTEPS:-150}" --val-every 50 --seed "${SEED:-0}" ${ADAPTER_OPTS:-} "$@" --out "$RUNS/adapter_$name" \
    --export "$RUNS/adapter_$name/tumour_$name" 2> "$OUT/adapter_$name.time" | tail -n 2
  cp "$RUNS/adapter_$name/log.jsonl" "$OUT/adapter_log_$name.jsonl" 2>/dev/null || true
  evaluate "$name" "$@" --adapter "$RUNS/adapter_$name/tumour_$name"
}
