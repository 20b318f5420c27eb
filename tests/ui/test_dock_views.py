"""The dock's Views list: prompts answered through the plane's mirror images without leaving the session, while the
Model list's models (which adapters train and pretraining starts from) stay plain."""

import pytest
from ui_helpers import AXIAL, draw_box, largest_slice, wait_idle

from gfm_napari.engine.predictor import Predictor
from gfm_napari.evaluation.prompted import dice

pytestmark = pytest.mark.gui
LIVER = 5


def test_the_views_list_answers_through_four_views_then_one_again(open_ct, make_widget, litemedsam_cpu, ct_labels,
                                                                   qtbot):
    viewer = open_ct()
    widget = make_widget(viewer, predictor=Predictor(litemedsam_cpu))
    widget.prefetch_radius = 0  # the plane on screen only: four views of its 16 neighbours would take a minute here
    combo = widget.views_combo
    assert [combo.itemData(i) for i in range(combo.count())] == [1, 4, 8] and combo.currentIndex() == 0
    combo.activated.emit(1)
    wait_idle(qtbot, widget)
    model = widget.session.predictor.model
    assert combo.currentText() == "4: with its mirror images"
    assert model.views == 4 and model.cache_id == litemedsam_cpu.cache_id + "+views4"
    assert widget.models.base() is widget.models.active and widget.models.active.model.views == 1
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    draw_box(viewer, widget, liver, AXIAL, index)
    wait_idle(qtbot, widget)
    preview = widget.prompt_layers.preview.data[:, :, index].astype(bool)
    assert dice(preview, liver[:, :, index]) >= 0.93  # one view: 0.966
    combo.activated.emit(0)
    wait_idle(qtbot, widget)
    assert widget.session.predictor is widget.models.active
