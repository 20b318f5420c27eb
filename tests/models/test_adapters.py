"""Encoder adapters (models.adapters, models.adapter_files, models.encoder_split): untrained adapters change
nothing, only adapters train, files round-trip and refuse the wrong base, the fast path runs the adapted encoder,
and a cached prefix plus the tail is the full encoder."""

import copy
import dataclasses
import hashlib
import json

import pytest
import torch
from segment_anything.modeling.image_encoder import ImageEncoderViT

from gfm_napari.engine.predictor import Predictor
from gfm_napari.errors import ModelError
from gfm_napari.images import Plane, fit_normalization
from gfm_napari.models import AdapterConfig, apply_adapters, load_adapter, load_model, remove_adapters, save_adapter
from gfm_napari.models.adapter_files import adapter_paths
from gfm_napari.models.adapters import AdapterBranch, adapter_state_dict, frozen_prefix_blocks, has_adapters
from gfm_napari.models.encoder_split import attention_blocks, forward_prefix, forward_tail
from gfm_napari.models.registry import get_spec

KINDS = ("lora", "adaptformer", "bottleneck")


@pytest.fixture(scope="module")
def base():
    return load_model("litemedsam", fast=False)


@pytest.fixture(scope="module")
def ct_input(ct, base):
    """A real abdominal CT slice as LiteMedSAM input [1, 3, 256, 256]."""
    plane = Plane.at(ct, 2, 15).take(ct.array)
    return Predictor(base).preprocess(fit_normalization(ct).apply(plane)).to(base.device)


@pytest.fixture(scope="module")
def base_embedding(base, ct_input):
    with torch.no_grad():
        return base.segmenter.image_encoder(ct_input)


def _randomise(adapters: list[AdapterBranch], seed: int = 0) -> None:
    """Trained-looking adapter weights (an untrained adapter's ``up`` is zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for branch in adapters:
            branch.up.weight.copy_(torch.randn(branch.up.weight.shape, generator=generator) * 0.05)


def _small_sam_encoder() -> ImageEncoderViT:
    """SAM's ViT-B encoder cut to 2 blocks (one windowed, one global) at 256 px: the same block code, fast."""
    torch.manual_seed(0)
    return ImageEncoderViT(
        img_size=256, depth=2, embed_dim=768, num_heads=12, out_chans=256, use_rel_pos=True,
        window_size=14, global_attn_indexes=(1,),
    ).eval()


@pytest.mark.parametrize("kind", KINDS)
def test_untrained_adapters_give_the_base_encoder_output_bit_for_bit(base, ct_input, base_embedding, kind):
    segmenter = copy.deepcopy(base.segmenter)
    added = apply_adapters(segmenter, AdapterConfig(kind=kind, rank=4, scale=2.0, targets=("qkv", "proj")))
    assert len(added) == {"lora": 20, "adaptformer": 10, "bottleneck": 20}[kind]  # 10 blocks, 2 / 1 / 2 each
    with torch.no_grad():
        assert torch.equal(segmenter.image_encoder(ct_input), base_embedding)


def test_only_adapter_parameters_are_trainable_and_base_parameter_names_are_unchanged(base):
    segmenter = copy.deepcopy(base.segmenter)
    base_keys = set(segmenter.state_dict())
    apply_adapters(segmenter, AdapterConfig(kind="lora", rank=4, last_n_blocks=2))
    trainable = {name for name, p in segmenter.named_parameters() if p.requires_grad}
    assert trainable == {
        f"image_encoder.layers.3.blocks.{i}.attn.qkv.adapter.{part}.weight" for i in (0, 1) for part in ("down", "up")
    }
    assert base_keys <= set(segmenter.state_dict())  # a base checkpoint still loads by name
    assert set(adapter_state_dict(segmenter)) == trainable


def test_train_decoder_also_trains_and_saves_the_mask_decoder(base):
    segmenter = copy.deepcopy(base.segmenter)
    apply_adapters(segmenter, AdapterConfig(kind="adaptformer", rank=4, last_n_blocks=1, train_decoder=True))
    trainable = {name for name, p in segmenter.named_parameters() if p.requires_grad}
    decoder = {f"mask_decoder.{name}" for name, _ in segmenter.mask_decoder.named_parameters()}
    assert decoder < trainable and all(".adapter." in k for k in trainable - decoder)
    assert not any(p.requires_grad for p in segmenter.prompt_encoder.parameters())
    assert decoder <= set(adapter_state_dict(segmenter))


