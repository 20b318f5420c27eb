"""The Segment dock on the real CT opened through the reader: prompts → previews → labels, undo/redo, 3D."""

import threading

import numpy as np
import pytest
from ui_helpers import AXIAL, draw_box, largest_slice, press, wait_idle

from gfm_napari.evaluation.prompted import dice
from gfm_napari.ui.layers import IMAGE_KEY

pytestmark = pytest.mark.gui
LIVER, SPLEEN, KIDNEY_RIGHT = 5, 1, 2


def test_a_box_on_the_liver_previews_then_accepts_its_cross_section(open_ct, make_widget, ct_labels, qtbot):
    viewer = open_ct()
    widget = make_widget(viewer)
    assert widget.session.image is viewer.layers[0].metadata[IMAGE_KEY]
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    draw_box(viewer, widget, liver, AXIAL, index)
    wait_idle(qtbot, widget)
    preview = widget.prompt_layers.preview.data[:, :, index].astype(bool)
    assert dice(preview, liver[:, :, index]) >= 0.93  # measured 0.966
    assert not widget.labels_layer.data.any()

    press(viewer, "a")
    wait_idle(qtbot, widget)
    np.testing.assert_array_equal(widget.labels_layer.data[:, :, index] == 1, preview)
    assert not widget.prompt_layers.preview.data.any() and len(widget.prompt_layers.boxes.data) == 0


def test_a_coronal_box_segments_in_the_coronal_plane(open_ct, make_widget, ct_labels, qtbot):
    viewer = open_ct()
    viewer.dims.order = (1, 2, 0)  # coronal: array axis 1 is the one not displayed
    widget = make_widget(viewer)
    liver = ct_labels == LIVER
    index = largest_slice(liver, axis=1)
    draw_box(viewer, widget, liver, 1, index)
    wait_idle(qtbot, widget)
    assert list(widget.session.prompts()) == [(1, index)]
    preview = widget.prompt_layers.preview.data[:, index, :].astype(bool)
    assert dice(preview, liver[:, index, :]) >= 0.75  # measured 0.793 (the volume cuts the liver off)


def test_negative_clicks_come_from_the_toggle_or_a_modifier(open_ct, make_widget, qtbot):
    from types import SimpleNamespace

    viewer = open_ct()
    widget = make_widget(viewer)
    clicks = widget.prompt_layers.clicks
    on_press = clicks.mouse_drag_callbacks[0]
    for modifiers, toggle in (((), False), (("Shift",), False), (("Alt",), False), ((), True)):
        widget.negative.setChecked(toggle)
        next(on_press(clicks, SimpleNamespace(modifiers=modifiers, type="mouse_press")))
        clicks.add([40.0, 50.0, 15.0])
    wait_idle(qtbot, widget)
    assert widget.session.prompts()[(AXIAL, 15)].labels.tolist() == [1, 0, 0, 0]
    colours = {tuple(c) for c in clicks.face_color}
    assert len(colours) == 2  # positive and negative differ


def test_undo_and_redo_shortcuts_restore_exact_labels(open_ct, make_widget, ct_labels, qtbot):
    viewer = open_ct()
    widget = make_widget(viewer)
    index = largest_slice(ct_labels == LIVER)
    states = [widget.labels_layer.data.copy()]
    for organ in (LIVER, SPLEEN):
        draw_box(viewer, widget, ct_labels == organ, AXIAL, index)
        press(viewer, "Enter")
        press(viewer, "n")
        wait_idle(qtbot, widget)
        states.append(widget.labels_layer.data.copy())
    assert set(np.unique(states[-1])) == {0, 1, 2}
    # each organ: box, accept+new object (accept is folded into N's step when nothing is pending) -> 3 steps
    steps = []
    while widget.session.can_undo:
        press(viewer, "Control-z")
        wait_idle(qtbot, widget)
        steps.append(widget.labels_layer.data.copy())
    assert any(np.array_equal(s, states[1]) for s in steps)
    np.testing.assert_array_equal(widget.labels_layer.data, states[0])
    while widget.session.can_redo:
        press(viewer, "Control-Shift-z")
        wait_idle(qtbot, widget)
    np.testing.assert_array_equal(widget.labels_layer.data, states[-1])
    assert widget.session.object_id == 3


def test_propagate_to_3d_fills_the_kidney_and_undoes_in_one_step(open_ct, make_widget, ct_labels, qtbot):
    viewer = open_ct()
    widget = make_widget(viewer)
    kidney = ct_labels == KIDNEY_RIGHT
    index = largest_slice(kidney)
    draw_box(viewer, widget, kidney, AXIAL, index)
    wait_idle(qtbot, widget)
    widget.propagate_button.click()
    assert not widget.progress.isHidden() and not widget.cancel_button.isHidden()
    wait_idle(qtbot, widget)
    assert dice(widget.labels_layer.data == 1, kidney) >= 0.80  # measured 0.838
    assert widget.progress.isHidden()
    widget.undo()
    wait_idle(qtbot, widget)
    assert not widget.labels_layer.data.any()
    assert widget.session.prompts()  # the box is back: undo restored the prompt that was consumed


