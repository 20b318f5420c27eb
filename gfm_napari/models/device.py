"""Choosing the torch device a model runs on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from gfm_napari.errors import ModelError

__all__ = ["pick_device"]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """The device to run on.

    ``None`` (or ``"auto"``): CUDA if available, else Apple MPS if available, else CPU. An explicit device
    (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) is honoured, or refused with ModelError when this machine
    does not have it.
    """
    if preferred is None or (isinstance(preferred, str) and preferred.strip().lower() in ("", "auto")):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(preferred.strip().lower() if isinstance(preferred, str) else preferred)
    except (RuntimeError, TypeError, ValueError):
        raise ModelError(f"unknown device {str(preferred)!r}: use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(f"device {dev} was asked for but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ModelError(f"device {dev} was asked for but this machine has {torch.cuda.device_count()} GPU(s)")
        return dev
    if dev.type == "mps":
        if not _mps_available():
            raise ModelError("device mps was asked for but Apple MPS is not available on this machine")
        return dev
    raise ModelError(f"unsupported device {str(dev)!r}: use cpu, cuda, cuda:N or mps")


@contextlib.contextmanager
def torch_threads_kept_idle(idle: bool) -> Iterator[None]:
    """With ``idle``, PyTorch runs the operations inside on the calling thread alone.

    For the small work around an OpenVINO model (a click's prompt encoding before the 8-bit decoder, its upscaling
    and threshold after it): once woken by an operation, PyTorch's OpenMP workers spin for tens of milliseconds, on
    the cores OpenVINO's next call needs. Measured on 2 cores, back-to-back clicks on a 512² CT slice: the 8-bit decoder 26 ms a click with
    them spinning, 18 ms without. ``torch.set_num_threads`` sets the calling thread's OpenMP thread count (other
    threads keep theirs), and the count is restored on leaving."""
    if not idle:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