def test_removing_adapters_gives_back_the_base_model(base, ct_input, base_embedding):
    segmenter = copy.deepcopy(base.segmenter)
    _randomise(apply_adapters(segmenter, AdapterConfig(kind="bottleneck", rank=4, last_n_blocks=1)))
    remove_adapters(segmenter)
    assert not has_adapters(segmenter)
    assert set(segmenter.state_dict()) == set(base.segmenter.state_dict())
    with torch.no_grad():
        assert torch.equal(segmenter.image_encoder(ct_input), base_embedding)


def test_adapters_are_placed_in_the_chosen_blocks_and_the_prefix_before_them_is_frozen(base):
    segmenter = copy.deepcopy(base.segmenter)
    apply_adapters(segmenter, AdapterConfig(kind="lora", blocks=(3, 7)))
    blocks = attention_blocks(segmenter.image_encoder)
    assert [i for i, b in enumerate(blocks) if isinstance(getattr(b.attn.qkv, "adapter", None), AdapterBranch)] \
        == [3, 7]
    assert frozen_prefix_blocks(segmenter) == 3
    assert frozen_prefix_blocks(base.segmenter) == len(blocks) == 10


def test_bad_configs_are_refused(base):
    for bad in (dict(kind="prefix"), dict(rank=0), dict(targets=("fc1",)), dict(blocks=(1,), last_n_blocks=1)):
        with pytest.raises(ValueError):
            AdapterConfig(**bad)
    with pytest.raises(ValueError, match="10 attention blocks"):
        apply_adapters(copy.deepcopy(base.segmenter.image_encoder), AdapterConfig(last_n_blocks=11))


@pytest.mark.parametrize("start", [0, 1, 2, 8, 10])
def test_a_cached_prefix_then_the_tail_is_the_full_tinyvit_forward(base, start):
    encoder = base.segmenter.image_encoder
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(start)).to(base.device)  # small is fast
    with torch.no_grad():
        assert torch.equal(forward_tail(encoder, forward_prefix(encoder, images, start), start), encoder(images))


@pytest.mark.parametrize("start", [0, 1, 2])
def test_a_cached_prefix_then_the_tail_is_the_full_sam_vit_forward(start):
    encoder = _small_sam_encoder()
    images = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(start))
    with torch.no_grad():
        assert torch.equal(forward_tail(encoder, forward_prefix(encoder, images, start), start), encoder(images))


@pytest.mark.parametrize("kind", KINDS)
def test_sam_vit_blocks_take_adapters_that_start_as_the_identity(kind):
    encoder = _small_sam_encoder()
    images = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = encoder(images)
        added = apply_adapters(encoder, AdapterConfig(kind=kind, rank=4, targets=("qkv", "proj")))
        assert torch.equal(encoder(images), expected)
        _randomise(added)
        assert not torch.allclose(encoder(images), expected, atol=1e-4)
    assert all(not p.requires_grad for n, p in encoder.named_parameters() if ".adapter." not in n)


def test_the_registry_sam_vit_b_takes_lora_in_its_last_blocks():
    segmenter = get_spec("sam_vit_b").builder().eval()
    apply_adapters(segmenter, AdapterConfig(kind="lora", rank=4, last_n_blocks=2))
    blocks = attention_blocks(segmenter.image_encoder)
    assert len(blocks) == 12 and frozen_prefix_blocks(segmenter) == 10
    tokens = torch.rand(1, 14, 14, 768, generator=torch.Generator().manual_seed(0))  # block 10: 14×14 windows
    with torch.no_grad():
        adapted = blocks[10](tokens)
        remove_adapters(segmenter)
        assert torch.equal(adapted, blocks[10](tokens))


@pytest.fixture(scope="module")
def saved(base, ct_input, tmp_path_factory):
    """A LoRA adapter with nonzero weights saved for ``base``, and the CT slice's embedding with it."""
    segmenter = copy.deepcopy(base.segmenter)
    _randomise(apply_adapters(segmenter, AdapterConfig(kind="lora", rank=4, scale=2.0, last_n_blocks=3)))
    path = tmp_path_factory.mktemp("adapters") / "liver"
    save_adapter(dataclasses.replace(base, segmenter=segmenter), path, data_digest="sha256:abc",
                 metrics={"dice": 0.9})
    with torch.no_grad():
        return path, segmenter.image_encoder(ct_input)


def test_save_writes_tensors_and_a_sidecar_naming_the_base(base, saved):
    path, _ = saved
    tensors, sidecar_path = adapter_paths(path)
    assert tensors.name == "liver.safetensors" and sidecar_path.name == "liver.json"
    sidecar = json.loads(sidecar_path.read_text())
    assert sidecar["base_model_id"] == base.model_id
    assert sidecar["base_weights_sha256"].startswith(base.model_id.split("-")[-1])
    assert sidecar["adapter"] == {"kind": "lora", "rank": 4, "scale": 2.0, "targets": ["qkv"], "last_n_blocks": 3,
                                  "blocks": None, "train_decoder": False}
    assert sidecar["training_data_digest"] == "sha256:abc" and sidecar["metrics"] == {"dice": 0.9}
    assert sidecar["created"].endswith("+00:00")


