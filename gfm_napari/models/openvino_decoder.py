"""The 8-bit mask decoder on the CPU: the prompt-dependent part of a click, exported once per decoder, its large
matrix products quantized by NNCF and run by OpenVINO.

A click on a cached plane runs the decoder's two-way transformer from the first block's image side (kept per plane,
:mod:`.plane_attention`) to the masks: :meth:`.ChannelsLastMaskDecoder.answer`, which is what is exported here
(dynamic numbers of prompt sets and of prompt tokens). Its time goes to the matrix products over the 4096 image
tokens (the later blocks' projections and the ×4 upscaling, which is two matrix products on this path) and to
element-wise work PyTorch runs op by op; OpenVINO fuses the latter, and NNCF's 8-bit products (per-channel weights,
activation ranges calibrated on the shipped samples) run the former at several times the float rate. Only the
products over image tokens are quantized: the token-side products are tiny, and the attention products and the
hypernetwork's mask product shape the logits directly.

The first block's image side stays in PyTorch (float): once per plane, or per click when a mask is given as a
prompt (its dense embedding changes that side). The 8-bit model is named by a hash of the decoder's weights, so a
prompt path with other weights (the raster path, an overlay, a fine-tuned decoder) gets its own; so does one over
another encoder (an adapter, a pretrained encoder), whose embeddings it is calibrated on.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gfm_napari.images.atomic import atomic_path
from gfm_napari.models.exports import ExportedModule, export_path
from gfm_napari.models.openvino_runtime import compile_on_cpu, import_nncf, import_openvino, quantize
from gfm_napari.models.plane_attention import ImageSide

DECODER_REVISION = 1  # bump when the export or the 8-bit recipe changes
IMAGE_TOKENS_MIN = 1024  # a matrix product over at least this many rows runs over image tokens (4096 here)
INPUTS = ("keys", "key_pe", "token_to_image_k", "token_to_image_v", "image_to_token_q", "sparse")


class OpenVinoDecoder(ExportedModule):
    """Callable ``(plane: ImageSide, sparse [K, N, C]) -> (masks [K, 4, 4h, 4w], IoUs [K, 4])`` running the 8-bit
    export of ``decoder.answer`` (a :class:`~gfm_napari.models.fast.ChannelsLastMaskDecoder`)."""

    def __init__(self, decoder: nn.Module, path: Path, threads: int) -> None:
        super().__init__(decoder, path)
        self._request = compile_on_cpu(import_openvino().Core().read_model(str(path)), threads).create_infer_request()
        self._lock = threading.Lock()  # one infer request; clicks and the automatic pass may come from two workers

    @classmethod
    def for_segmenter(cls, segmenter: nn.Module) -> OpenVinoDecoder:
        """The cached 8-bit model of ``segmenter.mask_decoder``, exported and quantized first if there is none
        (calibrated on the shipped samples, encoded by ``segmenter``)."""
        decoder = segmenter.mask_decoder
        encoder = weights_digest(segmenter.image_encoder)[:8]  # the calibration's embeddings come from it
        path = export_path(f"decoder-{weights_digest(decoder)}-encoder-{encoder}-d{DECODER_REVISION}"
                           f"-torch{torch.__version__}-ov{version('openvino')}-nncf{version('nncf')}.xml")
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            onnx_path = path.with_suffix(".onnx")
            calibration = calibration_prompts(segmenter)
            with atomic_path(onnx_path) as tmp:
                _export(decoder, calibration[0], tmp)
            try:
                quantize(onnx_path, calibration, path, ignored_scope=_prompt_side_products(onnx_path))
            finally:
                onnx_path.unlink(missing_ok=True)
        return cls(decoder, path, torch.get_num_threads())

    def __call__(self, plane: ImageSide, sparse: Tensor) -> tuple[Tensor, Tensor]:
        arrays = _graph_inputs(plane, sparse)
        with self._lock:
            masks, iou = self._request.infer(arrays, share_inputs=True).to_tuple()
            return torch.from_numpy(masks.copy()), torch.from_numpy(iou.copy())


def _graph_inputs(plane: ImageSide, sparse: Tensor) -> list[np.ndarray]:
    """The exported graph's inputs (:data:`INPUTS`), contiguous float32."""
    return [np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32) for t in (
        plane.keys, plane.key_pe, plane.token_to_image_k, plane.token_to_image_v, plane.image_to_token_q, sparse)]


