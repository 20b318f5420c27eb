"""Choosing the image the Segment dock works on: starting its segmentation (its labels layer, prompt layers and
autosave), putting it aside when another image is chosen and resuming it when its image is chosen again, and the
image's normalisation controls (CT window, bands).

A mixin of :class:`~gfm_napari.ui.segment_widget.SegmentWidget`: it shares the dock's state (``session``,
``image_layer``, ``labels_layer``, ``prompt_layers``, ``autosaver``, ``queue``, ``models``) and its tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from napari.layers import Image as ImageLayer
from napari.layers import Labels
from napari.utils.notifications import Notification, notification_manager

from ..engine.session import SegmentationSession
from ..errors import GfmError, PromptError
from ..images import Image, Normalization, fit_normalization
from ..images.bands import default_bands, parse_bands
from ..training.runs import training_source
from .autosave import Autosaver, image_digest, load_recovery, recovery_path
from .layers import (
    IMAGE_KEY,
    adopt_layer,
    band_composite,
    is_multiband,
    labels_layer_data,
    layer_placement,
    object_colormap,
)
from .prompt_layers import PromptCallbacks, PromptLayers


@dataclass
class Parked:
    """A segmentation put aside when another image was chosen: everything needed to resume it as it was (its
    prompt layers and labels stay in the viewer, its autosave goes on)."""

    layer: ImageLayer
    session: SegmentationSession
    prompt_layers: PromptLayers
    labels_layer: Labels
    autosaver: Autosaver
    digest: str
    where: dict | None
    recovered: np.ndarray | None
    shown_version: int


class ImageSwitching:
    """The Segment dock's image choice and per-image segmentations (see the module)."""

    def _refresh_images(self, event=None) -> None:
        layers = [layer for layer in self.viewer.layers if isinstance(layer, ImageLayer)]
        opened = [layer.metadata.get(IMAGE_KEY) for layer in layers]
        self.pretrain_panel.set_layer_files([training_source(image) for image in opened if isinstance(image, Image)])
        current = self.image_layer
        self.image_combo.blockSignals(True)
        self.image_combo.clear()
        for layer in layers:
            self.image_combo.addItem(layer.name, layer)
        self.image_combo.blockSignals(False)
        if current in layers:
            self.image_combo.setCurrentIndex(layers.index(current))
        else:
            ours = [i for i, layer in enumerate(layers) if IMAGE_KEY in layer.metadata]
            if ours:
                self.image_combo.setCurrentIndex(ours[0])
                self._on_image_chosen(ours[0])
            else:  # nothing chosen: choosing any image, the first one too, is a change
                self._select_in_combo(None)

    def _select_in_combo(self, layer: ImageLayer | None) -> None:
        """Show ``layer`` (None: nothing) as the chosen image without acting on it."""
        index = next((i for i in range(self.image_combo.count()) if self.image_combo.itemData(i) is layer), -1)
        self.image_combo.blockSignals(True)
        self.image_combo.setCurrentIndex(index)
        self.image_combo.blockSignals(False)

    def _on_layer_removed(self, event) -> None:
        if event.value is self.image_layer:
            self._close_session()
        for parked in [p for p in self._parked if p.layer is event.value]:
            self._parked.remove(parked)
            parked.autosaver.close()
            parked.prompt_layers.remove()
        self._refresh_images()

    def _on_image_chosen(self, index: int) -> None:
        """Segment the chosen image: resume its segmentation if it was put aside, else start one; the current one
        is put aside. An image that cannot be segmented is a notification, and the current one goes on."""
        layer = self.image_combo.itemData(index)
        if layer is None or layer is self.image_layer:
            return
        parked = next((p for p in self._parked if p.layer is layer), None)
        image, where = (parked.session.image, parked.where) if parked is not None else (None, None)
        if parked is None:
            image = layer.metadata.get(IMAGE_KEY)
            if not isinstance(image, Image):
                try:
                    image, where = adopt_layer(layer), layer_placement(layer)
                except GfmError as error:
                    self._select_in_combo(self.image_layer)
                    self._report(error)
                    return
        self._park()
        self._show_image_controls(image)
        if parked is not None:
            self._resume(parked)
            return
        self.image_layer, self._where = layer, where
        if is_multiband(image):
            self.bands.setEditText(default_bands(image.metadata.band_descriptions).text())
        fit = self._normalization_fit(image)  # the dock's settings, read here on the UI thread
        self.queue.run(lambda: (image_digest(image), fit()), partial(self._start_session, layer, image),
                       "Reading the image…")

    def _start_session(self, layer: ImageLayer, image: Image, prepared: tuple[str, Normalization]) -> None:
        """Second half of choosing an image, once its digest and normalisation are known (computed off the UI
        thread: a whole volume's percentiles, or a huge raster's overview)."""
        if layer is not self.image_layer:
            return
        if self.models.segmenting() is None:
            self._waiting = layer, image, prepared
            raise PromptError("no model is loaded; choose one in the Model list")
        self._waiting = None
        digest, normalization = prepared
        self._digest = digest
        labels_layer = self.labels_layer = self._output_layer(layer, image)
        labels_layer.events.selected_label.connect(  # napari's label picker chooses the object to correct
            lambda _: labels_layer is self.labels_layer and self.proofread_panel.pick(labels_layer.selected_label))
        session = self.session = SegmentationSession(
            self.models.segmenting(), image, normalization, labels=self.labels_layer.data
        )
        # the prompt layers speak for this session, also while it is put aside
        self.prompt_layers = PromptLayers(
            self.viewer, image, layer.name, axis=partial(self._slice_axis, session), negative=self.negative.isChecked,
            callbacks=PromptCallbacks(*(partial(handler, session) for handler in (
                self._on_point, self._on_point_removed, self._on_point_moved, self._on_box))),
            where=self._where,
        )
        for prompt_layer in self.prompt_layers.layers:
            self._bind_keys(prompt_layer)
        self.autosaver = Autosaver(
            recovery_path(self._recovery_folder, digest), lambda: labels_layer.data, self, on_error=self._notify
        )
        self._shown_version = self.session.version
        self._offer_recovery()
        self._apply_tool()
        self._prefetch()

    def _output_layer(self, layer: ImageLayer, image: Image) -> Labels:
        name = f"{layer.name} segmentation"
        for existing in self.viewer.layers:
            if (isinstance(existing, Labels) and existing.name == name and existing.metadata.get(IMAGE_KEY) is image
                    and existing.data.dtype == np.uint16):
                return existing
        data, kwargs, _ = labels_layer_data(image.zeros(np.uint16), image, name, self._where)
        return self.viewer.add_labels(data, opacity=0.55, colormap=object_colormap(), **kwargs)

    def _offer_recovery(self) -> None:
        path = self.autosaver.path
        recovered = load_recovery(path)
        if recovered is None or recovered.shape != self.session.labels.shape:
            return
        if np.array_equal(recovered, self.session.labels):
            return
        self._recovered = recovered
        stamp = _time_of(path)
        self.restore_button.setText(f"Restore autosaved labels ({stamp})")
        self.restore_button.setVisible(True)
        notification_manager.dispatch(Notification(
            f"gfm-napari: labels autosaved for '{self.image_layer.name}' at {stamp} can be restored",
            severity="info", actions=[("Restore", lambda _=None: self.restore_recovery())],
        ))

    def _show_image_controls(self, image: Image) -> None:
        self.show_ct_window(image.modality == "CT")
        self.show_bands(is_multiband(image))

    def _park(self) -> None:
        """Put the current segmentation aside, with its layers, prompts, labels, history and autosave, to be resumed
        when its image is chosen again. One still starting (reading the image, waiting for a model) is dropped."""
        if self.session is not None:
            self._parked.append(Parked(
                self.image_layer, self.session, self.prompt_layers, self.labels_layer, self.autosaver, self._digest,
                self._where, self._recovered, self._shown_version,
            ))
        self.session = self.prompt_layers = self.labels_layer = self.autosaver = self.image_layer = None
        self._recovered = self._waiting = self._digest = self._where = None
        self._pending_previews = set()
        self.restore_button.setVisible(False)

    def _resume(self, parked: Parked) -> None:
        """Make a segmentation put aside the current one again, as it was left."""
        self._parked.remove(parked)
        self.image_layer, self.session, self.prompt_layers = parked.layer, parked.session, parked.prompt_layers
        self.labels_layer, self.autosaver, self._digest = parked.labels_layer, parked.autosaver, parked.digest
        self._where, self._recovered, self._shown_version = parked.where, parked.recovered, parked.shown_version
        self.restore_button.setVisible(self._recovered is not None)
        active = self.models.segmenting()
        if active is not None and self.session.predictor is not active:
            self.session.set_predictor(active)  # another model was chosen meanwhile
        self.prompt_layers.ensure()
        self._apply_tool()
        self._render(force=True)
        self._prefetch()

    def _close_session(self) -> None:
        if self.autosaver is not None:
            self.autosaver.close()
        if self.prompt_layers is not None:
            self.prompt_layers.remove()
        self.session = self.prompt_layers = self.autosaver = self.image_layer = self.labels_layer = None
        self._recovered = self._waiting = self._digest = self._where = None
        self._pending_previews = set()
        self.restore_button.setVisible(False)

    def _normalization(self, image: Image) -> Normalization:
        return self._normalization_fit(image)()

    def _normalization_fit(self, image: Image) -> Callable[[], Normalization]:
        """Fitting ``image``'s normalisation with the dock's current window and bands, to run on any thread."""
        window = (self.window_level.value(), self.window_width.value())
        text = self.bands.currentText() if is_multiband(image) else None

        def fit() -> Normalization:
            bands = None if text is None else parse_bands(text, image.metadata.band_descriptions)
            return fit_normalization(image, ct_window=window, bands=bands)

        return fit

    def _on_bands_changed(self) -> None:
        """Another band choice: checked at once (a bad one is a notification), then the model is fed and the
        layer shows the new 3 bands; embeddings of the old choice stay cached under their own key."""
        session, layer = self.session, self.image_layer
        if session is None or layer is None or not is_multiband(session.image):
            return
        try:
            normalization = self._normalization(session.image)
        except GfmError as error:
            self._report(error)
            return
        if normalization.describe() == session.normalization.describe():
            return

        def apply(composite) -> None:
            if session is self.session:
                layer.data = composite
                session.set_normalization(normalization)
                self._schedule_render()
                self._prefetch()

        self.queue.run(lambda: band_composite(session.image, normalization), apply, "Stretching the bands…")

    def _on_window_changed(self) -> None:
        level, width = self.window_level.value(), self.window_width.value()
        if self.image_layer is not None and self.session is not None and self.session.image.modality == "CT":
            self.image_layer.contrast_limits = (level - width / 2, level + width / 2)
            session = self.session
            self.queue.call(lambda: session.set_normalization(Normalization.ct_window(level, width)),
                            lambda _: self._prefetch())



def _time_of(path: Path) -> str:
    return time.strftime("%H:%M", time.localtime(path.stat().st_mtime))
