"""The 8-bit image encoder on the CPU: the float ONNX export, quantized once per model by NNCF and run by OpenVINO.

Measured on 2 CPU cores (AMD EPYC with AVX-512 VNNI; `benchmarks/int8_runtimes.py`, README "An 8-bit encoder"):
static 8-bit matrix products (attention and MLPs; NNCF's transformer scheme: per-channel weights, activation ranges
from calibration, bias correction) on OpenVINO take ~0.8x the time of ONNX Runtime's dynamic 8-bit recipe that
came before, with the embeddings' cosine to float 0.995-0.998 on CT, MR, BraTS, NRRD brain, DICOM CT and Landsat
planes that were not used for calibration. The convolutions stay float: in 8 bits, TinyViT's stage-0 MBConv
layers lose the embeddings (cosine 0.65-0.98 whatever was left out), as they did on ONNX Runtime.

Calibration uses the two samples the package ships (:mod:`gfm_napari.samples`: 6 slices of the CT, the Atlanta
tile whole and four native 256 px windows of it), preprocessed as the predictor does, so a model gets the same
8-bit export on every machine without any data of the user's. The export lives beside the float one
(``<cache>/onnx/``) as OpenVINO IR (``.xml`` + ``.bin``), named by the model id, the recipe's revision and the
versions of torch, OpenVINO and NNCF; the ``.bin`` is written first and the ``.xml`` last, each atomically, so an
``.xml`` on disk always has its weights.

OpenVINO and NNCF send usage telemetry by default (NNCF from every call; both write a client id under ``~/intel`` on
import); it is kept off here by hiding ``openvino_telemetry`` from their import (they then use their own no-op
stubs), so nothing is written or sent.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
import threading
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gfm_napari.images.atomic import atomic_path
from gfm_napari.models.onnx_encoder import ExportedEncoder, export_path, float_export
from gfm_napari.models.precision import cache_suffix

INT8_REVISION = 3  # bump when the 8-bit recipe changes (3: NNCF static on OpenVINO; 2: ONNX Runtime dynamic)
CT_SLICES = 6
RASTER_WINDOW = 256  # the working window of a raster at native resolution (engine.zoom)


class OpenVinoEncoder(ExportedEncoder):
    """Callable ``images [B, 3, S, S] float32 -> embeddings`` running ``encoder``'s 8-bit OpenVINO model."""

    def __init__(self, encoder: nn.Module, path: Path, threads: int) -> None:
        openvino = _openvino()
        super().__init__(encoder, path)
        core = openvino.Core()
        model = core.read_model(str(path))
        size = model.input(0).get_partial_shape()
        model.reshape([1, 3, size[2].get_length(), size[3].get_length()])  # static shapes: OpenVINO's fast kernels
        self._compiled = core.compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
            "INFERENCE_PRECISION_HINT": "f32",  # the float parts stay float32 (no bf16 where the CPU has it)
            "ENABLE_CPU_PINNING": False,  # the viewer and the decoder share these cores
        })
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request; encodes may come from several workers

    @classmethod
    def for_encoder(cls, encoder: nn.Module, model_id: str, input_size: int) -> OpenVinoEncoder:
        """Load the cached 8-bit model of ``encoder`` (``model_id``: the 8-bit model's cache id, ``…+int8``),
        quantizing its float export first if there is none."""
        path = export_path(
            f"{model_id}-q{INT8_REVISION}-torch{torch.__version__}-ov{version('openvino')}-nncf{version('nncf')}.xml")
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            float_id = model_id.removesuffix(cache_suffix("int8"))  # the float export is the float model's own
            quantize(float_export(encoder, float_id, input_size), calibration_inputs(), path)
        return cls(encoder, path, torch.get_num_threads())

    def __call__(self, images: Tensor) -> Tensor:
        array = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
        with self._lock:
            out = [self._request.infer({0: array[i : i + 1]})[0].copy() for i in range(len(array))]
        return torch.from_numpy(np.concatenate(out))


