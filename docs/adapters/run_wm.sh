#!/usr/bin/env bash
# The adapters proof on real data (README "Adapters"): MNI152 white matter, where the base model is weak.
# Train each adapter kind on axial slices 40..129 (split inside into training and validation by 8-slice blocks),
# evaluate every model on the held-apart slices 135..169. Run from the repository root:
#   bash docs/adapters/run_wm.sh            (about 1 h on 2 CPU cores)
set -euo pipefail
D=../shared/data/mri_brain_mni152
IMAGE=$D/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz
LABEL=$D/mni152_wm_mask_derived.nii.gz
RUNS=${RUNS:-runs/adapters}
OUT=docs/adapters
evaluate() {  # $1 = name, $2... = extra options
  local name=$1; shift
  gfm-napari evaluate --image $IMAGE --label $LABEL --slices 135:170 --max-slices 12 --prompt box "$@" -o $OUT/wm_${name}_box.json
  gfm-napari evaluate --image $IMAGE --label $LABEL --slices 135:170 --max-slices 12 --clicks 20 "$@" -o $OUT/wm_${name}_clicks.json
}
evaluate base
for kind in ${KINDS:-lora adaptformer bottleneck}; do
  /usr/bin/time -v gfm-napari train-adapter --preset adapter --kind $kind --image $IMAGE --label $LABEL --slices 40:130 \
    --steps ${STEPS:-250} --val-every 50 --out $RUNS/wm_$kind --export $RUNS/wm_$kind/wm_$kind 2> $RUNS/wm_$kind.time
  evaluate $kind --adapter $RUNS/wm_$kind/wm_$kind
done
