"""In the dock: a TotalSegmentator map opened as the segmentation, its liver corrected with one click, undone."""

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage
from ui_helpers import AXIAL, largest_slice, wait_idle

from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.propagate import dice
from gfm_napari.images import Plane
from gfm_napari.evaluation.clicker import next_click
from gfm_napari.images.label_maps import read_labels

pytestmark = pytest.mark.gui
LIVER = 5


def test_a_label_map_is_proofread_one_object_at_a_time(
    open_ct, make_widget, shared_data, litemedsam_clicks, monkeypatch, qtbot, tmp_path
):
    import gfm_napari.ui.segment_widget as module

    errors, offers = [], []
    monkeypatch.setattr(module, "show_error", errors.append)
    monkeypatch.setattr(module.notification_manager, "dispatch", offers.append)
    seg = nib.load(shared_data / "ct_totalseg" / "example_seg.nii.gz")
    truth = np.asarray(seg.dataobj)
    index = largest_slice(truth == LIVER)
    imperfect = truth.copy()
    plane = imperfect[:, :, index]
    plane[(plane == LIVER) & ~ndimage.binary_erosion(plane == LIVER, iterations=3)] = 0
    nib.save(nib.Nifti1Image(imperfect, seg.affine, seg.header), tmp_path / "imperfect.nii.gz")
    coarse = tmp_path / "coarse.nii.gz"  # every other voxel in-plane: not on the CT's grid
    nib.save(nib.Nifti1Image(truth[::2, ::2], seg.affine @ np.diag([2, 2, 1, 1])), coarse)
    viewer = open_ct()
    widget = make_widget(viewer, Predictor(litemedsam_clicks))

    widget.open_labels(coarse)  # another grid: refused, resampled when the user says so
    wait_idle(qtbot, widget)
    assert len(offers) == 1 and "not on the image's voxel grid" in offers[0].message
    assert not widget.labels_layer.data.any()
    (action, resample), = offers[0].actions
    assert action == "Resample"
    resample(None)
    wait_idle(qtbot, widget)
    np.testing.assert_array_equal(widget.labels_layer.data, read_labels(coarse, widget.session.image, resample=True))
    widget.open_labels(tmp_path / "imperfect.nii.gz")
    wait_idle(qtbot, widget)
    np.testing.assert_array_equal(widget.labels_layer.data, imperfect)  # voxel for voxel: the geometry is kept

    viewer.dims.set_current_step(AXIAL, index)
    widget.labels_layer.selected_label = LIVER  # what napari's label picker does on a click in the liver
    assert widget.proofread_panel.object_id.value() == LIVER
    widget.proofread_panel.correct_button.click()
    wait_idle(qtbot, widget)
    start = imperfect[:, :, index] == LIVER
    np.testing.assert_array_equal(np.asarray(widget.prompt_layers.preview.data)[:, :, index] > 0, start)
    x, y, sign = next_click(start, truth[:, :, index] == LIVER)
    assert sign == 1
    widget.prompt_layers.clicks.add(Plane(AXIAL, index).from_plane(x, y))
    wait_idle(qtbot, widget)
    widget.accept()
    wait_idle(qtbot, widget)
    corrected = widget.labels_layer.data
    changed = corrected != imperfect
    assert changed.any() and not np.delete(changed, index, axis=AXIAL).any()
    assert set(np.unique(corrected[changed])) == {LIVER} and set(np.unique(imperfect[changed])) == {0}
    assert dice(corrected[:, :, index] == LIVER, truth[:, :, index] == LIVER) > dice(start, truth[:, :, index] == LIVER)
    widget.undo()
    widget.undo()
    wait_idle(qtbot, widget)
    np.testing.assert_array_equal(widget.labels_layer.data, imperfect)
    assert errors == []
