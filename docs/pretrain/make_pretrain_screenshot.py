"""Make docs/pretrain/pretrain_tab.png: the napari window with the CT sample and the Segment dock's Pretrain tab
after a short pretraining run on the sample (both loss terms plotted, "Use this encoder" offered).

Run under an X server (napari's image layers need OpenGL):
``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/pretrain/make_pretrain_screenshot.py``.
One crop per step keeps it to about two minutes on a 2-core CPU; the run goes to a temporary recovery folder.
Importing ``gfm_napari.training`` at the top brings torch in before the viewer starts Qt: torch's first import after
that crashes (in triton) here.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from gfm_napari.ui.app import open_sample_with_dock
from gfm_napari.training.runs import exported_encoder

OUT = Path(__file__).with_name("pretrain_tab.png")
STEPS, CROPS = 8, 1


def wait_for(done, seconds: float = 600.0) -> bool:
    """Run the event loop until ``done()`` or ``seconds`` passed; whether it is done."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        if done():
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    os.environ["GFM_NAPARI_RECOVERY_DIR"] = tempfile.mkdtemp()  # a fresh run, not one resumed from earlier
    viewer = napari.Viewer(title="gfm-napari")
    viewer.window.resize(1500, 950)
    widget = open_sample_with_dock(viewer)
    if not wait_for(lambda: widget.session is not None and widget.idle):
        sys.exit("the Segment dock did not settle")
    panel = widget.pretrain_panel
    widget.tabs.setCurrentIndex(widget.tabs.indexOf(panel.parentWidget()))
    panel.steps.setValue(STEPS)
    panel.crops.setValue(CROPS)
    panel.frozen_stages.setValue(2)  # the CPU-feasible mode: twice the images per second on a CPU
    panel.pretrain_button.click()
    if not wait_for(lambda: not panel.running) or not panel.use_button.isEnabled():
        sys.exit(f"the run did not give an encoder: {panel.status.text()}")
    wait_for(lambda: False, 1.0)  # the plot's last redraw
    viewer.window.screenshot(str(OUT), canvas_only=False)
    print(f"wrote {OUT}: {panel.status.text()} ({exported_encoder(panel.run_dir)})")
    viewer.close()


if __name__ == "__main__":
    main()
