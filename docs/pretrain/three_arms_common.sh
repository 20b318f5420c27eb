# Shared by run_three_arms.sh, run_pretraining_curve.sh and run_adapter_seeds.sh (sourced, not run): the data split,
# one pretraining run, one adapter and the held-apart evaluation of the GFM proof (README "Does pretraining help?").
# DOMAIN picks the split: three_arms_brats.sh (MR brain tumour, the default) or three_arms_aerial.sh (WorldView
# buildings); each sets PRETRAIN_DATA, ADAPT_DATA and EVAL_DATA.
# Settings: BATCH (crops per pretraining step, 4), FROZEN (--freeze-stages, 2), ASTEPS (adapter steps, 150),
# ADAPTER_OPTS (more train-adapter options, e.g. "--train-decoder"), SEED (the adapter's seed, 0), RUNS (run
# folders), RESULTS (reports).
PY=${PY:-python -m gfm_napari}
export GFM_NAPARI_PRECISION=${GFM_NAPARI_PRECISION:-float}  # as measured: the arms' encoders, not their 8-bit copies
S=../shared/data
RUNS=${RUNS:-runs/three_arms}
OUT=${RESULTS:-docs/pretrain/three_arms}
mkdir -p "$RUNS/data" "$OUT"
source "$(dirname "${BASH_SOURCE[0]}")/three_arms_${DOMAIN:-brats}.sh"

evaluate_prompts() {  # $1 = name, $2... = extra options: box and one-click Dice on the held-apart data
  local name=$1; shift
  $PY evaluate "${EVAL_DATA[@]}" --prompt box --prompt click "$@" -o "$OUT/${name}_prompts.json" > /dev/null
}

evaluate() {  # $1 = name, $2... = extra options: evaluate_prompts, then 20 simulated clicks, on the held-apart data
  local name=$1; shift
  evaluate_prompts "$name" "$@"
  $PY evaluate "${EVAL_DATA[@]}" --clicks 20 "$@" -o "$OUT/${name}_clicks.json" > /dev/null
}

pretrain() {  # $1 = run name, $2 = --feat-weight, $3 = steps, $4 = report name, $5... = more options (--resume);
  local name=$1 weight=$2 total=$3 report=$4; shift 4  # the encoder: $RUNS/pretrain_$1/encoder
  /usr/bin/time -v $PY pretrain --data "${PRETRAIN_DATA[@]}" --out "$RUNS/pretrain_$name" --steps "$total" \
    --batch-size "${BATCH:-4}" --feat-weight "$weight" --freeze-stages "${FROZEN:-2}" --seed 0 \
    --checkpoint-every 50 "$@" 2> "$OUT/pretrain_$report.time" | tail -n 2
  cp "$RUNS/pretrain_$name/log.jsonl" "$OUT/pretrain_log_$report.jsonl"
}

keep_encoder() {  # $1 = arm, $2 = steps: a copy of the arm's current encoder, as $RUNS/encoder_$1$2
  for part in safetensors json; do cp "$RUNS/pretrain_$1/encoder.$part" "$RUNS/encoder_$1$2.$part"; done
}

evaluate_base_encoder() {  # the base model's own encoder written as an encoder file: the reference of the "encoder
  # alone" rows (a loaded encoder keeps the raster prompt path since session 22; before, it answered rasters through
  # the medical one, as an adapter still does)
  [ -f "$RUNS/encoder_base.json" ] || python - "$RUNS/encoder_base" <<'PY'
import sys
from gfm_napari.models import DEFAULT_MODEL, load_model
from gfm_napari.models.encoder_files import save_encoder
model = load_model(DEFAULT_MODEL, precision="float")
save_encoder(model, model.segmenter.image_encoder.state_dict(), sys.argv[1], note="the base encoder, unchanged")
PY
  evaluate_prompts base_encoder --encoder "$RUNS/encoder_base"
}

adapt_and_evaluate() {  # $1 = name, $2... = the encoder option (none for the base encoder)
  local name=$1; shift
  /usr/bin/time -v $PY train-adapter --preset adapter --kind bottleneck "${ADAPT_DATA[@]}" --steps "${ASTEPS:-150}" \
    --val-every 50 --seed "${SEED:-0}" ${ADAPTER_OPTS:-} "$@" --out "$RUNS/adapter_$name" \
    --export "$RUNS/adapter_$name/adapter_$name" 2> "$OUT/adapter_$name.time" | tail -n 2
  cp "$RUNS/adapter_$name/log.jsonl" "$OUT/adapter_log_$name.jsonl" 2>/dev/null || true
  evaluate "$name" "$@" --adapter "$RUNS/adapter_$name/adapter_$name"
}
