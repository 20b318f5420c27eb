"""In the dock, Next mask (C) shows the model's next mask for a lone click; any other prompt gives one mask."""

import numpy as np
import pytest
from ui_helpers import AXIAL, atlanta_dock, click_building, largest_slice, press, wait_idle

from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.prompts import interior_point
from gfm_napari.engine.propagate import dice

pytestmark = pytest.mark.gui


def test_next_mask_on_a_lone_click_on_a_building_gives_the_next_of_its_three_masks(
    make_napari_viewer, make_widget, shared_data, litemedsam_clicks, satellite_labels, qtbot
):
    viewer, widget = atlanta_dock(make_napari_viewer, make_widget, shared_data, Predictor(litemedsam_clicks), qtbot)
    assert not widget.mask_button.isEnabled()
    truth = satellite_labels == 2
    click_building(widget, qtbot, truth)
    first = np.asarray(widget.prompt_layers.preview.data) > 0
    assert widget.mask_button.isEnabled() and widget.mask_button.text() == "Next mask (1/3)"
    press(viewer, "c")
    wait_idle(qtbot, widget)
    second = np.asarray(widget.prompt_layers.preview.data) > 0
    assert widget.mask_button.text() == "Next mask (2/3)"
    assert dice(second, truth) > dice(first, truth) + 0.05  # building 2: measured 0.727 against 0.609
    x, y = interior_point(truth)
    corners = [[y - 9, x - 9], [y - 9, x + 9], [y + 9, x + 9], [y + 9, x - 9]]
    widget.prompt_layers.boxes.add_rectangles([np.array(corners)])
    wait_idle(qtbot, widget)
    assert not widget.mask_button.isEnabled() and widget.mask_button.text() == "Next mask"


def test_next_mask_follows_the_slice_on_screen(open_ct, make_widget, ct_labels, qtbot):
    viewer = open_ct()
    widget = make_widget(viewer)
    liver = ct_labels == 5
    index = largest_slice(liver)
    viewer.dims.set_current_step(AXIAL, index)
    row, col = np.argwhere(liver[:, :, index])[len(np.argwhere(liver[:, :, index])) // 2]
    widget.prompt_layers.clicks.add([row, col, index])
    wait_idle(qtbot, widget)
    assert widget.mask_button.isEnabled()
    viewer.dims.set_current_step(AXIAL, index + 1)  # no prompt on this slice: nothing to choose from
    assert not widget.mask_button.isEnabled()
    viewer.dims.set_current_step(AXIAL, index)
    assert widget.mask_button.isEnabled() and widget.mask_button.text() == "Next mask (1/3)"
