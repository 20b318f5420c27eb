#!/usr/bin/env bash
# A data root for the buildings recipe: every entry of the shared data folder (linked) plus the SpaceNet Atlanta
# tile (0.5 m, 43 building footprints drawn by people) cut into three parts, GeoTIFF windows that keep the window's
# transform and the scene's CRS (rasterio):
#   atlanta_buildings/train_rows0-299.tif        rows 0..299, all columns        training
#   atlanta_buildings/train_rows300-599_cols300-899.tif                          training
#   atlanta_buildings/validation_rows300-599_cols0-299.tif                       validation (chooses the step)
#   atlanta_buildings/held_apart_rows600-899.tif rows 600..899 (the 900 x 300 strip of the pretraining proof)
#                                                never read by training or validation; the held-apart figures
# each with a *_label.tif of the footprints (instance ids) on the same window.
# Usage: bash docs/clicks/buildings/make_data_root.sh [SHARED=../shared/data] [OUT=runs/data_buildings]
set -euo pipefail
shared=$(realpath "${1:-../shared/data}")
out=${2:-runs/data_buildings}
mkdir -p "$out/atlanta_buildings"
for entry in "$shared"/*; do ln -sfn "$entry" "$out/$(basename "$entry")"; done
python - "$shared/sat_spacenet_atlanta_buildings" "$out/atlanta_buildings" <<'PY'
import sys
from pathlib import Path

import rasterio
from rasterio.windows import Window

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
parts = {  # name: (column offset, row offset, width, height)
    "train_rows0-299": (0, 0, 900, 300),
    "train_rows300-599_cols300-899": (300, 300, 600, 300),
    "validation_rows300-599_cols0-299": (0, 300, 300, 300),
    "held_apart_rows600-899": (0, 600, 900, 300),
}
for name, (col, row, width, height) in parts.items():
    window = Window(col, row, width, height)
    for source, suffix in (("sample_geotiff.tif", ""), ("buildings_instances_derived.tif", "_label")):
        with rasterio.open(src / source) as scene:
            profile = scene.profile | {"width": width, "height": height, "transform": scene.window_transform(window)}
            data = scene.read(window=window)
        with rasterio.open(dst / f"{name}{suffix}.tif", "w", **profile) as part:
            part.write(data)
PY
(cd "$out/atlanta_buildings" && sha256sum ./*.tif)
