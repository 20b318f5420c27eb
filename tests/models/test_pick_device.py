import pytest
import torch

from gfm_napari.errors import ModelError
from gfm_napari.models import pick_device

NO_ACCELERATOR = not torch.cuda.is_available() and not torch.backends.mps.is_available()


@pytest.mark.skipif(not NO_ACCELERATOR, reason="this machine has an accelerator")
def test_auto_is_cpu_without_accelerator():
    assert pick_device() == torch.device("cpu")


def test_explicit_cpu_is_honoured():
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_gpu_is_refused():
    with pytest.raises(ModelError, match="CUDA is not available"):
        pick_device("cuda")


def test_unknown_device_is_refused():
    with pytest.raises(ModelError, match="unknown device 'tpu0'"):
        pick_device("tpu0")
