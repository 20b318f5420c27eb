"""The 8-bit encoder's runtime, measured: float ONNX Runtime, an earlier 8-bit recipe (ONNX Runtime's dynamic
quantization, weights per output channel) and the shipped one (NNCF static on OpenVINO, `models/openvino_encoder.py`),
its float parts in float32 and in bfloat16 (shipped where the CPU computes bfloat16 natively), on the same real
planes, in one process, interleaved (issue 22).

    python benchmarks/int8_runtimes.py [--data ../shared/data] [--repeats 3] [-o report.json]   # ~3 min on 2 cores

Planes: 3 slices each of the abdominal CT and MR samples, BraTS FLAIR, the radiomics NRRD brain and the DICOM CT
series, the Atlanta tile and the Landsat scene (17), preprocessed as the predictor does. Only the two shipped
samples (the CT abdomen and the Atlanta tile in ``resources/samples``) calibrate the shipped recipe. Reports the
median milliseconds per plane and the embeddings' cosine to float (min and mean over the planes).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from report import emit  # benchmarks/report.py (run as a script, its folder is on the path)

from gfm_napari.engine.predictor import Predictor
from gfm_napari.images import Plane, fit_normalization, read_image
from gfm_napari.models import load_model
from gfm_napari.models.onnx_encoder import OnnxEncoder
from gfm_napari.models.openvino_encoder import OpenVinoEncoder
from gfm_napari.models.openvino_runtime import native_bfloat16

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VOLUMES = ("ct_totalseg/example_ct_sm.nii.gz", "mr_totalseg/example_mr_sm.nii.gz",
           "mr_brats_tumour_manual/Flair_subtrMeanDivStd.nii.gz", "radiomics_nrrd_manual/brain1_image.nrrd",
           "dicom_ct_series_totalseg/series")
RASTERS = ("sat_spacenet_atlanta_buildings/sample_geotiff.tif", "sat_landsat_rgb_rasterio/RGB.byte.tif")


def planes(data: Path, predictor: Predictor) -> np.ndarray:
    inputs = []
    for name in VOLUMES + RASTERS:
        image = read_image(data / name)
        normalization = fit_normalization(image)
        axis, index = Plane.of(image).key
        indices = [index] if axis is None else [image.array.shape[axis] * k // 4 for k in (1, 2, 3)]
        for i in indices:
            inputs.append(predictor.preprocess(normalization.apply(Plane.at(image, axis, i).take(image.array))))
    return torch.cat(inputs).numpy()


def dynamic_int8(float_onnx: Path, folder: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = folder / "dynamic_int8.onnx"
    logging.getLogger().setLevel(logging.ERROR)
    quantize_dynamic(float_onnx, path, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                     per_channel=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    float_model = load_model("litemedsam_clicks", device="cpu", precision="float")
    int8_model = load_model("litemedsam_clicks", device="cpu", precision="int8")
    x = planes(args.data, Predictor(float_model))
    encoder = float_model.segmenter.image_encoder
    with tempfile.TemporaryDirectory() as folder:
        onnx_float = float_model.segmenter.encoder_runtime.path  # the float model's cached export
        runtimes = {
            "float, ONNX Runtime": float_model.segmenter.encoder_runtime,
            "8-bit dynamic, ONNX Runtime (before)": OnnxEncoder(encoder, dynamic_int8(onnx_float, Path(folder)),
                                                                torch.get_num_threads()),
            "8-bit NNCF static, OpenVINO, float parts in float32": OpenVinoEncoder(
                encoder, int8_model.segmenter.encoder_runtime.path, torch.get_num_threads(), bfloat16=False),
            "8-bit NNCF static, OpenVINO, float parts in bfloat16 (shipped)": int8_model.segmenter.encoder_runtime,
        }
        reference = [runtimes["float, ONNX Runtime"](torch.from_numpy(x[i : i + 1])).numpy() for i in range(len(x))]
        times = {name: [] for name in runtimes}
        cosines = {name: [] for name in runtimes}
        for _ in range(args.repeats):
            for name, runtime in runtimes.items():
                runtime(torch.from_numpy(x[:1]))  # warm
                for i in range(len(x)):
                    start = time.perf_counter()
                    out = runtime(torch.from_numpy(x[i : i + 1])).numpy().ravel()
                    times[name].append(time.perf_counter() - start)
                    ref = reference[i].ravel()
                    cosines[name].append(float(out @ ref / np.linalg.norm(out) / np.linalg.norm(ref)))
    report = {
        "planes": len(x), "repeats": args.repeats, "threads": torch.get_num_threads(), "native_bfloat16": native_bfloat16(),
        "runtimes": {name: {"median_ms": round(1000 * statistics.median(times[name]), 1),
                            "cosine_to_float_min": round(min(cosines[name]), 4),
                            "cosine_to_float_mean": round(statistics.fmean(cosines[name]), 4)} for name in runtimes},
    }
    emit(report, args.output)


if __name__ == "__main__":
    main()