def weights_digest(module: nn.Module) -> str:
    """A short hash of ``module``'s parameters and buffers (names, shapes, values)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class _PromptSide(nn.Module):
    """``decoder.answer`` with its inputs as separate tensors, for the export."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, keys: Tensor, key_pe: Tensor, k: Tensor, v: Tensor, q: Tensor, sparse: Tensor):
        return self.decoder.answer(ImageSide(keys, key_pe, k, v, q), sparse)


def _export(decoder: nn.Module, example: list[np.ndarray], path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shapes read as numbers (the embedding size is fixed)
        torch.onnx.export(
            _PromptSide(decoder).eval(), tuple(torch.from_numpy(a) for a in example), str(path),
            input_names=list(INPUTS), output_names=["masks", "iou"],
            dynamic_axes={"sparse": {0: "sets", 1: "tokens"}, "masks": {0: "sets"}, "iou": {0: "sets"}},
            opset_version=18, dynamo=False,
        )


def _prompt_side_products(onnx_path: Path):
    """NNCF's ignored scope: every matrix product but the weighted ones over image tokens (found on a copy with one
    prompt set of two tokens, where every shape is known)."""
    model = import_openvino().Core().read_model(str(onnx_path))
    model.reshape({"sparse": [1, 2, model.input("sparse").get_partial_shape()[2].get_length()]})
    ignored = []
    for op in model.get_ordered_ops():
        if op.get_type_name() != "MatMul":
            continue
        rows = int(np.prod(list(op.get_input_shape(0))[:-1]))
        weighted = op.input_value(1).get_node().get_type_name() in ("Constant", "Convert", "Transpose")
        if not (weighted and rows >= IMAGE_TOKENS_MIN):
            ignored.append(op.get_friendly_name())
    return import_nncf().IgnoredScope(names=ignored)


def calibration_prompts(segmenter: nn.Module) -> list[list[np.ndarray]]:
    """The exported graph's inputs for prompts on the shipped samples' planes (``openvino_encoder``'s calibration
    planes, encoded by ``segmenter``): on each, a lone click, a positive and a negative click, a box, a box and a
    click, and a click with the lone click's mask as a mask prompt."""
    from gfm_napari.models.openvino_encoder import calibration_inputs

    rng = np.random.default_rng(0)
    size = segmenter.input_size
    items: list[list[np.ndarray]] = []
    with torch.inference_mode():
        for image in calibration_inputs():
            embedding = segmenter.encode(torch.from_numpy(image))
            points = torch.from_numpy(rng.uniform(0.1 * size, 0.9 * size, (1, 3, 2)).astype(np.float32))
            box = torch.from_numpy(np.sort(rng.uniform(0.1 * size, 0.9 * size, (2, 2)), axis=0).astype(np.float32))
            box = box.reshape(1, 4)
            click = (points[:, :1], torch.ones(1, 1, dtype=torch.int64))
            lone = _inputs(segmenter, embedding, click, None, None)
            logits = segmenter.mask_decoder.answer(ImageSide(*map(torch.from_numpy, lone[:5])),
                                                   torch.from_numpy(lone[5]))[0][:, 1:2]
            items += [
                lone,
                _inputs(segmenter, embedding, (points[:, :2], torch.tensor([[1, 0]])), None, None),
                _inputs(segmenter, embedding, None, box, None),
                _inputs(segmenter, embedding, click, box, None),
                _inputs(segmenter, embedding, (points[:, 1:], torch.tensor([[1, 1]])), None, logits),
            ]
    return items


def _inputs(segmenter, embedding: Tensor, points, box, mask) -> list[np.ndarray]:
    sparse, dense = segmenter.prompt_encoder(points=points, boxes=box, masks=mask)
    pe = segmenter._image_pe().contiguous(memory_format=torch.channels_last)
    src = (embedding + dense).contiguous(memory_format=torch.channels_last)
    return _graph_inputs(ImageSide.of_plane(segmenter.mask_decoder.transformer, src, pe), sparse)
