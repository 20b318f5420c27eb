#!/usr/bin/env bash
# Base LiteMedSAM vs the click-trained decoder on images never used for its training (see resources/presets/clicks.json):
# one-shot box / single-click Dice, and simulated clicks (RITM rule, up to 20, logits fed back): NoC@85/90, mIoU@k.
# Usage: [MODELS="litemedsam litemedsam_clicks"] bash benchmarks/clicks_proof.sh [DATA=../shared/data] [OUT=runs/clicks_proof];
# then clicks_table.py OUT.
set -euo pipefail
data=${1:-../shared/data}
out=${2:-runs/clicks_proof}
mkdir -p "$out"
ct=(--image "$data/dicom_ct_series_totalseg/series" --label "$data/dicom_ct_series_totalseg/example_seg_dicom.nii.gz"
    --labels 1,5,6,52,63)
mr=(--image "$data/mr_totalseg/example_mr_sm.nii.gz" --label "$data/mr_totalseg/example_seg_mr.nii.gz" --labels 1,2,3,5,6)
sat=(--image "$data/sat_spacenet_atlanta_buildings/sample_geotiff.tif"
     --label "$data/sat_spacenet_atlanta_buildings/buildings_instances_derived.tif")
for model in ${MODELS:-litemedsam litemedsam_clicks}; do
  for domain in ct mr sat; do
    declare -n args=$domain
    gfm-napari evaluate "${args[@]}" --model "$model" --prompt box --prompt click -o "$out/$model-$domain-oneshot.json" >/dev/null
    gfm-napari evaluate "${args[@]}" --model "$model" --clicks 20 --start click -o "$out/$model-$domain-clicks.json" >/dev/null
    echo "done $model $domain"
  done
done
