"""Peak memory of segmenting a raster far larger than a tile: ~10k x 10k, built by tiling a real scene.

    python benchmarks/huge_raster.py [--size 10240] [--raster /tmp/gfm_huge_rgb.tif]   # prints JSON
    xvfb-run -a python benchmarks/huge_raster.py --dock    # the same scene through napari and the Segment dock

The raster is rasterio's real Landsat RGB.byte scene (3 x 718 x 791, uint8, UTM 18N, nodata 0) repeated in a grid
to ``size`` x ``size`` pixels with the scene's pixel size and CRS, written once (tiled, DEFLATE, overviews) to
``--raster`` — a stand-in for a large scene, not a new acquisition. The measurement runs in a fresh process:
load the model (baseline RSS), open the raster, fit the band stretch on a decimated overview, segment a few box
prompts spread over the scene (a one-tile box, a box across tiles, a box larger than the window limit that is
split over tiles and stitched), write the full-size mask GeoTIFF and a GeoPackage, then report peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import tempfile
import sys
import time
from pathlib import Path

SCENE = Path(__file__).resolve().parents[2] / "shared" / "data" / "sat_landsat_rgb_rasterio" / "RGB.byte.tif"


def build(path: Path, size: int) -> None:
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(SCENE) as src:
        scene = src.read()
        profile = {**src.profile, "height": size, "width": size, "tiled": True, "blockxsize": 512,
                   "blockysize": 512, "compress": "deflate", "BIGTIFF": "YES"}
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 512):
            rows = min(512, size - row)
            dst.write(_strip(scene, row, rows, size), window=Window(0, row, size, rows))
        dst.build_overviews([2, 4, 8, 16, 32])


def _strip(scene, row: int, rows: int, size: int):
    import numpy as np

    _, h, w = scene.shape
    index_rows = (np.arange(row, row + rows) % h)[:, None]
    index_cols = (np.arange(size) % w)[None, :]
    return scene[:, index_rows, index_cols]


def measure(path: Path) -> dict:
    from gfm_napari.engine.predictor import Predictor
    from gfm_napari.engine.prompts import Prompts
    from gfm_napari.engine.tiles import TiledSegmenter
    from gfm_napari.images.intensity import fit_band_stretch
    from gfm_napari.images.vector import write_polygons
    from gfm_napari.images.windowed import RasterFile, write_window_mask
    from gfm_napari.models import load_model

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20

    from gfm_napari.evaluation.scenarios import peak_rss_mb as peak_mb  # VmHWM: ru_maxrss survives exec

    predictor = Predictor(load_model("litemedsam"))
    baseline = rss_mb()
    peak_after_model = peak_mb()
    start = time.perf_counter()
    raster = RasterFile.open(path)
    normalization = fit_band_stretch(raster.overview(), raster.band_descriptions, nodata=raster.geometry.nodata)
    segmenter = TiledSegmenter(predictor, raster, normalization)
    rows, cols = raster.shape
    boxes = {
        "one tile": (1000.0, 1000.0, 1100.0, 1080.0),
        "across tiles": (cols / 2 - 200, rows / 2 - 150, cols / 2 + 200, rows / 2 + 150),
        "split and stitched": (cols - 1500.0, rows - 1400.0, cols - 200.0, rows - 200.0),
    }
    results = {}
    for name, box in boxes.items():
        t = time.perf_counter()
        prompts = Prompts(box=box)
        windows = segmenter.windows_for(prompts)
        window, mask = segmenter.segment(prompts)
        results[name] = {"windows": len(windows), "mask_pixels": int(mask.sum()), "seconds": round(time.perf_counter() - t, 1)}
    out = path.with_name("huge_mask.tif")
    write_window_mask(out, raster, window, mask)
    write_polygons(path.with_name("huge_mask.gpkg"), mask.astype("uint8"), raster.window_geometry(window))
    return {
        "raster": str(path), "shape": [raster.n_bands, rows, cols], "raster_mb_in_memory": round(raster.nbytes / 2**20, 1),
        "rss_after_model_mb": round(baseline, 1), "peak_rss_after_model_mb": round(peak_after_model, 1),
        "peak_rss_mb": round(peak_mb(), 1), "peak_rss_above_model_mb": round(peak_mb() - baseline, 1),
        "prompts": results, "seconds_total": round(time.perf_counter() - start, 1),
    }


def measure_dock(path: Path) -> dict:
    import napari
    from qtpy.QtWidgets import QApplication

    from gfm_napari.engine.predictor import Predictor
    from gfm_napari.evaluation.scenarios import peak_rss_mb as peak_mb
    from gfm_napari.models import load_model
    from gfm_napari.ui.segment_widget import SegmentWidget

    def settle(condition=lambda: True, seconds: float = 600) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end and not condition():
            QApplication.processEvents()
            time.sleep(0.01)
        QApplication.processEvents()

    predictor = Predictor(load_model("litemedsam"))
    baseline = peak_mb()
    start = time.perf_counter()
    viewer = napari.Viewer(show=False)
    viewer.open(str(path), plugin="gfm-napari")
    stages = {"viewer_opened_raster": round(peak_mb() - baseline, 1)}
    widget = SegmentWidget(viewer, load_default=lambda: predictor, recovery_folder=tempfile.mkdtemp())
    viewer.window.add_dock_widget(widget)
    settle(lambda: widget.session is not None and widget.idle)
    opened = time.perf_counter() - start
    stages["session_started"] = round(peak_mb() - baseline, 1)
    session = widget.session
    rows, cols = session.image.spatial_shape
    boxes = [(1000.0, 1000.0, 1100.0, 1080.0), (cols / 2 - 200, rows / 2 - 150, cols / 2 + 200, rows / 2 + 150),
             (cols - 1500.0, rows - 1400.0, cols - 200.0, rows - 200.0)]
    for number, box in enumerate(boxes, start=1):
        session.set_box(None, None, box)
        session.preview(None, None)
        stages[f"box_{number}_segmented"] = round(peak_mb() - baseline, 1)
        widget._render(force=True)
        settle()
        stages[f"box_{number}_shown"] = round(peak_mb() - baseline, 1)
        session.new_object()
        stages[f"box_{number}_accepted"] = round(peak_mb() - baseline, 1)
    widget._render(force=True)
    viewer.scene.camera.zoom = 1.0
    settle()
    viewer.reset_view()
    settle()
    stages["redrawn"] = round(peak_mb() - baseline, 1)
    report = {
        "raster": str(path), "layer_levels": len(viewer.layers[0].data), "opened_s": round(opened, 1),
        "objects": int(session.labels.max()), "labelled_pixels": int((session.labels > 0).sum()),
        "peak_rss_after_model_mb": round(baseline, 1), "peak_rss_mb": round(peak_mb(), 1),
        "peak_rss_above_model_mb": round(peak_mb() - baseline, 1), "peak_above_model_by_stage_mb": stages,
        "seconds_total": round(time.perf_counter() - start, 1),
    }
    widget.shutdown()
    viewer.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10240)
    parser.add_argument("--raster", type=Path, default=Path("/tmp/gfm_huge_rgb.tif"))
    parser.add_argument("--dock", action="store_true", help="measure napari + the Segment dock (run under xvfb-run)")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        print(json.dumps((measure_dock if args.dock else measure)(args.raster), indent=2))
        return
    if not args.raster.exists():
        t = time.perf_counter()
        build(args.raster, args.size)
        print(f"built {args.raster} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    subprocess.run([sys.executable, __file__, "--raster", str(args.raster), "--measure-only"]
                   + (["--dock"] if args.dock else []), check=True)


if __name__ == "__main__":
    main()
