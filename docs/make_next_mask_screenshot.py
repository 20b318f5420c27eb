"""Make docs/clicks/next_mask.png: a click on an Atlanta building, its first mask (the model's pick) and the next one
after pressing Next mask (C), the SpaceNet footprints outlined.

Run under an X server: ``xvfb-run -a -s "-screen 0 1400x900x24" python docs/make_next_mask_screenshot.py``. It drives
the Segment dock as a user would: a click somewhere in the building's inner half (seeded, not its most interior pixel),
a screenshot of the window, C, a second screenshot; the two are put side by side.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from make_screenshot import wait
from make_zoom_screenshot import open_tile_with_footprints
from PIL import Image as PILImage

from gfm_napari.engine.propagate import dice
from gfm_napari.evaluation.clicker import first_click, object_rng

OUT = Path(__file__).with_name("clicks") / "next_mask.png"
BUILDING = 19  # a building inside the tile whose first mask is a part of its roof (seeded click)


def main() -> None:
    os.environ["GFM_NAPARI_RECOVERY_DIR"] = tempfile.mkdtemp()
    viewer, widget, reference = open_tile_with_footprints("gfm-napari: Next mask")
    truth = reference == BUILDING
    widget.click_tool.click()
    x, y, _ = first_click(truth, "random", object_rng(0, BUILDING, 0))
    widget.prompt_layers.clicks.add([y, x])
    wait(widget)
    rows, cols = np.nonzero(truth)
    viewer.reset_view()
    inside = np.clip([rows.mean(), cols.mean()], 100, np.subtract(truth.shape, 100))  # the view stays on the tile
    viewer.camera.center = widget.image_layer.data_to_world(inside)
    viewer.camera.zoom *= 5
    viewer.layers.selection.active = widget.prompt_layers.clicks
    shots, scores = [], []
    for press in range(2):
        if press:
            widget.next_mask()
            wait(widget)
        scores.append(dice(np.asarray(widget.prompt_layers.preview.data) > 0, truth))
        shots.append(viewer.window.screenshot(canvas_only=False, flash=False))
    height = max(shot.shape[0] for shot in shots)
    OUT.parent.mkdir(exist_ok=True)
    PILImage.fromarray(np.concatenate([shot[:height] for shot in shots], axis=1)).save(OUT)
    print(f"wrote {OUT}: building {BUILDING}, click at ({x}, {y}); Dice {scores[0]:.3f} (the model's pick) -> "
          f"{scores[1]:.3f} (Next mask)")
    viewer.close()


if __name__ == "__main__":
    main()
