"""The 8-bit image encoder on the CPU: the float ONNX export, quantized once per model by NNCF and run by OpenVINO.

Measured on 2 CPU cores (AMD EPYC with AVX-512 VNNI; `benchmarks/int8_runtimes.py`, README "An 8-bit encoder"):
static 8-bit matrix products (attention and MLPs; NNCF's transformer scheme: per-channel weights, activation ranges
from calibration, bias correction) on OpenVINO take ~0.8x the time of ONNX Runtime's dynamic 8-bit recipe that
came before, with the embeddings' cosine to float 0.995-0.998 on CT, MR, BraTS, NRRD brain, DICOM CT and Landsat
planes that were not used for calibration. The convolutions stay float: in 8 bits, TinyViT's stage-0 MBConv
layers lose the embeddings (cosine 0.65-0.98 whatever was left out), as they did on ONNX Runtime. Where the CPU
computes bfloat16 natively (AVX-512 BF16 or AMX), the float parts run in bfloat16: 0.74-0.79x the time of float32
parts (233 against 316 ms, then 305 against 387 ms a plane on the same 17 planes, in two runs of
``benchmarks/int8_runtimes.py``), cosine to float 0.994 at worst against 0.996.

Calibration uses the two samples the package ships (:mod:`gfm_napari.samples`: 6 slices of the CT, the Atlanta
tile whole and four native 256 px windows of it), preprocessed as the predictor does, so a model gets the same
8-bit export on every machine without any data of the user's. The export lives beside the float one
(``<cache>/onnx/``) as OpenVINO IR (``.xml`` + ``.bin``), named by the model id, the recipe's revision and the
versions of torch, OpenVINO and NNCF; the ``.bin`` is written first and the ``.xml`` last, each atomically, so an
``.xml`` on disk always has its weights.

OpenVINO and NNCF are imported without their telemetry (:mod:`.openvino_runtime`).
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gfm_napari.models.exports import ExportedModule, export_path
from gfm_napari.models.onnx_encoder import float_export
from gfm_napari.models.openvino_runtime import compile_on_cpu, import_nncf, import_openvino, quantize
from gfm_napari.models.precision import cache_suffix

INT8_REVISION = 3  # bump when the 8-bit recipe changes (3: NNCF static on OpenVINO; 2: ONNX Runtime dynamic)
CT_SLICES = 6
RASTER_WINDOW = 256  # the working window of a raster at native resolution (engine.zoom)


class OpenVinoEncoder(ExportedModule):
    """Callable ``images [B, 3, S, S] float32 -> embeddings`` running ``encoder``'s 8-bit OpenVINO model; its float
    parts (convolutions, normalisations, softmax, layout) in bfloat16 where the CPU computes it natively and
    ``bfloat16`` is set (see the module), else in float32."""

    def __init__(self, encoder: nn.Module, path: Path, threads: int, *, bfloat16: bool = True) -> None:
        super().__init__(encoder, path)
        model = import_openvino().Core().read_model(str(path))
        size = model.input(0).get_partial_shape()
        model.reshape([1, 3, size[2].get_length(), size[3].get_length()])  # static shapes: OpenVINO's fast kernels
        self._request = compile_on_cpu(model, threads, bfloat16=bfloat16).create_infer_request()
        self._lock = threading.Lock()  # one infer request; encodes may come from several workers

    @property
    def float_parts(self) -> str:
        """What the model's float parts are computed in: ``"bf16"`` or ``"f32"``."""
        return self._request.get_compiled_model().get_property("INFERENCE_PRECISION_HINT").get_type_name()

    @classmethod
    def for_encoder(cls, encoder: nn.Module, model_id: str, input_size: int) -> OpenVinoEncoder:
        """Load the cached 8-bit model of ``encoder`` (``model_id``: the 8-bit model's cache id, ``…+int8``),
        quantizing its float export first if there is none."""
        path = export_path(
            f"{model_id}-q{INT8_REVISION}-torch{torch.__version__}-ov{version('openvino')}-nncf{version('nncf')}.xml")
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            float_id = model_id.removesuffix(cache_suffix("int8"))  # the float export is the float model's own
            quantize(float_export(encoder, float_id, input_size), calibration_inputs(), path,
                     ignored_scope=import_nncf().IgnoredScope(types=["Convolution", "GroupConvolution"]))
        return cls(encoder, path, torch.get_num_threads())

    def __call__(self, images: Tensor) -> Tensor:
        array = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
        with self._lock:
            out = [self._request.infer({0: array[i : i + 1]})[0].copy() for i in range(len(array))]
        return torch.from_numpy(np.concatenate(out))


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
