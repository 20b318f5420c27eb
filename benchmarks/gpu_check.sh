#!/usr/bin/env bash
# The CUDA path, run on a machine with an NVIDIA GPU (python with torch/timm/onnxruntime; gfm_napari importable):
# the latency bench beside its peers, propagation over the CT series, short adapter, click-path and continual-
# pretraining runs on the GPU, then the model, engine and training tests with CUDA as the best device.
# Usage: DATA=../shared/data OUT=runs/gpu_check bash benchmarks/gpu_check.sh   (about 4 min on an H200)
set -uo pipefail
data=${DATA:-../shared/data}
out=${OUT:-runs/gpu_check}     # reports and logs
runs=${RUNS:-$out}            # the training runs' folders
mkdir -p "$out" "$runs"
gfm=(python -m gfm_napari -q)
ct=$data/ct_totalseg
series=$data/dicom_ct_series_totalseg
status=0
step() { local name=$1; shift; echo "== $name"; local t0=$SECONDS; "$@" >"$out/$name.log" 2>&1; local rc=$?
         echo "$name rc=$rc $((SECONDS - t0)) s"; tail -3 "$out/$name.log"; [[ $rc == 0 ]] || status=1; }
nvidia-smi -L
step bench "${gfm[@]}" bench --device cuda --slices 20 --clicks 100 --peers -o "$out/bench.json"
step propagation "${gfm[@]}" bench --device cuda --scenario first-mask --scenario propagation \
  --ct-series "$series/series" --ct-labels "$series/example_seg_dicom.nii.gz" -o "$out/propagation.json"
step adapter "${gfm[@]}" train-adapter --device cuda --image "$ct/example_ct_sm.nii.gz" --label "$ct/example_seg.nii.gz" \
  --labels 1,5 --steps 40 --val-every 20 --out "$runs/adapter"
step pretrain "${gfm[@]}" pretrain --device cuda --data "$ct/example_ct_sm.nii.gz" "$series/series" --steps 40 \
  --out "$runs/pretrain"
cat >"$runs/recipe.json" <<JSON
{"train": [{"image": "ct_totalseg/example_ct_sm.nii.gz", "labels": "ct_totalseg/example_seg.nii.gz", "domain": "CT",
            "axes": [2], "planes_per_axis": 4, "distill_boxes": 4}],
 "validation": [{"image": "mr_totalseg/example_mr_sm.nii.gz", "labels": "mr_totalseg/example_seg_mr.nii.gz",
                 "domain": "MR", "axes": ["axial"], "planes_per_axis": 2}]}
JSON
step clicks "${gfm[@]}" train-adapter --preset clicks --device cuda --data "$data" --recipe "$runs/recipe.json" \
  --steps 40 --val-every 20 --out "$runs/clicks"
step tests timeout ${TEST_SECONDS:-240} python -m pytest -q -p no:cacheprovider --timeout 300 --junitxml "$out/tests.xml" \
  tests/models tests/engine tests/training ${TEST_ARGS:-}
exit $status
