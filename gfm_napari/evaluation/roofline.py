"""How much of the machine the encoder uses: its FLOPs per pass against this machine's measured matmul rate."""

from __future__ import annotations

import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from .timing import wait_for


def encoder_gflop(encoder: torch.nn.Module, input_size: int) -> float:
    """GFLOP (multiply and add counted as 2) of one pass of the PyTorch ``encoder`` on one [1, 3, S, S] input
    (the same graph whichever runtime executes it).

    ``torch.utils.flop_counter`` counts matrix products, convolutions and attention, which is where the time goes;
    element-wise work (GELU, norms, softmax) is not counted.
    """
    images = torch.zeros(1, 3, input_size, input_size, device=next(encoder.parameters()).device)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        encoder(images)
    return counter.get_total_flops() / 1e9


def matmul_gflops(device: torch.device | str = "cpu", size: int = 2048, repeats: int = 8) -> float:
    """Best float32 GFLOP/s of a ``size``² matrix product on ``device`` (the CPU: with torch's current thread count;
    a GPU: with torch's current float32 matmul settings, as the encoder runs)."""
    device = torch.device(device)
    a, b = torch.rand(size, size, device=device), torch.rand(size, size, device=device)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        wait_for(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def int8_matmul_gops(size: int = 2048, repeats: int = 8) -> float:
    """Best 8-bit GOP/s of a ``size``² matrix product on the CPU, as the 8-bit encoder's products run: ONNX
    Runtime's MatMulInteger (unsigned 8-bit activations times signed 8-bit weights, 32-bit sums; VNNI where the
    CPU has it), on torch's current thread count."""
    import numpy as np
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])], "int8_matmul",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [size, size]),
         helper.make_tensor_value_info("b", TensorProto.INT8, [size, size])],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [size, size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    generator = np.random.default_rng(0)
    inputs = {"a": generator.integers(0, 256, (size, size), dtype=np.uint8),
              "b": generator.integers(-128, 128, (size, size), dtype=np.int8)}
    session.run(None, inputs)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, inputs)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9
