import os

import pytest
import torch

BOX = torch.tensor([[40.0, 50.0, 180.0, 200.0]])
POINTS = (torch.tensor([[[100.0, 120.0], [60.0, 70.0]]]), torch.tensor([[1, 0]]))


@pytest.fixture(scope="module")
def embedding() -> torch.Tensor:
    return torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("multimask", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("prompt", ["box", "points", "box+points"])
def test_decode_shapes(litemedsam, embedding, prompt, with_mask, multimask):
    kwargs = {}
    if "box" in prompt:
        kwargs["boxes"] = BOX
    if "points" in prompt:
        kwargs["points"] = POINTS
    if with_mask:
        kwargs["mask_input"] = torch.randn(1, 1, 256, 256)
    with torch.inference_mode():
        logits, iou = litemedsam.segmenter.decode(embedding, multimask=multimask, **kwargs)
    m = 3 if multimask else 1
    assert logits.shape == (1, m, 256, 256)
    assert iou.shape == (1, m)


def test_decode_many_prompts_on_one_embedding(litemedsam, embedding):
    boxes = torch.cat([BOX, BOX + 10])
    with torch.inference_mode():
        logits, _ = litemedsam.segmenter.decode(embedding, boxes=boxes)
        second, _ = litemedsam.segmenter.decode(embedding, boxes=boxes[1:])
    assert logits.shape == (2, 1, 256, 256)
    assert torch.allclose(logits[1:], second, atol=1e-5)


def test_decode_batch_of_embeddings_matches_one_by_one(litemedsam, embedding):
    embeddings = torch.cat([embedding, embedding.flip(-1)])
    boxes = torch.cat([BOX, BOX + 10])
    seg = litemedsam.segmenter
    with torch.inference_mode():
        batched, _ = seg.decode(embeddings, boxes=boxes)
        single, _ = seg.decode(embeddings[1:], boxes=boxes[1:])
    assert torch.allclose(batched[1:], single, atol=1e-5)


def test_encode_rejects_wrong_size(litemedsam):
    with pytest.raises(ValueError, match="256"):
        litemedsam.segmenter.encode(torch.zeros(1, 3, 128, 128))


def test_sam_decode_on_random_embedding(sam_vit_b):
    seg = sam_vit_b.segmenter
    assert seg.input_size == 1024
    with torch.inference_mode():
        logits, iou = seg.decode(torch.randn(1, 256, 64, 64), boxes=BOX * 4, points=(POINTS[0] * 4, POINTS[1]))
    assert logits.shape == (1, 1, 256, 256)
    assert iou.shape == (1, 1)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("GFM_RUN_SLOW") != "1", reason="slow (~15 s): set GFM_RUN_SLOW=1 to run")
def test_sam_encoder_runs(sam_vit_b):
    with torch.inference_mode():
        assert sam_vit_b.segmenter.encode(torch.zeros(1, 3, 1024, 1024)).shape == (1, 256, 64, 64)
