"""Seconds per working window of the automatic pass (issue 20's speed targets), side by side in one process.

    python benchmarks/auto_speed.py [--data ../shared/data] [--rounds 2]   # prints JSON

Windows: the first 256 px window of the Atlanta SpaceNet tile (a raster tile at native resolution) and the middle
512² slice of the DICOM CT series (one window: the model sees the slice whole). Contenders, taking turns within
each round: float and 8-bit (encoder and decoder), each with the decoder's first-block parts kept per plane (the
product: ``models/plane_attention.py``), and float with segment-anything's own transformer, every projection for
every click (the path before issue 22; the 8-bit decoder runs from the kept parts only). "uncached" clears the
embedding cache first, so it includes encoding the window; "cached" does not.
Targets: <= 10 s per 256 px tile, <= 60 s per 512² CT slice, on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from gfm_napari.engine.auto import segment_everything
from gfm_napari.engine.cache import EmbeddingCache
from gfm_napari.engine.predictor import Predictor
from gfm_napari.evaluation.bench import machine
from gfm_napari.images import Plane, fit_normalization, read_image
from gfm_napari.images.windowed import Window
from gfm_napari.jobs import run
from gfm_napari.models import load_model
from gfm_napari.models.fast import ChannelsLastMaskDecoder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGETS = {"tile_256": 10.0, "ct_slice_512": 60.0}


def _sams_transformer(decoder_forward):
    def forward(self, *args, reuse_plane=False, **options):
        return decoder_forward(self, *args, reuse_plane=False, **options)

    return forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    tile = read_image(args.data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif")
    series = read_image(args.data / "dicom_ct_series_totalseg" / "series")
    cases = {"tile_256": (tile, None, None, Window(0, 0, 256, 256)),
             "ct_slice_512": (series, *Plane.of(series).key, None)}
    models = {precision: load_model("litemedsam_clicks", device="cpu", precision=precision)
              for precision in ("float", "int8")}
    kept_forward = ChannelsLastMaskDecoder.forward
    times: dict[str, list[float]] = {}
    found: dict[str, int] = {}
    for _ in range(args.rounds):
        for case, (image, axis, index, region) in cases.items():
            normalization = fit_normalization(image)
            for precision, model in models.items():
                for decoder, forward in (("plane parts kept", kept_forward),
                                         ("SAM's transformer", _sams_transformer(kept_forward))):
                    if precision != "float" and forward is not kept_forward:
                        continue  # the 8-bit decoder runs from the kept parts only
                    ChannelsLastMaskDecoder.forward = forward
                    predictor = Predictor(model, EmbeddingCache())
                    for cache in ("uncached", "cached"):
                        start = time.perf_counter()
                        result = run(segment_everything(predictor, image, axis, index, normalization=normalization,
                                                        region=region))
                        key = f"{case} | {precision} | {decoder} | {cache}"
                        times.setdefault(key, []).append(time.perf_counter() - start)
                        found[key] = int(result.labels.max())
    ChannelsLastMaskDecoder.forward = kept_forward
    report = {key: {"seconds_median": round(statistics.median(t), 2), "seconds": [round(x, 2) for x in t],
                    "objects": found[key]} for key, t in times.items()}
    checks = {case: {"target_s": target, "int8_kept_uncached_s": report[f"{case} | int8 | plane parts kept | uncached"]
                     ["seconds_median"]} for case, target in TARGETS.items()}
    for check in checks.values():
        check["met"] = check["int8_kept_uncached_s"] <= check["target_s"]
    print(json.dumps({"windows": report, "targets": checks, "machine": machine()}, indent=1))


if __name__ == "__main__":
    main()
