"""3D propagation over 100 uncached slices with the 8-bit model, its decoder on OpenVINO ("ov") or in PyTorch
("torch"), alternating in one process so that the machine's slow spells fall on both.

    python benchmarks/propagation_decoders.py torch ov torch ov [--data ../shared/data]   # prints JSON
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from gfm_napari.evaluation import scenarios
from gfm_napari.evaluation.bench import machine
from gfm_napari.evaluation.volumes import resampled_ct
from gfm_napari.images import read_image
from gfm_napari.images.align import labels_on_grid
from gfm_napari.models import load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("decoders", nargs="+", choices=["ov", "torch"])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    folder = args.data / "dicom_ct_series_totalseg"
    series = read_image(folder / "series")
    labels = labels_on_grid(series, read_image(folder / "example_seg_dicom.nii.gz"))
    model = load_model("litemedsam_clicks", device="cpu", precision="int8")
    runtime = model.segmenter.decoder_runtime
    runs = []
    with tempfile.TemporaryDirectory() as root:
        ct, ct_labels = resampled_ct(series, 100, Path(root) / "ct_100.nii", labels=labels)
        for decoder in args.decoders:
            model.segmenter.decoder_runtime = runtime if decoder == "ov" else None
            result = scenarios.propagation(model, ct, ct_labels)
            runs.append({"decoder": decoder, "uncached_s": result["uncached"]["seconds"],
                         "cached_s": result["cached"]["seconds"], "encoder_pass_s": result["encoder_pass_s"],
                         "dice_3d": result["uncached"]["dice_3d"]})
    print(json.dumps({"runs": runs, "machine": machine()}, indent=1))


if __name__ == "__main__":
    main()
