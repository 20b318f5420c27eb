import copy

import pytest
import torch

from gfm_napari.models.tiny_vit import ConvBN, TinyViT


@pytest.fixture(scope="module")
def fixed_input() -> torch.Tensor:
    return torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))


def test_encoder_output_shape(litemedsam, fixed_input):
    with torch.inference_mode():
        out = litemedsam.segmenter.image_encoder(fixed_input.to(litemedsam.device))
    assert out.shape == (1, 256, 64, 64)
    assert torch.isfinite(out).all()


def test_fused_encoder_matches_unfused(litemedsam_clicks_plain, fixed_input):
    encoder = litemedsam_clicks_plain.segmenter.image_encoder
    fused = copy.deepcopy(encoder).fuse_conv_bn()
    assert not any(isinstance(m, ConvBN) for m in fused.modules())
    images = fixed_input.to(litemedsam_clicks_plain.device)
    with torch.inference_mode():
        diff = (fused(images) - encoder(images)).abs().max().item()
    assert diff < (1e-4 if images.device.type == "cpu" else 1e-2)  # GPU convolutions run in TF32


def test_forward_stages_shapes():
    encoder = TinyViT().eval()
    with torch.inference_mode():
        stages = encoder.forward_stages(torch.rand(1, 3, 256, 256))
    shapes = [tuple(s.shape) for s in stages]
    assert shapes == [(1, 128, 128, 128), (1, 160, 64, 64), (1, 320, 64, 64), (1, 320, 64, 64)]


def test_eval_bias_cache_follows_loaded_weights():
    torch.manual_seed(0)
    small = dict(img_size=64, embed_dims=(8, 16, 24, 32), num_heads=(1, 2, 3, 4), out_chans=16)
    model, other = TinyViT(**small).eval(), TinyViT(**small).eval()
    for p in other.parameters():
        p.data.normal_(0, 0.1)  # attention biases differ from the zeros of `model`
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        model(x)  # fills the eval-mode bias cache
        model.load_state_dict(other.state_dict())
        assert torch.allclose(model(x), other(x), atol=1e-6)
