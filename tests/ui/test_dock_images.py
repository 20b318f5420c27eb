"""Choosing images in the dock: another image puts the current segmentation aside (layers, unaccepted prompts,
labels kept) and choosing it again resumes it; an image layer gfm-napari did not open is used when it is a plain
2D/3D array, and refused with a notification (the current segmentation going on) when it is not."""

import numpy as np
import pytest
from ui_helpers import AXIAL, draw_box, largest_slice, press, wait_idle

from gfm_napari.errors import ImageReadError
from gfm_napari.ui.layers import adopt_layer

pytestmark = pytest.mark.gui
LIVER = 5


def _choose(widget, layer) -> None:
    """Choose ``layer`` in the dock's image list, as a user does."""
    names = [widget.image_combo.itemText(i) for i in range(widget.image_combo.count())]
    widget.image_combo.setCurrentIndex(names.index(layer.name))


def test_choosing_another_image_keeps_the_first_ones_prompts_and_labels_and_resumes_them(
    open_ct, make_widget, litemedsam_clicks, ct_labels, monkeypatch, qtbot
):
    import gfm_napari.ui.segment_widget as module
    from gfm_napari.engine.predictor import Predictor

    errors = []
    monkeypatch.setattr(module, "show_error", errors.append)
    viewer = open_ct()
    ct_layer = viewer.layers[0]
    widget = make_widget(viewer, predictor=Predictor(litemedsam_clicks), prefetch_radius=0)
    liver = ct_labels == LIVER
    index = largest_slice(liver)
    draw_box(viewer, widget, liver, AXIAL, index)
    press(viewer, "a")
    wait_idle(qtbot, widget)
    accepted = widget.labels_layer.data.copy()
    assert accepted.any()
    ct_session, ct_prompts, ct_labels_layer = widget.session, widget.prompt_layers, widget.labels_layer
    row, col = (float(round(v)) for v in np.argwhere(liver[:, :, index]).mean(axis=0))
    widget.prompt_layers.clicks.add([row, col, index])  # a click in the liver, not accepted yet
    wait_idle(qtbot, widget)
    click = ct_session.prompts()[(AXIAL, index)].points.tolist()
    preview = ct_prompts.preview.data.copy()
    assert click == [[col, row]] and preview[:, :, index].any()
    ct_layer_names = [layer.name for layer in viewer.layers]

    plain = viewer.add_image(np.random.default_rng(0).random((64, 80)).astype(np.float32), name="plain")
    assert widget.session is ct_session  # adding a layer chooses nothing
    _choose(widget, plain)
    qtbot.waitUntil(lambda: widget.session is not None and widget.session is not ct_session, timeout=60_000)
    wait_idle(qtbot, widget)
    assert not errors
    # the CT's layers, its accepted labels and its unaccepted click are all still there
    assert [layer.name for layer in viewer.layers][: len(ct_layer_names)] == ct_layer_names
    np.testing.assert_array_equal(ct_labels_layer.data, accepted)
    assert ct_prompts.clicks.data.tolist() == [[row, col, index]]
    # the plain 2D image is segmented like any other: a box previews, Accept labels it
    assert widget.session.image.spatial_shape == (64, 80) and widget.labels_layer.data.shape == (64, 80)
    widget.prompt_layers.boxes.add_rectangles([np.array([[10, 10], [10, 40], [40, 40], [40, 10]], float)])
    wait_idle(qtbot, widget)
    assert widget.prompt_layers.preview.data.any()
    press(viewer, "a")
    wait_idle(qtbot, widget)
    assert widget.labels_layer.data.any()
    plain_labels = widget.labels_layer

    _choose(widget, ct_layer)  # back to the CT: its segmentation resumes where it was left
    wait_idle(qtbot, widget)
    assert widget.session is ct_session and widget.prompt_layers is ct_prompts
    assert widget.labels_layer is ct_labels_layer and widget.image_layer is ct_layer
    assert ct_session.prompts()[(AXIAL, index)].points.tolist() == click
    assert ct_prompts.clicks.data.tolist() == [[row, col, index]]
    np.testing.assert_array_equal(ct_prompts.preview.data, preview)  # the click's preview is back
    np.testing.assert_array_equal(ct_labels_layer.data, accepted)
    assert plain_labels in viewer.layers and plain_labels.data.any()  # and the plain image's labels stay
    press(viewer, "a")  # the click is accepted as usual: its mask becomes the object on that slice
    wait_idle(qtbot, widget)
    np.testing.assert_array_equal(ct_labels_layer.data[:, :, index] == 1, preview[:, :, index].astype(bool))
    assert not errors


def test_a_layer_that_cannot_be_segmented_is_refused_and_the_segmentation_goes_on(
    open_ct, make_widget, monkeypatch, qtbot
):
    import gfm_napari.ui.segment_widget as module

    errors = []
    monkeypatch.setattr(module, "show_error", errors.append)
    viewer = open_ct()
    ct_layer = viewer.layers[0]
    widget = make_widget(viewer, prefetch_radius=0)
    session, names = widget.session, [layer.name for layer in viewer.layers]
    movie = viewer.add_image(np.zeros((3, 4, 20, 20), np.float32), name="movie")  # 4D: time and depth
    _choose(widget, movie)
    wait_idle(qtbot, widget)
    assert errors and "movie" in errors[-1] and "\n" not in errors[-1]
    assert widget.session is session and widget.image_combo.currentText() == ct_layer.name
    assert [layer.name for layer in viewer.layers] == [*names, "movie"]


@pytest.mark.parametrize(
    ("data", "kwargs", "modality", "spatial"),
    [
        (np.full((4, 30, 40), -1000, np.int16), {}, "CT", (4, 30, 40)),  # Hounsfield units
        (np.ones((4, 30, 40), np.uint8), {"scale": (2, 0.5, 0.5)}, "MR", (4, 30, 40)),
        (np.zeros((30, 40, 4), np.uint8), {"rgb": True}, "photo", (30, 40)),  # RGBA: alpha dropped
    ],
)
def test_plain_arrays_are_adopted_with_their_scale(make_napari_viewer, data, kwargs, modality, spatial):
    if modality == "CT":
        data[0, 0, 0] = 400
    layer = make_napari_viewer().add_image(data, name="x", **kwargs)
    image = adopt_layer(layer)
    assert image.modality == modality and image.spatial_shape == spatial
    assert image.geometry.spacing == tuple(abs(s) for s in layer.scale[-len(spatial):])
    if kwargs.get("rgb"):
        assert image.n_channels == 3


def test_lazy_multiscale_and_nan_layers_are_refused(make_napari_viewer):
    viewer = make_napari_viewer()
    nan = np.zeros((10, 10), np.float32)
    nan[1, 1] = np.nan
    pyramid = [np.zeros((64, 64)), np.zeros((32, 32))]
    for layer in (viewer.add_image(nan, name="nan"), viewer.add_image(pyramid, name="pyramid", multiscale=True)):
        with pytest.raises(ImageReadError, match=layer.name):
            adopt_layer(layer)
