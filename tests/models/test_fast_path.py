"""The inference fast path (models.fast) gives the plain path's masks, faster, with the same parameters."""

import copy

import numpy as np
import pytest
import torch

from gfm_napari.engine.predictor import Predictor
from gfm_napari.evaluation.prompted import dice, prompts_from_mask
from gfm_napari.images import fit_normalization
from gfm_napari.models.fast import ChannelsLastMaskDecoder

SPLEEN, LIVER, STOMACH, AORTA, IVC = 1, 5, 6, 52, 63


@pytest.fixture(scope="module")
def predictors(litemedsam_clicks_plain, litemedsam_clicks):
    return Predictor(litemedsam_clicks_plain), Predictor(litemedsam_clicks)


def test_the_default_model_runs_the_fast_path_with_the_checkpoint_parameters(
    litemedsam_clicks, litemedsam_clicks_plain
):
    fast, plain = litemedsam_clicks.segmenter.mask_decoder, litemedsam_clicks_plain.segmenter.mask_decoder
    assert isinstance(fast, ChannelsLastMaskDecoder) and not isinstance(plain, ChannelsLastMaskDecoder)
    assert litemedsam_clicks.segmenter.channels_last and not litemedsam_clicks_plain.segmenter.channels_last
    assert fast.state_dict().keys() == plain.state_dict().keys()
    assert all(torch.equal(fast.state_dict()[k], v) for k, v in plain.state_dict().items())
    assert litemedsam_clicks.model_id == litemedsam_clicks_plain.model_id


@pytest.mark.parametrize("label", [SPLEEN, LIVER, STOMACH, AORTA, IVC])
def test_fast_masks_equal_the_plain_ones_on_real_ct_slices(predictors, series, label):
    image, labels = series
    index = int(np.argmax((labels == label).sum(axis=(1, 2))))
    truth = labels[index] == label
    normalization = fit_normalization(image)
    embeddings = [p.embed(image, 0, index, normalization=normalization) for p in predictors]
    gpu = embeddings[0].features.device.type != "cpu"  # GPU convolutions and matmuls run in TF32
    assert (embeddings[0].features - embeddings[1].features).abs().max() < (2e-3 if gpu else 1e-4)
    for kind in ("box", "click", "click+box"):
        prompts = prompts_from_mask(truth, kind)
        plain, fast = (p.predict_prompts(e, prompts) for p, e in zip(predictors, embeddings))
        assert dice(fast.mask, plain.mask) >= 0.99, kind
        assert abs(fast.score - plain.score) < 1e-3
        # the next click with the previous logits fed back, as the dock and the evaluation do
        again = [p.predict_prompts(e, prompts, mask_input=plain.low_res_logits) for p, e in zip(predictors, embeddings)]
        assert dice(again[1].mask, again[0].mask) >= 0.99, kind


def test_fast_decoder_matches_plain_in_outputs_and_gradients_for_many_prompt_sets(litemedsam_clicks_plain):
    plain = copy.deepcopy(litemedsam_clicks_plain.segmenter.mask_decoder).requires_grad_(True)
    fast = ChannelsLastMaskDecoder.from_decoder(plain)
    assert all(p.requires_grad for p in fast.parameters())
    prompt_encoder = litemedsam_clicks_plain.segmenter.prompt_encoder
    generator = torch.Generator().manual_seed(0)
    device = litemedsam_clicks_plain.device
    embedding = torch.randn(1, 256, 64, 64, generator=generator).to(device)
    boxes = torch.tensor([[10.0, 20.0, 120.0, 140.0], [60.0, 60.0, 200.0, 230.0], [0.0, 0.0, 255.0, 255.0]])
    boxes = boxes.to(device)
    sparse, dense = prompt_encoder(points=None, boxes=boxes, masks=None)
    outputs = []
    for decoder in (plain, fast):
        masks, iou = decoder(embedding, prompt_encoder.get_dense_pe(), sparse, dense, multimask_output=True)
        (masks.square().mean() + iou.sum()).backward()
        outputs.append((masks, iou, decoder.output_upscaling[0].weight.grad.clone()))
    (masks0, iou0, grad0), (masks1, iou1, grad1) = outputs
    assert masks1.shape == masks0.shape == (3, 3, 256, 256)
    loose = 1 if device.type == "cpu" else 10  # GPU matmuls run in TF32
    assert torch.allclose(masks1, masks0, atol=1e-3 * loose) and torch.allclose(iou1, iou0, atol=1e-4 * loose)
    assert torch.allclose(grad1, grad0, rtol=1e-3 * loose, atol=1e-6 * loose)


