#!/usr/bin/env bash
# A data root for the tree-crown recipe: every entry of the shared data folder (linked) plus DeepForest's
# human-drawn tree-crown boxes on NEON 10 cm aerial images (the MIT-licensed `deepforest` wheel's data folder; its
# images are NEON's open data). Nothing is downloaded at run time by gfm-napari: this script fetches the wheel
# from the package registry once, for training only.
# Usage: bash docs/clicks/tree_crowns/make_data_root.sh [SHARED=../shared/data] [OUT=runs/data_trees]
set -euo pipefail
shared=$(realpath "${1:-../shared/data}")
out=${2:-runs/data_trees}
mkdir -p "$out/deepforest"
for entry in "$shared"/*; do ln -sfn "$entry" "$out/$(basename "$entry")"; done
wheel_dir=$(mktemp -d)
pip download --no-deps deepforest==2.1.0 -d "$wheel_dir" -q
python - "$wheel_dir"/deepforest-2.1.0-py3-none-any.whl "$out/deepforest" <<'PY'
import sys, zipfile
from pathlib import Path
wheel, out = sys.argv[1], Path(sys.argv[2])
names = ["2019_YELL_2_528000_4978000_image_crop2", "2019_YELL_2_541000_4977000_image_crop", "OSBS_029", "SOAP_061"]
with zipfile.ZipFile(wheel) as archive:
    for name in names:
        for suffix in (".png", ".xml"):
            (out / f"{name}{suffix}").write_bytes(archive.read(f"deepforest/data/{name}{suffix}"))
PY
rm -rf "$wheel_dir"
(cd "$out/deepforest" && sha256sum ./*.png ./*.xml)
