"""The viewer's process keeps triton out: its LLVM crashes next to the one an OpenGL driver may have loaded.

napari draws with OpenGL. On a Linux desktop or virtual machine without a vendor GPU driver (and under Xvfb) that
is Mesa's llvmpipe, on AMD GPUs Mesa's radeonsi: both load Mesa's ``libLLVM`` into the process once the first
canvas exists. triton, which ``torch._dynamo`` imports whenever it is installed (``timm`` / ``segment_anything``
→ ``torchvision.ops`` → ``torch._dynamo``), carries an LLVM of its own; loaded after Mesa's, it crashes the
process (SIGSEGV in ``triton/knobs.py``) — whichever order the viewer and the dock were opened in.

The viewer's process never compiles kernels (inference is eager PyTorch or ONNX Runtime; training and
pretraining run as ``gfm-napari`` subprocesses, which may use triton), so it does without triton altogether.
``sys.modules[name] = None`` is Python's documented way to make ``import name`` raise ``ModuleNotFoundError``
(and ``importlib.util.find_spec`` return ``None``), which torch reads as "triton is not installed".
"""

from __future__ import annotations

import sys

BLOCKED = "triton"


def keep_triton_out() -> bool:
    """Make ``import triton`` fail in this process from now on; False if it was already imported (then it was
    loaded before any OpenGL driver, which is safe)."""
    if BLOCKED in sys.modules:
        return sys.modules[BLOCKED] is None
    sys.modules[BLOCKED] = None
    return True