@pytest.fixture(scope="module")
def ct_embedding(litemedsam_clicks, ct):
    """The embedding of an axial slice of the real CT."""
    return Predictor(litemedsam_clicks).embed(ct, 2, 15, normalization=fit_normalization(ct)).features


@pytest.mark.parametrize("prompts", ["one click", "boxes", "clicks and boxes"])
def test_prompts_on_a_plane_whose_first_block_parts_are_kept_give_the_plain_transformers_masks(litemedsam_clicks, ct_embedding,
                                                                                  prompts):
    segmenter = litemedsam_clicks.segmenter
    device = ct_embedding.device
    clicks = (torch.tensor([[[120.0, 100.0], [60.0, 80.0]]] * 3, device=device), torch.tensor([[1, 0]] * 3, device=device))
    boxes = torch.tensor([[30.0, 20.0, 90.0, 70.0], [10.0, 10.0, 200.0, 200.0], [50.0, 60.0, 70.0, 90.0]], device=device)
    options = {"one click": {"points": (clicks[0][:1, :1], clicks[1][:1, :1]), "multimask": True},
               "boxes": {"boxes": boxes}, "clicks and boxes": {"points": clicks, "boxes": boxes}}[prompts]
    with torch.inference_mode():
        segmenter.decode(ct_embedding, boxes=boxes[:1])  # the plane's parts are kept from an earlier prompt
        kept = segmenter.mask_decoder._planes[0][1]
        masks, scores = segmenter.decode(ct_embedding, **options)
        assert segmenter.mask_decoder._planes[0][1] is kept  # reused, not computed again
        sparse, dense = segmenter.prompt_encoder(points=options.get("points"), boxes=options.get("boxes"), masks=None)
        plain = segmenter.mask_decoder(ct_embedding, segmenter._image_pe(), sparse, dense,
                                       options.get("multimask", False), reuse_plane=False)
    assert torch.allclose(masks, plain[0], atol=1e-3) and torch.allclose(scores, plain[1], atol=1e-5)
    assert ((masks > 0) != (plain[0] > 0)).sum() <= 2  # the same masks (measured: equal; rounding may flip an edge pixel)


def test_a_mask_prompt_or_another_plane_does_not_use_the_kept_parts(litemedsam_clicks, ct_embedding):
    segmenter = litemedsam_clicks.segmenter
    box = torch.tensor([[30.0, 20.0, 90.0, 70.0]], device=ct_embedding.device)
    with torch.inference_mode():
        first, _ = segmenter.decode(ct_embedding, boxes=box)
        kept = segmenter.mask_decoder._planes
        fed_back, _ = segmenter.decode(ct_embedding, boxes=box, mask_input=first)
        assert segmenter.mask_decoder._planes is kept  # a mask prompt changes the image tokens: not from the parts
        other = ct_embedding.flip(-1)
        segmenter.decode(other, boxes=box)
        assert segmenter.mask_decoder._planes[0][0][0] is other
        sparse, dense = segmenter.prompt_encoder(points=None, boxes=box, masks=first)
        plain, _ = segmenter.mask_decoder(ct_embedding, segmenter._image_pe(), sparse, dense, False)
    assert torch.equal(fed_back, plain)


def test_the_cpu_encoder_runs_on_onnx_runtime_from_a_cached_export(litemedsam_clicks_cpu):
    runtime = litemedsam_clicks_cpu.segmenter.encoder_runtime
    assert runtime is not None and runtime.is_current()
    assert runtime.path.is_file() and litemedsam_clicks_cpu.model_id.split("+")[0] in runtime.path.name


def test_changed_encoder_weights_fall_back_to_pytorch(tmp_path, monkeypatch):
    from gfm_napari.models import load_model

    monkeypatch.setenv("GFM_NAPARI_CACHE_DIR", str(tmp_path))
    model = load_model("litemedsam", device="cpu")
    segmenter = model.segmenter
    assert segmenter.encoder_runtime.path.parent == tmp_path / "onnx"
    images = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        segmenter.image_encoder.neck[0].weight.mul_(2.0)  # e.g. training in place
    assert not segmenter.encoder_runtime.is_current()
    with torch.inference_mode():
        expected = segmenter.image_encoder(images.contiguous(memory_format=torch.channels_last))
        assert torch.equal(segmenter.encode(images), expected.contiguous())
