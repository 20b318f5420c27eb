# The aerial split of the GFM proof (sourced by three_arms_common.sh with DOMAIN=aerial): WorldView panchromatic,
# 0.3-0.5 m, far from LiteMedSAM's CT/MR/endoscopy training data.
#   SpaceNet Atlanta (900 x 900 px, 0.5 m; 43 building footprints drawn by people, rasterised as instances):
#     rows 0..599    six 300 px tiles (rNcM: row N, column M): pretraining images, and the adapter's training
#                    (five tiles, 27 buildings) and validation (the last tile given, r1c0: 6 buildings)
#     rows 600..899  held apart (the 900 x 300 px strip, 12 buildings and the parts of others): evaluation only
#   SpaceNet Las Vegas (1300 x 1300 px, 0.3 m; its road labels unused): sixteen 325 px tiles, pretraining images
# Tiles and strip are GeoTIFF windows of the scenes (rasterio: the window's transform, the scene's CRS).
python - "$S" "$RUNS/data" <<'PY'
import sys
from pathlib import Path
import rasterio
from rasterio.windows import Window

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for part in ("pretrain", "adapt", "held_apart"):
    (dst / part).mkdir(parents=True, exist_ok=True)

def cut(path: Path, window: Window, out: Path) -> None:
    with rasterio.open(path) as scene:
        profile = scene.profile | {"width": window.width, "height": window.height,
                                   "transform": scene.window_transform(window)}
        data = scene.read(window=window)
    with rasterio.open(out, "w", **profile) as tile:
        tile.write(data)

atlanta = src / "sat_spacenet_atlanta_buildings"
for row in range(2):
    for col in range(3):
        window = Window(col * 300, row * 300, 300, 300)
        name = f"atlanta_r{row}c{col}"
        cut(atlanta / "sample_geotiff.tif", window, dst / "pretrain" / f"{name}.tif")
        cut(atlanta / "sample_geotiff.tif", window, dst / "adapt" / f"{name}.tif")
        cut(atlanta / "buildings_instances_derived.tif", window, dst / "adapt" / f"{name}_label.tif")
strip = Window(0, 600, 900, 300)
cut(atlanta / "sample_geotiff.tif", strip, dst / "held_apart" / "atlanta_rows600-899.tif")
cut(atlanta / "buildings_instances_derived.tif", strip, dst / "held_apart" / "atlanta_rows600-899_label.tif")
for row in range(4):
    for col in range(4):
        cut(src / "sat_spacenet_vegas_roads" / "road_mask_input.tif", Window(col * 325, row * 325, 325, 325),
            dst / "pretrain" / f"vegas_r{row}c{col}.tif")
PY
PRETRAIN_DATA=("$RUNS/data/pretrain")
ADAPT_DATA=()
for tile in r0c1 r0c2 r1c1 r1c2 r0c0 r1c0; do  # the adapter validates on the last image (r1c2 holds one building)
  ADAPT_DATA+=(--image "$RUNS/data/adapt/atlanta_$tile.tif" --label "$RUNS/data/adapt/atlanta_${tile}_label.tif")
done
EVAL_DATA=(--image "$RUNS/data/held_apart/atlanta_rows600-899.tif"
           --label "$RUNS/data/held_apart/atlanta_rows600-899_label.tif" --instances --min-pixels 100)
