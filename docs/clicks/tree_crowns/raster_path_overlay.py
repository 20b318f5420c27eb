"""Write the shipped raster prompt path as a float32 overlay over LiteMedSAM (safetensors + sidecar), so that a
clicks-preset run can start from it: ``gfm-napari train-adapter --preset clicks --model litemedsam_clicks
--start-from runs/raster_path.safetensors ...`` (the shipped file is an 8-bit difference from the medical path, which an
overlay cannot name as its base).

Usage: python docs/clicks/tree_crowns/raster_path_overlay.py [OUT=runs/raster_path.safetensors]
"""

import hashlib
import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from gfm_napari.models import load_model
from gfm_napari.training.clicks import trainable_parameters

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/raster_path.safetensors")
model = load_model("litemedsam_clicks", fast=False, precision="float")
raster = model.decoder_for("raster")
assert raster is not model.segmenter, "the default model has no raster prompt path"
state = {name: p.detach().float().contiguous() for name, p in trainable_parameters(raster).items()}
save_file(state, str(out))
out.with_suffix(".json").write_text(json.dumps({
    "base_model": "litemedsam",
    "base_weights_sha256": hashlib.sha256(model.weights_path.read_bytes()).hexdigest(),
    "about": "the raster prompt path of litemedsam_clicks (" + model.model_id + "), float32",
}, indent=2) + "\n")
print(f"wrote {out} ({len(state)} tensors)")
