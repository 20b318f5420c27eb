"""Write a clicks run's last checkpoint (its prompt-path parameters) as a float32 overlay over LiteMedSAM
(safetensors + sidecar), to evaluate it with ``--adapter``: the run's best.safetensors is the best validation step,
which may be step 0.

Usage: python docs/clicks/buildings/checkpoint_overlay.py RUN_DIR OUT.safetensors
"""

import hashlib
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from gfm_napari.models import load_model

run, out = Path(sys.argv[1]), Path(sys.argv[2])
checkpoint = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
state = {name: tensor.float().contiguous() for name, tensor in checkpoint["params"].items()}
save_file(state, str(out))
step = json.loads(checkpoint["state"])["step"]
out.with_suffix(".json").write_text(json.dumps({
    "base_model": "litemedsam",
    "base_weights_sha256": hashlib.sha256(load_model("litemedsam").weights_path.read_bytes()).hexdigest(),
    "about": f"{run} at step {step} (its last checkpoint)",
}, indent=2) + "\n")
print(f"wrote {out}: step {step}, {len(state)} tensors")
