import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from gfm_napari.errors import ModelError
from gfm_napari.models.weights import load_weights, read_state_dict


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_safetensors_round_trip(tmp_path):
    src, dst = _net(), nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    save_file(src.state_dict(), tmp_path / "w.safetensors")
    load_weights(dst, tmp_path / "w.safetensors", model_name="tiny")
    assert torch.equal(dst[0].weight, src[0].weight)


@pytest.mark.parametrize("wrap", ["model", "state_dict"])
def test_wrapped_state_dict_is_unwrapped(tmp_path, wrap):
    state = _net().state_dict()
    torch.save({wrap: state, "epoch": 3}, tmp_path / "w.pth")
    assert read_state_dict(tmp_path / "w.pth").keys() == state.keys()


class NotATensor:
    pass


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"weight": torch.zeros(2), "payload": NotATensor()}, tmp_path / "evil.pth")
    with pytest.raises(ModelError, match="evil.pth holds Python objects besides tensors"):
        read_state_dict(tmp_path / "evil.pth")


def test_corrupt_safetensors(tmp_path):
    (tmp_path / "w.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ModelError, match="not a readable checkpoint"):
        read_state_dict(tmp_path / "w.safetensors")


def test_non_tensor_values_are_refused(tmp_path):
    torch.save({"weight": torch.zeros(2), "lr": 0.1}, tmp_path / "mixed.pth")
    with pytest.raises(ModelError, match="mixed.pth does not contain a state dict of tensors"):
        read_state_dict(tmp_path / "mixed.pth")
