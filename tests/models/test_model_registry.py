import hashlib
import re

import pytest
import torch

from gfm_napari.errors import ModelError
from gfm_napari.models import available_models, get_spec, load_model, pick_device


def test_available_models_lists_default_first():
    assert available_models() == ["litemedsam_clicks", "litemedsam", "sam_vit_b", "sam_vit_l", "sam_vit_h"]


def test_specs_carry_input_size_and_preprocessing():
    lite, sam = get_spec("litemedsam"), get_spec("sam_vit_h")
    assert (lite.input_size, lite.preprocessing, lite.needs_checkpoint) == (256, "minmax", False)
    assert (sam.input_size, sam.preprocessing, sam.needs_checkpoint) == (1024, "imagenet", True)
    assert sam.pixel_mean == (123.675, 116.28, 103.53) and sam.pixel_std == (58.395, 57.12, 57.375)
    assert lite.describe_preprocessing() != sam.describe_preprocessing()


def test_unknown_model_lists_known_ones():
    with pytest.raises(ModelError, match="unknown model 'sam_vit_x'.*litemedsam, sam_vit_b"):
        get_spec("sam_vit_x")


def test_litemedsam_loads_frozen_on_the_best_device(litemedsam, litemedsam_weights):
    seg = litemedsam.segmenter
    assert litemedsam.device == pick_device()  # the CPU on CI, CUDA where a GPU is
    assert not seg.training and not any(m.training for m in seg.modules())
    assert not any(p.requires_grad for p in seg.parameters())
    assert all(p.device.type == pick_device().type for p in seg.parameters())
    sha = hashlib.sha256(litemedsam_weights.read_bytes()).hexdigest()
    assert litemedsam.model_id == f"litemedsam-{sha[:12]}"


def test_other_checkpoint_gets_other_model_id(litemedsam, tmp_path):
    state = litemedsam.segmenter.state_dict()
    state["mask_decoder.iou_token.weight"] = state["mask_decoder.iou_token.weight"] + 1
    path = tmp_path / "tuned.pth"
    torch.save(state, path)
    tuned = load_model("litemedsam", checkpoint=path, device="cpu")
    assert tuned.model_id.startswith("litemedsam-") and tuned.model_id != litemedsam.model_id


def test_sam_loads_from_user_checkpoint(sam_vit_b, sam_vit_b_checkpoint):
    assert sam_vit_b.model_id.startswith("sam_vit_b-")
    assert sam_vit_b.weights_path == sam_vit_b_checkpoint.resolve()
    assert not any(p.requires_grad for p in sam_vit_b.segmenter.parameters())


def test_sam_without_checkpoint_says_one_is_required():
    with pytest.raises(ModelError, match="sam_vit_b needs a checkpoint"):
        load_model("sam_vit_b")


def test_missing_checkpoint_is_named(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(ModelError, match=f"not found: {re.escape(str(missing))}"):
        load_model("sam_vit_b", checkpoint=missing)


def test_truncated_checkpoint(sam_vit_b_checkpoint, tmp_path):
    truncated = tmp_path / "truncated.pth"
    with open(sam_vit_b_checkpoint, "rb") as f:
        truncated.write_bytes(f.read(1000))
    with pytest.raises(ModelError, match=r"truncated\.pth is not a readable checkpoint \(truncated or corrupt\?\)"):
        load_model("sam_vit_b", checkpoint=truncated)


def test_litemedsam_weights_given_to_sam_are_refused(litemedsam_weights):
    with pytest.raises(ModelError, match=r"does not match model sam_vit_b: \d+ missing keys, \d+ unexpected"):
        load_model("sam_vit_b", checkpoint=litemedsam_weights)


def test_shape_mismatch_is_refused(litemedsam, tmp_path):
    state = litemedsam.segmenter.state_dict()
    state["image_encoder.neck.0.weight"] = torch.zeros(256, 128, 1, 1)
    path = tmp_path / "bad_shape.pth"
    torch.save(state, path)
    with pytest.raises(ModelError, match=r"0 missing keys, 0 unexpected, 1 with another shape.*neck\.0\.weight"):
        load_model("litemedsam", checkpoint=path)