def test_a_bad_checkpoint_is_reported_and_the_session_is_kept(open_ct, make_widget, tmp_path, monkeypatch, qtbot):
    import gfm_napari.ui.model_list as model_list
    import gfm_napari.ui.segment_widget as module

    errors = []
    monkeypatch.setattr(module, "show_error", errors.append)
    bad = tmp_path / "sam_vit_b_broken.pth"
    bad.write_bytes(b"not a checkpoint")
    monkeypatch.setattr(model_list.QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    viewer = open_ct()
    widget = make_widget(viewer)
    layers = [layer.name for layer in viewer.layers]
    predictor = widget.session.predictor
    items = [widget.model_combo.itemText(i) for i in range(widget.model_combo.count())]
    assert items[-1] == model_list.LOAD_CHECKPOINT and not any("click" in item.lower() for item in items)
    widget.model_combo.activated.emit(widget.model_combo.count() - 1)
    wait_idle(qtbot, widget)
    assert errors and "sam_vit_b_broken.pth" in errors[0] and "\n" not in errors[0]
    assert widget.session.predictor is predictor and [layer.name for layer in viewer.layers] == layers


def test_a_click_outside_the_image_is_reported_and_dropped(open_ct, make_widget, monkeypatch, qtbot):
    import gfm_napari.ui.segment_widget as module

    errors = []
    monkeypatch.setattr(module, "show_error", errors.append)
    viewer = open_ct()
    widget = make_widget(viewer)
    widget.prompt_layers.clicks.add([500.0, 40.0, 15.0])
    wait_idle(qtbot, widget)
    assert errors and "outside" in errors[0]
    assert len(widget.prompt_layers.clicks.data) == 0 and widget.session.prompts() == {}


def test_running_out_of_memory_is_reported_and_keeps_every_layer_and_prompt(
    open_ct, make_widget, ct_labels, monkeypatch, qtbot
):
    import torch

    import gfm_napari.ui.segment_widget as module

    errors = []
    monkeypatch.setattr(module, "show_error", errors.append)
    viewer = open_ct()
    widget = make_widget(viewer)
    layers = [layer.name for layer in viewer.layers]

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(widget.session, "preview", out_of_memory)
    liver = ct_labels == LIVER
    draw_box(viewer, widget, liver, AXIAL, largest_slice(liver))
    wait_idle(qtbot, widget)
    assert errors and errors[0].startswith("gfm-napari: out of memory") and "\n" not in errors[0]
    assert [layer.name for layer in viewer.layers] == layers and widget.session.prompts()
    assert not widget.labels_layer.data.any()


def test_dragging_a_click_moves_it_and_updates_the_mask(open_ct, make_widget, litemedsam_clicks, ct_labels, qtbot):
    from types import SimpleNamespace

    from gfm_napari.engine.predictor import Predictor

    viewer = open_ct()
    widget = make_widget(viewer, predictor=Predictor(litemedsam_clicks))
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    viewer.dims.set_current_step(AXIAL, index)
    clicks = widget.prompt_layers.clicks
    clicks.add([5.0, 5.0, index])  # a click outside the liver: the mask is not the liver
    wait_idle(qtbot, widget)
    before = widget.prompt_layers.preview.data[:, :, index].astype(bool)
    row, col = (round(v) for v in np.argwhere(liver[:, :, index]).mean(axis=0))
    event = SimpleNamespace(modifiers=(), type="mouse_press")
    drag = clicks.mouse_drag_callbacks[0](clicks, event)
    next(drag)
    event.type = "mouse_move"
    clicks.data = np.array([[row, col, index]], float)  # what napari's drag does to the layer's data
    next(drag)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(drag)
    wait_idle(qtbot, widget)
    np.testing.assert_array_equal(widget.session.prompts()[(AXIAL, index)].points, [[col, row]])
    after = widget.prompt_layers.preview.data[:, :, index].astype(bool)
    assert dice(after, liver[:, :, index]) > dice(before, liver[:, :, index])
    widget.undo()
    wait_idle(qtbot, widget)
    np.testing.assert_array_equal(widget.session.prompts()[(AXIAL, index)].points, [[5.0, 5.0]])


def test_a_short_window_scrolls_the_dock_instead_of_piling_its_rows(open_ct, make_widget, qtbot):
    viewer = open_ct()
    widget = make_widget(viewer)
    panel = widget.adapter_panel
    panel.progress.setVisible(True)  # as during a run: the progress bar, the plot and a two-line status
    panel.plot.canvas.setVisible(True)
    panel.status.setText("Training finished; best validation score 0.842. Use adapter applies it.")
    viewer.window.show()
    viewer.window.resize(1500, 700)
    qtbot.wait(300)
    assert widget.tabs.currentWidget().verticalScrollBar().maximum() > 0
    rows = [panel.progress, panel.plot.canvas, panel.status, panel.use_button]
    for upper, lower in zip(rows, rows[1:]):
        assert upper.geometry().bottom() < lower.geometry().top(), (upper, lower)


def test_the_model_list_says_the_model_is_loading_until_it_is_in_the_list(open_ct, tmp_path, shared_predictor, qtbot):
    from gfm_napari.ui.models import LOADING_PLACEHOLDER
    from gfm_napari.ui.segment_widget import SegmentWidget

    viewer = open_ct()
    release = threading.Event()
    widget = SegmentWidget(viewer, load_default=lambda: release.wait(60) and shared_predictor,
                           recovery_folder=tmp_path / "recovery")
    viewer.window.add_dock_widget(widget, name="Segment")
    combo = widget.model_combo
    assert (combo.currentIndex(), combo.placeholderText()) == (-1, LOADING_PLACEHOLDER)
    release.set()
    qtbot.waitUntil(lambda: widget.session is not None and widget.idle, timeout=60_000)
    assert combo.currentData().name == shared_predictor.model.spec.name  # the loaded model is the one shown
