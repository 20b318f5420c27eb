"""The dock's Precision list: the encoder switches to 8 bits and back without leaving the session, and a precision
the model cannot run is a notification."""

import pytest
from ui_helpers import AXIAL, draw_box, largest_slice, wait_idle

from gfm_napari.engine.predictor import Predictor
from gfm_napari.evaluation.prompted import dice

pytestmark = pytest.mark.gui
LIVER = 5


@pytest.fixture
def dock(open_ct, make_widget, litemedsam_cpu):
    viewer = open_ct()
    return viewer, make_widget(viewer, predictor=Predictor(litemedsam_cpu))


def test_the_precision_list_runs_the_encoder_in_8_bits_then_in_float_again(dock, ct_labels, qtbot):
    viewer, widget = dock
    combo = widget.precision_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["Automatic (float)", "Float", "8-bit (CPU)"]
    float_id = widget.models.active.model.cache_id
    combo.activated.emit(2)
    qtbot.waitUntil(lambda: widget.models.active.model.precision == "int8", timeout=120_000)
    wait_idle(qtbot, widget)
    assert widget.session.predictor is widget.models.active and combo.currentText() == "8-bit (CPU)"
    assert widget.models.active.model.cache_id == float_id + "+int8"
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    draw_box(viewer, widget, liver, AXIAL, index)
    wait_idle(qtbot, widget)
    preview = widget.prompt_layers.preview.data[:, :, index].astype(bool)
    assert dice(preview, liver[:, :, index]) >= 0.93  # the 8-bit encoder's mask; float: 0.966
    combo.activated.emit(1)
    qtbot.waitUntil(lambda: widget.models.active.model.precision == "float", timeout=120_000)
    wait_idle(qtbot, widget)
    assert widget.models.active.model.cache_id == float_id and widget.session.predictor is widget.models.active


def test_8_bits_for_a_model_that_cannot_run_them_is_a_notification(dock, monkeypatch, qtbot):
    import gfm_napari.ui.segment_widget as module
    from gfm_napari.models import precision

    errors = []
    monkeypatch.setattr(module, "show_error", errors.append)
    monkeypatch.setattr(precision, "can_run_int8", lambda **_: False)  # as for a SAM checkpoint or on a GPU
    _, widget = dock
    predictor = widget.session.predictor
    widget.precision_combo.activated.emit(2)
    wait_idle(qtbot, widget)
    assert errors == ["gfm-napari: 8-bit inference runs on the CPU with LiteMedSAM models only; use --precision float"]
    assert widget.session.predictor is predictor and widget.precision_combo.currentText() == "Automatic (float)"


def test_switching_precision_with_an_adapter_in_use_switches_its_base_model_too(dock, litemedsam_cpu, tmp_path,
                                                                                 qtbot):
    import copy
    import dataclasses

    from gfm_napari.models import AdapterConfig, apply_adapters, save_adapter

    _, widget = dock
    segmenter = copy.deepcopy(litemedsam_cpu.segmenter)
    apply_adapters(segmenter, AdapterConfig(kind="lora", rank=4, last_n_blocks=1))
    adapter, _ = save_adapter(dataclasses.replace(litemedsam_cpu, segmenter=segmenter), tmp_path / "run")
    base_id = widget.models.active.model.model_id
    widget.models.use_file(adapter)
    qtbot.waitUntil(lambda: "+adapter-" in widget.models.active.model.model_id, timeout=120_000)
    wait_idle(qtbot, widget)
    widget.precision_combo.activated.emit(2)
    qtbot.waitUntil(lambda: widget.models.active.model.precision == "int8", timeout=120_000)
    wait_idle(qtbot, widget)
    assert "+adapter-" in widget.models.active.model.model_id and widget.session.predictor is widget.models.active
    base = widget.models.base()  # adapter training and other adapters still go onto the base model
    assert base.model.model_id == base_id and base.model.precision == "int8"
