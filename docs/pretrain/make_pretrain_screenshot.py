"""Make docs/pretrain/pretrain_tab.png and pretrain_adapter_chain.png: the napari window with the CT sample and the
Segment dock's Pretrain tab after a short pretraining run on the sample (both loss terms plotted, "Use this encoder"
offered); then, with that encoder in use and the liver labelled on six slices, the Segment tab after a short adapter
run over it (the model list names the pretrained encoder; the adapter run was started over it).

Run under an X server (napari's image layers need OpenGL):
``xvfb-run -a -s "-screen 0 1600x1200x24" python docs/pretrain/make_pretrain_screenshot.py``.
One crop per step and a few adapter steps keep it to about five minutes on a 2-core CPU; the run goes to a temporary recovery folder.
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
import nibabel as nib
import numpy as np
from qtpy.QtWidgets import QApplication

from gfm_napari.samples import sample_path
from gfm_napari.ui.app import open_sample_with_dock
from gfm_napari.training.runs import exported_adapter, exported_encoder

OUT = Path(__file__).with_name("pretrain_tab.png")
CHAIN_OUT = Path(__file__).with_name("pretrain_adapter_chain.png")
STEPS, CROPS, ADAPTER_STEPS = 8, 1, 4
LIVER, LABELLED_SLICES = 5, slice(12, 18)  # the sample's reference label id, and the axial slices "labelled"


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
    widget.tabs.setCurrentIndex(1)
    panel.steps.setValue(STEPS)
    panel.crops.setValue(CROPS)
    panel.frozen_stages.setValue(2)  # the CPU-feasible mode: twice the images per second on a CPU
    panel.pretrain_button.click()
    if not wait_for(lambda: not panel.running) or not panel.use_button.isEnabled():
        sys.exit(f"the run did not give an encoder: {panel.status.text()}")
    wait_for(lambda: False, 1.0)  # the plot's last redraw
    viewer.window.screenshot(str(OUT), canvas_only=False)
    print(f"wrote {OUT}: {panel.status.text()} ({exported_encoder(panel.run_dir)})")
    train_adapter_over_the_encoder(viewer, widget)
    viewer.close()


def train_adapter_over_the_encoder(viewer, widget) -> None:
    """Use the pretrained encoder, label the liver on a few slices, train an adapter over it, take the second shot."""
    widget.pretrain_panel.use_button.click()
    if not wait_for(lambda: "+encoder-" in widget.models.active.model.model_id and widget.idle):
        sys.exit("the pretrained encoder was not put on the model")
    reference = nib.load(sample_path("ct_labels"))  # on the sample's grid
    labels = np.zeros(reference.shape, np.uint8)
    labels[:, :, LABELLED_SLICES] = np.asarray(reference.dataobj)[:, :, LABELLED_SLICES] == LIVER
    labelled = Path(tempfile.mkdtemp()) / "liver_on_6_slices.nii.gz"
    nib.save(nib.Nifti1Image(labels, reference.affine), labelled)
    widget.open_labels(labelled)  # as a user opens labels drawn elsewhere (Proofread ▸ Open labels…)
    if not wait_for(lambda: widget.session.labels.any() and widget.idle):
        sys.exit("the labels were not opened")
    widget.tabs.setCurrentIndex(0)
    viewer.window.resize(1500, 1150)  # the whole Segment tab, down to the adapter's status, without scrolling
    adapter = widget.adapter_panel
    adapter.steps.setValue(ADAPTER_STEPS)
    adapter.train_button.click()
    if not wait_for(lambda: not adapter.running) or exported_adapter(adapter.run_dir) is None:
        sys.exit(f"the adapter run did not give an adapter: {adapter.status.text()}")
    wait_for(lambda: False, 1.0)
    viewer.window.screenshot(str(CHAIN_OUT), canvas_only=False)
    print(f"wrote {CHAIN_OUT}: {adapter.status.text()} over {widget.models.active.model.model_id}")


if __name__ == "__main__":
    main()