def quantize(float_onnx: Path, calibration: list[np.ndarray], path: Path) -> None:
    """``float_onnx``'s matrix products quantized to 8 bits by NNCF, calibrated on ``calibration`` (inputs
    [1, 3, S, S]); written as OpenVINO IR at ``path`` (``.xml``, and its ``.bin`` beside it)."""
    openvino, nncf = _openvino(), _nncf()
    with _quiet(nncf):
        from nncf.quantization.advanced_parameters import (
            AdvancedQuantizationParameters,
            AdvancedSmoothQuantParameters,
        )

        quantized = nncf.quantize(
            openvino.Core().read_model(str(float_onnx)), nncf.Dataset(calibration), subset_size=len(calibration),
            model_type=nncf.ModelType.TRANSFORMER,
            ignored_scope=nncf.IgnoredScope(types=["Convolution", "GroupConvolution"]),
            advanced_parameters=AdvancedQuantizationParameters(  # SmoothQuant: no gain here, and slower
                smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=-1, convolution=-1)),
        )
    with tempfile.TemporaryDirectory(dir=path.parent) as folder:
        saved = Path(folder) / "model.xml"
        openvino.save_model(quantized, str(saved), compress_to_fp16=False)
        for part in (saved.with_suffix(".bin"), saved):  # the weights first: an .xml never lacks its .bin
            target = path.with_suffix(part.suffix)
            with atomic_path(target) as tmp:
                tmp.write_bytes(part.read_bytes())


@contextlib.contextmanager
def _telemetry_hidden() -> Iterator[None]:
    """``openvino_telemetry`` unavailable to imports made inside: OpenVINO and NNCF then use their no-op stubs
    (imported as they are, both write a client id under ``~/intel`` and NNCF reports its calls)."""
    hidden = sys.modules.get("openvino_telemetry")
    sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # makes the import fail
    try:
        yield
    finally:
        if hidden is None:
            del sys.modules["openvino_telemetry"]
        else:
            sys.modules["openvino_telemetry"] = hidden


def _openvino():
    with _telemetry_hidden():
        import openvino
    return openvino


def _nncf():
    with _telemetry_hidden():
        import nncf
    return nncf


@contextlib.contextmanager
def _quiet(nncf) -> Iterator[None]:
    """NNCF's log notes kept off the console (its two progress bars still show, once per model)."""
    logger = logging.getLogger("nncf")
    level = logger.level
    nncf.set_log_level(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def calibration_inputs() -> list[np.ndarray]:
    """Model inputs [1, 3, S, S] of the shipped samples, preprocessed as the predictor does: slices of the CT and
    the Atlanta tile, whole and in native working windows (LiteMedSAM's preprocessing; 8 bits run on it only)."""
    from gfm_napari.engine.predictor import model_input
    from gfm_napari.images import Plane, fit_normalization, read_image
    from gfm_napari.models.registry import get_spec
    from gfm_napari.samples import sample_path

    spec = get_spec("litemedsam")
    planes = []
    ct = read_image(sample_path("ct"))
    axis, _ = Plane.of(ct).key
    normalization = fit_normalization(ct)
    for index in np.linspace(0, ct.array.shape[axis] - 1, CT_SLICES).round().astype(int):
        planes.append(normalization.apply(Plane.at(ct, axis, int(index)).take(ct.array)))
    raster = read_image(sample_path("satellite"))
    plane = fit_normalization(raster).apply(Plane.of(raster).take(raster.array))
    rows, cols = plane.shape[:2]
    planes.append(plane)
    for row in (0, rows - RASTER_WINDOW):
        for col in (0, cols - RASTER_WINDOW):
            planes.append(plane[row : row + RASTER_WINDOW, col : col + RASTER_WINDOW])
    return [model_input(p, spec).numpy() for p in planes]
