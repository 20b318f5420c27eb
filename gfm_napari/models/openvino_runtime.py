"""What the 8-bit models (:mod:`.openvino_encoder`, :mod:`.openvino_decoder`) share: OpenVINO and NNCF imported
without telemetry, NNCF's post-training quantization saved atomically, and the CPU settings models compile with.

OpenVINO and NNCF send usage telemetry by default (NNCF from every call; both write a client id under ``~/intel`` on
import); it is kept off here by hiding ``openvino_telemetry`` from their import (they then use their own no-op
stubs), so nothing is written or sent.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from gfm_napari.images.atomic import atomic_path


def import_openvino():
    with _telemetry_hidden():
        import openvino
    return openvino


def import_nncf():
    with _telemetry_hidden():
        import nncf
    return nncf


def compile_on_cpu(model, threads: int, *, bfloat16: bool = False):
    """``model`` (an OpenVINO model) compiled for the CPU as the viewer needs it: ``threads`` threads, one stream,
    no pinning (the viewer and PyTorch share the cores). Its float parts run in float32, or with ``bfloat16`` in
    bfloat16 where the CPU computes it natively (:func:`native_bfloat16`)."""
    return import_openvino().Core().compile_model(model, "CPU", {
        "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "bf16" if bfloat16 and native_bfloat16() else "f32", "ENABLE_CPU_PINNING": False,
    })


@functools.cache
def native_bfloat16() -> bool:
    """Whether OpenVINO's CPU plugin computes bfloat16 natively here (AVX-512 BF16 or AMX: recent Xeon and EPYC,
    Zen 4 and later Ryzen); elsewhere bfloat16 would be emulated, slower than float32."""
    return "BF16" in import_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def quantize(float_model: Path, calibration: Sequence, path: Path, *, ignored_scope) -> None:
    """``float_model``'s (ONNX) matrix products quantized to 8 bits by NNCF's transformer scheme (weights per output
    channel, activations per tensor with ranges calibrated on ``calibration``, one model input or a list of them
    each), leaving out ``ignored_scope``; written as OpenVINO IR at ``path`` (``.xml``, and its ``.bin`` beside
    it): the ``.bin`` first and the ``.xml`` last, each atomically, so an ``.xml`` on disk always has its weights."""
    openvino, nncf = import_openvino(), import_nncf()
    with _quiet(nncf):
        from nncf.quantization.advanced_parameters import (
            AdvancedQuantizationParameters,
            AdvancedSmoothQuantParameters,
        )

        quantized = nncf.quantize(
            openvino.Core().read_model(str(float_model)), nncf.Dataset(list(calibration)),
            subset_size=len(calibration), model_type=nncf.ModelType.TRANSFORMER, ignored_scope=ignored_scope,
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
