#!/usr/bin/env bash
# Issue 19's proof: the click path on every domain, on images never used for its training or validation except
# Atlanta (the recipe's validation tile). Per set: one-shot box and centre-click Dice (also the best of the model's
# three masks for the click: --prompt click-choice), a random first click (seed 0),
# and a simulated user (RITM rule, up to 20 prompts): mIoU@k, NoC@85/90.
# Usage: [MODELS="litemedsam_clicks litemedsam_clicks:runs/x/new.safetensors"] [SETS="atlanta water ..."]
#        [VIEWS="1 4"] (each model also through 4 views of every plane: --views, reports named <model>+views4-...)
#        [CLICKS=0] (the one-shot and random-first-click reports only, no simulated user)
#        [NEXT_MASK=1] (also a simulated user who presses Next mask after the first click: <model>-<set>-nextmask.json)
#        bash benchmarks/clicks_heldapart.sh [DATA=../shared/data] [OUT=runs/clicks_heldapart]; then
#        python benchmarks/clicks_heldapart_table.py OUT
set -euo pipefail
data=${1:-../shared/data}
out=${2:-runs/clicks_heldapart}
mkdir -p "$out"
atlanta=(--image "$data/sat_spacenet_atlanta_buildings/sample_geotiff.tif"
         --label "$data/sat_spacenet_atlanta_buildings/buildings_instances_derived.tif" --instances)
water=(--image "$data/sat_sen1floods11_water_manual/Spain_7370579_S2Hand.tif"
       --label "$data/sat_sen1floods11_water_manual/Spain_7370579_LabelHand.tif" --labels 1 --instances --min-pixels 500)
# the Atlanta tile's rows 600..899, held apart from the buildings recipe (DATA = a root made by
# docs/clicks/buildings/make_data_root.sh)
strip=(--image "$data/atlanta_buildings/held_apart_rows600-899.tif"
       --label "$data/atlanta_buildings/held_apart_rows600-899_label.tif" --instances --min-pixels 100)
brats=(--image "$data/mr_brats_tumour_manual/Flair_subtrMeanDivStd.nii.gz"
       --label "$data/mr_brats_tumour_manual/OTMultiClass.nii.gz" --labels 1,2,4 --max-slices 4)
lung=(--image "$data/radiomics_nrrd_manual/lung1_image_crop.nrrd" --label "$data/radiomics_nrrd_manual/lung1_label_crop.nrrd")
ct=(--image "$data/dicom_ct_series_totalseg/series" --label "$data/dicom_ct_series_totalseg/example_seg_dicom.nii.gz"
    --labels 1,5,6,52,63)
for spec in ${MODELS:-litemedsam_clicks}; do
  model=${spec%%:*}
  name=$model
  extra=()
  if [[ $spec == *:* ]]; then
    extra=(--adapter "${spec#*:}")
    name=$(basename "${spec#*:}" .safetensors)
  fi
  for views in ${VIEWS:-1}; do
    shown=$name
    [[ $views == 1 ]] || shown=$name+views$views
    for set in ${SETS:-atlanta water brats lung ct}; do
      declare -n args=$set
      run=(gfm-napari -q evaluate "${args[@]}" --model "$model" "${extra[@]}" --views "$views")
      "${run[@]}" --prompt box --prompt click --prompt click-choice -o "$out/$shown-$set-oneshot.json" >/dev/null
      "${run[@]}" --prompt click --prompt click-choice --first-click random --seed 0 \
        -o "$out/$shown-$set-random.json" >/dev/null
      [[ ${CLICKS:-1} == 0 ]] || "${run[@]}" --clicks 20 -o "$out/$shown-$set-clicks.json" >/dev/null
      [[ ${NEXT_MASK:-0} == 0 ]] || "${run[@]}" --clicks 20 --next-mask -o "$out/$shown-$set-nextmask.json" >/dev/null
      echo "done $shown $set"
    done
  done
done