def test_loading_gives_a_new_model_with_the_saved_outputs_and_leaves_the_base_alone(base, saved, ct_input,
                                                                                       base_embedding):
    path, expected = saved
    before = {k: v.clone() for k, v in base.segmenter.state_dict().items()}
    loaded = load_adapter(base, path.with_suffix(".safetensors"))
    sha = json.loads(adapter_paths(path)[1].read_text())["adapter_sha256"]
    assert loaded.model_id == f"{base.model_id}+adapter-{sha[:8]}"
    assert loaded.segmenter is not base.segmenter and not has_adapters(base.segmenter)
    assert base.segmenter.state_dict().keys() == before.keys()
    assert all(torch.equal(v, before[k]) for k, v in base.segmenter.state_dict().items())
    assert not any(p.requires_grad for p in loaded.segmenter.parameters())
    with torch.no_grad():
        output = loaded.segmenter.encode(ct_input)
    assert torch.equal(output, expected)
    assert not torch.allclose(output, base_embedding, atol=1e-3)


def test_an_adapter_for_another_base_model_is_refused_naming_both_ids(base, saved):
    other = dataclasses.replace(base, model_id="litemedsam_clicks-0123456789ab+89abcdef")
    with pytest.raises(ModelError, match=rf"{base.model_id}, not on litemedsam_clicks-0123456789ab\+89abcdef") \
            as error:
        load_adapter(other, saved[0])
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("damage", ["no tensors", "no sidecar", "tensors changed", "sidecar garbled",
                                    "tensors truncated with a matching hash"])
def test_missing_or_damaged_adapter_files_are_refused(base, saved, tmp_path, damage):
    tensors, sidecar = adapter_paths(saved[0])
    copies = adapter_paths(tmp_path / "copy")
    for src, dst in zip((tensors, sidecar), copies):
        dst.write_bytes(src.read_bytes())
    if damage == "no tensors":
        copies[0].unlink()
    elif damage == "no sidecar":
        copies[1].unlink()
    elif damage == "tensors changed":
        data = bytearray(copies[0].read_bytes())
        data[-1] ^= 0xFF
        copies[0].write_bytes(bytes(data))
    elif damage == "sidecar garbled":
        copies[1].write_text("{not json")
    else:
        data = copies[0].read_bytes()[:-100]
        copies[0].write_bytes(data)
        sidecar_data = json.loads(copies[1].read_text())
        sidecar_data["adapter_sha256"] = hashlib.sha256(data).hexdigest()
        copies[1].write_text(json.dumps(sidecar_data))
    with pytest.raises(ModelError) as error:
        load_adapter(base, copies[0])
    assert "\n" not in str(error.value)


def test_the_fast_path_runs_the_adapted_encoder_not_the_base_export(litemedsam_cpu, saved, ct_input, base_embedding,
                                                                    tmp_path, monkeypatch):
    assert litemedsam_cpu.segmenter.encoder_runtime is not None  # the base runs its ONNX export
    monkeypatch.setenv("GFM_NAPARI_CACHE_DIR", str(tmp_path))
    loaded = load_adapter(litemedsam_cpu, saved[0])
    runtime = loaded.segmenter.encoder_runtime
    assert runtime is not None and runtime.is_current() and runtime.path.parent == tmp_path / "onnx"
    assert runtime is not litemedsam_cpu.segmenter.encoder_runtime and "adapter" in runtime.path.name
    with torch.inference_mode():
        output = loaded.segmenter.encode(ct_input.cpu())
    reference_on_gpu = saved[1].device.type != "cpu"  # computed in TF32 there
    assert (output - saved[1].cpu()).abs().max() < (5e-3 if reference_on_gpu else 1e-4)
    assert (output - base_embedding.cpu()).abs().max() > 1e-2


def test_adapters_applied_in_place_to_a_fast_model_turn_its_onnx_export_stale(litemedsam_clicks_cpu):
    segmenter = copy.deepcopy(litemedsam_clicks_cpu.segmenter)
    assert segmenter.encoder_runtime.is_current()
    apply_adapters(segmenter, AdapterConfig(kind="lora", last_n_blocks=1))
    assert not segmenter.encoder_runtime.is_current()  # encode() runs the adapted PyTorch encoder
