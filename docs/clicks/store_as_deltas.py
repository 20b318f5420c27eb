"""Re-store the shipped prompt paths as 8-bit differences (run once, session 22; kept for provenance).

The medical click path (`litemedsam_clicks.safetensors`, float16, 8.1 MB: over the repository's 5 MB per resource
file) becomes its difference from LiteMedSAM's packaged weights; the raster path, a difference from the medical
path's file, is re-encoded over the medical path's new values, so it still gives the weights it gave.

    git show c096645:resources/weights/litemedsam_clicks.safetensors > /tmp/medical_f16.safetensors
    git show c096645:resources/weights/litemedsam_clicks_rasters.safetensors > /tmp/rasters_old.safetensors
    python docs/clicks/store_as_deltas.py /tmp/medical_f16.safetensors /tmp/rasters_old.safetensors

Prints the largest rounding error of each path against the weights it stands for (JSON).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gfm_napari.models.registry import get_spec
from gfm_napari.models.weight_deltas import read_delta_file, write_delta_file
from gfm_napari.models.weights import read_state_dict

WEIGHTS = Path(__file__).resolve().parents[2] / "resources" / "weights"


def _largest_error(ours: dict, reference: dict) -> float:
    return max(float((ours[k].float() - reference[k].float()).abs().max()) for k in reference)


def main(medical_float16: str, rasters_old: str) -> None:
    base_file = get_spec("litemedsam").default_weights()
    medical = read_state_dict(medical_float16)
    rasters = read_delta_file(rasters_old, medical_float16)  # the raster path's weights as shipped until now

    medical_file = write_delta_file(WEIGHTS / "litemedsam_clicks.safetensors", medical, base_file)
    medical_now = read_delta_file(medical_file, base_file)
    rasters_file = write_delta_file(WEIGHTS / "litemedsam_clicks_rasters.safetensors", rasters, medical_file,
                                    base_state=medical_now)
    rasters_now = read_delta_file(rasters_file, medical_file, medical_now)
    print(json.dumps({
        "medical": {"bytes": medical_file.stat().st_size, "largest_error": _largest_error(medical_now, medical)},
        "rasters": {"bytes": rasters_file.stat().st_size, "largest_error": _largest_error(rasters_now, rasters)},
    }, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:3])
