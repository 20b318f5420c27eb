"""Model work never blocks the event loop, prompts made while a slice encodes are kept, Cancel is prompt."""

import time

import numpy as np
import pytest
from qtpy.QtCore import QTimer
from ui_helpers import AXIAL, WAIT_MS, draw_box, largest_slice, wait_idle

from gfm_napari.engine.predictor import Predictor

pytestmark = pytest.mark.gui
LIVER, KIDNEY_RIGHT = 5, 2


@pytest.fixture
def cold_predictor(litemedsam):
    """The shared model with an empty embedding cache, so that slices really get encoded."""
    return Predictor(litemedsam)


@pytest.fixture
def ticks(qtbot):
    counted = []
    timer = QTimer()
    timer.timeout.connect(lambda: counted.append(1))
    timer.start(50)
    yield counted
    timer.stop()


def test_prompts_made_while_their_slice_encodes_are_queued_not_lost(open_ct, make_widget, cold_predictor, ct_labels,
                                                                     qtbot):
    viewer = open_ct()
    widget = make_widget(viewer, predictor=cold_predictor)
    statuses = []
    widget.queue.status.connect(statuses.append)
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    draw_box(viewer, widget, liver, AXIAL, index)
    clicks = widget.prompt_layers.clicks
    clicks.add([60.0, 70.0, index])
    clicks.add([50.0, 60.0, index])
    assert widget.session.needs_embedding(AXIAL, index)  # still encoding: the clicks wait in the queue
    wait_idle(qtbot, widget)
    prompts = widget.session.prompts()[(AXIAL, index)]
    assert prompts.box is not None and len(prompts.points) == 2
    assert (AXIAL, index) in widget.session.previews()
    assert any(f"slice {index}" in status for status in statuses)


def test_the_event_loop_ticks_while_slices_encode_and_cancel_stops_it(open_ct, make_widget, cold_predictor, ticks,
                                                                     qtbot):
    viewer = open_ct()
    widget = make_widget(viewer, predictor=cold_predictor, prefetch_radius=1)
    wait_idle(qtbot, widget)  # the slice on screen and its two neighbours are prefetched
    widget.encode_button.click()
    qtbot.waitUntil(lambda: widget.progress.value() >= 3, timeout=WAIT_MS)
    start = len(ticks)
    qtbot.waitUntil(lambda: widget.progress.value() >= 5, timeout=WAIT_MS)  # two slices really encoded
    assert len(ticks) - start >= 10  # a blocked loop would not tick while the encoder runs (~2 s a slice here)
    widget.cancel_button.click()
    assert widget.progress.isHidden()
    qtbot.waitUntil(lambda: not widget.queue.running_job, timeout=WAIT_MS)
    assert widget.progress.value() < viewer.dims.nsteps[AXIAL]


def test_cancel_stops_propagation_within_about_a_second(open_ct, make_widget, cold_predictor, ct_labels, ticks, qtbot):
    viewer = open_ct()
    widget = make_widget(viewer, predictor=cold_predictor, prefetch_radius=1)
    kidney = ct_labels == KIDNEY_RIGHT
    index = largest_slice(kidney)
    draw_box(viewer, widget, kidney, AXIAL, index)
    wait_idle(qtbot, widget)
    widget.propagate_button.click()
    qtbot.waitUntil(lambda: widget.progress.value() >= 3, timeout=WAIT_MS)  # past the prefetched neighbours
    before = len(ticks)
    started = time.monotonic()
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: not widget.queue.running_job, timeout=WAIT_MS)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0  # stops between slices: at most one slice's encoding (~1-2 s here)
    assert len(ticks) > before or elapsed < 0.1  # the loop ticked (every 50 ms) while waiting, unless it was instant
    wait_idle(qtbot, widget)
    assert not np.any(widget.labels_layer.data)  # a cancelled propagation changes nothing
    assert widget.session.prompts()  # and keeps the prompt


def test_the_shown_slice_and_its_nearest_neighbours_are_encoded_ahead(open_ct, make_widget, cold_predictor, qtbot):
    viewer = open_ct()
    widget = make_widget(viewer, predictor=cold_predictor, prefetch_radius=3)
    wait_idle(qtbot, widget)
    axis, index = widget.current_plane()
    encoded = [i for i in range(viewer.dims.nsteps[axis]) if not widget.session.needs_embedding(axis, i)]
    assert encoded == list(range(index - 3, index + 4))
