"""The "Segment" dock: wires an image layer, a model, prompt layers, workers and autosave to a SegmentationSession.

Nothing here decides what a prompt means (that is :mod:`gfm_napari.engine.session`); this module turns user
actions into ordered tasks (:class:`~gfm_napari.ui.workers.TaskQueue`) and redraws layers from the session when a
task has settled.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import napari
import numpy as np
from napari.layers import Image as ImageLayer
from napari.layers import Labels
from napari.utils.notifications import Notification, notification_manager, show_error, show_info
from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QFileDialog, QTabWidget, QVBoxLayout, QWidget

from ..engine.predictor import Predictor
from ..engine.propagate import PropagationSettings
from ..engine.session import SegmentationSession
from ..errors import GfmError, PromptError
from ..images import Image, Normalization, fit_normalization, write_mask
from ..images.bands import default_bands, parse_bands
from ..images.label_maps import OffGridError, read_labels
from ..jobs import Progress
from ..models import LoadedModel, get_spec, load_adapter
from ..models.adapter_files import is_adapter, read_sidecar
from ..models.encoder_files import is_encoder, load_encoder, read_encoder_sidecar
from ..training.pretrain import CHECKPOINT
from ..training.runs import adapters_for, encoders_for, run_folder
from . import models
from .adapter_panel import AdapterPanel
from .autosave import (
    Autosaver,
    clean_recovery_dir,
    image_digest,
    load_recovery,
    recovery_dir,
    recovery_path,
)
from .layers import (
    IMAGE_KEY,
    adopt_layer,
    band_composite,
    is_multiband,
    labels_layer_data,
    layer_placement,
    object_colormap,
)
from .pretrain_panel import PretrainPanel
from .prompt_layers import PromptCallbacks, PromptLayers
from .proofreading import ProofreadPanel
from .segment_controls import SegmentControls, debounce
from .workers import TaskQueue, user_message

LOAD_CHECKPOINT = "Load SAM checkpoint, adapter or encoder…"
ADAPTER_KEY = "adapter:"  # Model list entries of adapter files: ADAPTER_KEY + the file's path
ENCODER_KEY = "encoder:"  # ... and of pretrained encoders: ENCODER_KEY + the file's path
# Slices encoded ahead on each side of the one shown: ~0.5 s and 4 MB each on a CPU. Not the whole volume, so an
# idle viewer does not keep both cores busy for minutes (a click waits for at most the encode under way).
PREFETCH_RADIUS = 8
# One slice per step, so that Cancel stops a propagation within one slice's encoding.
UI_PROPAGATION = PropagationSettings(batch_size=1)


@dataclass
class _Parked:
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


class SegmentWidget(SegmentControls):
    """Interactive segmentation of one image layer at a time.

    Choosing another image in the dock puts the current segmentation aside (its prompt layers, unaccepted prompts,
    labels, undo history and autosave are kept); choosing its image again resumes it. An image layer gfm-napari
    did not open is used when it is a plain in-memory 2D or 3D array (:func:`~gfm_napari.ui.layers.adopt_layer`),
    else refused with a notification and the current segmentation goes on.

    Args:
        viewer: the napari viewer.
        load_default: gives the starting model (run in a worker); default: click-trained LiteMedSAM when it loads.
        recovery_folder: where autosaves go (default: see :func:`~gfm_napari.ui.autosave.recovery_dir`); every
            accepted change is saved there at once.
    """

    def __init__(
        self,
        viewer: napari.viewer.Viewer,
        *,
        load_default: Callable[[], Predictor] | None = None,
        recovery_folder: str | Path | None = None,
        prefetch_radius: int = PREFETCH_RADIUS,
    ) -> None:
        super().__init__()
        self.viewer = viewer
        self.prefetch_radius = prefetch_radius
        self.queue = TaskQueue(self._report, parent=self)
        self.session: SegmentationSession | None = None
        self.prompt_layers: PromptLayers | None = None
        self.labels_layer: Labels | None = None
        self.image_layer: ImageLayer | None = None
        self.autosaver: Autosaver | None = None
        self._predictors: dict[str, Predictor] = {}
        self._predictor: Predictor | None = None
        self._recovery_folder = recovery_dir(recovery_folder)
        clean_recovery_dir(self._recovery_folder)
        self._parked: list[_Parked] = []
        self._where: dict | None = None  # where the prompt and labels layers go: None = by the image's geometry
        self._recovered: np.ndarray | None = None
        self._waiting: tuple[ImageLayer, Image, tuple[str, Normalization]] | None = None  # read before any model
        self._pending_previews: set = set()
        self._shown_version = -1
        self._last_axis = 2
        self._watching_window = False
        self._digest: str | None = None
        # an adapted model's or pretrained encoder's id -> the predictor it was made from
        self._adapter_bases: dict[str, Predictor] = {}
        self.adapter_panel = AdapterPanel(self._prepare_adapter_run, self._use_adapter, self._report)
        self.layout().insertWidget(self.layout().indexOf(self.restore_button), self.adapter_panel)
        self.proofread_panel = ProofreadPanel(self.open_labels, self.correct_object)
        self.layout().insertWidget(self.layout().indexOf(self.adapter_panel), self.proofread_panel)
        self.pretrain_panel = PretrainPanel(self._prepare_pretrain_run, self._use_encoder, self._report)
        self._arrange_tabs()
        self._connect()
        self.queue.status.connect(self._show_status)
        self.queue.settled.connect(self._schedule_render)
        viewer.layers.events.inserted.connect(self._refresh_images)
        viewer.layers.events.removed.connect(self._on_layer_removed)
        viewer.dims.events.current_step.connect(self._on_dims_changed)
        viewer.dims.events.order.connect(self._on_dims_changed)
        self._bind_keys(viewer)
        self.queue.run(load_default or models.load_default, self._model_loaded, "Loading the model…")
        self._refresh_images()

    # ---- layout ----------------------------------------------------------------------------------------------------
    def _arrange_tabs(self) -> None:
        """The controls :class:`SegmentControls` laid out become the "Segment" tab; pretraining is the second."""
        segment = QWidget()
        segment.setLayout(self.layout())  # Qt takes the layout, and the widgets in it, over from this widget
        pretrain = QWidget()
        page = QVBoxLayout(pretrain)
        page.addWidget(self.pretrain_panel)
        page.addStretch(1)
        self.tabs = QTabWidget()
        self.tabs.addTab(segment, "Segment")
        self.tabs.addTab(pretrain, "Pretrain")
        QVBoxLayout(self).addWidget(self.tabs)

    def _connect(self) -> None:
        self.image_combo.currentIndexChanged.connect(self._on_image_chosen)
        self.model_combo.activated.connect(self._on_model_chosen)
        self._window_timer = debounce(self, 300, self._on_window_changed)
        self.window_level.valueChanged.connect(self._window_timer.start)
        self.window_width.valueChanged.connect(self._window_timer.start)
        self.bands.activated.connect(lambda _: self._on_bands_changed())
        self.bands.lineEdit().editingFinished.connect(self._on_bands_changed)
        self.click_tool.toggled.connect(self._apply_tool)
        self.new_button.clicked.connect(self.new_object)
        self.accept_button.clicked.connect(self.accept)
        self.clear_button.clicked.connect(self.clear_object)
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.propagate_button.clicked.connect(self.propagate)
        self.auto_button.clicked.connect(self.segment_everything)
        self.encode_button.clicked.connect(self.encode_volume)
        self.cancel_button.clicked.connect(self.cancel)
        self.restore_button.clicked.connect(self.restore_recovery)
        self._prefetch_timer = debounce(self, 150, self._prefetch)
        self._render_timer = debounce(self, 0, self._render)

    def _bind_keys(self, provider, *, unbind: bool = False) -> None:
        keys = {
            "n": self.new_object, "a": self.accept, "Enter": self.accept, "Control-z": self.undo,
            "Control-Shift-z": self.redo, "p": self.click_tool.click, "b": self.box_tool.click,
            "t": self.negative.toggle,
        }
        for key, action in keys.items():
            provider.bind_key(key, None if unbind else (lambda _, action=action: action()), overwrite=True)

    # ---- user actions (public: also what tests and scripts drive) --------------------------------------------------
    def accept(self) -> None:
        self._session_task(lambda s: s.accept(), threaded=True, message="Accepting…")

    def new_object(self) -> None:
        self._session_task(lambda s: s.new_object(), threaded=True)

    def clear_object(self) -> None:
        self._session_task(lambda s: s.clear_object())

    def undo(self) -> None:
        self._session_task(lambda s: s.undo())

    def redo(self) -> None:
        self._session_task(lambda s: s.redo())

    def open_labels(self, path: str | Path, *, resample: bool = False) -> None:
        """Replace the labels by a label map made elsewhere, read and checked against the image's grid off the UI
        thread (undoable). A map off the grid changes nothing: a notification offers to resample it."""
        session = self.session
        if session is None:
            return

        def read() -> tuple[np.ndarray | None, str]:  # (a worker's exception would be reported as it is)
            try:
                return read_labels(path, session.image, resample=resample), ""
            except OffGridError as error:
                return None, str(error)

        def done(result: tuple[np.ndarray | None, str]) -> None:
            labels, off_grid = result
            if labels is not None:
                session.replace_labels(labels)
                return
            notification_manager.dispatch(Notification(
                f"gfm-napari: {Path(path).name}: {off_grid}", severity="error",
                actions=[("Resample", lambda _=None: self.open_labels(path, resample=True))],
            ))

        self.queue.run(read, done, f"Reading {Path(path).name}…")

    def correct_object(self, object_id: int) -> None:
        """Correct existing object ``object_id`` on the slice on screen: its mask is the preview clicks refine."""
        try:
            axis, index = self.current_plane()
        except GfmError as error:
            self._report(error)
            return
        self._session_task(lambda s: s.edit_object(axis, index, object_id), threaded=True)

    def propagate(self) -> None:
        """Propagate the current object from the slice on screen through the volume (cancellable)."""

        def apply(session, axis, index, volume):  # also into a session put aside meanwhile: nothing is lost
            session.apply_propagation(axis, index, volume)

        self._run_job(lambda s, a, i: s.propagate_job(a, i, UI_PROPAGATION), apply, "Propagating from slice {}…")

    def segment_everything(self) -> None:
        """Find every object on the plane on screen (in its drawn box, if any) and add each as a new object, as one
        undoable step (cancellable; windows are the progress steps)."""

        def apply(session, axis, index, result):  # also into a session put aside meanwhile: nothing is lost
            added = session.apply_auto(axis, index, result.labels)
            show_info(f"gfm-napari: Segment everything added {added} objects ({result.windows} window(s)); "
                      "Ctrl+Z removes them all")

        self._run_job(lambda s, a, i: s.auto_job(a, i), apply, "Segmenting everything…")

    def encode_volume(self) -> None:
        """Encode every slice along the viewed axis, nearest first (cancellable)."""
        self._run_job(lambda s, a, i: s.embed_job(a, i), lambda *_: None, "Encoding all slices from {}…")

    def cancel(self) -> None:
        if self.queue.cancel_job():
            self._show_progress(False)
            self._show_status("Cancelled")

    def restore_recovery(self) -> None:
        """Replace the labels by the autosaved ones found for this image (undoable)."""
        recovered, self._recovered = self._recovered, None
        self.restore_button.setVisible(False)
        if recovered is not None:
            self._session_task(lambda s: s.replace_labels(recovered))

    @property
    def idle(self) -> bool:
        """Nothing queued, running, waiting to be redrawn or to be autosaved."""
        savers = [self.autosaver, *(parked.autosaver for parked in self._parked)]
        return (self.queue.idle and not self._render_timer.isActive()
                and all(saver.idle for saver in savers if saver is not None))

    def current_plane(self) -> tuple[int | None, int | None]:
        """The plane on screen as ``(axis, index)`` in the image's data axes; ``(None, None)`` for 2D images."""
        if self.session is None or self.session.image.spatial_ndim == 2:
            return None, None
        if self.viewer.dims.ndisplay != 2:
            raise PromptError("switch to the 2D view to prompt or propagate (Ctrl+Y)")
        axis = self._slice_axis()
        index = int(round(self.image_layer.world_to_data(self.viewer.dims.point)[axis]))
        return self.session.plane_key(axis, index)

    # ---- image and model -------------------------------------------------------------------------------------------
    def _refresh_images(self, event=None) -> None:
        layers = [layer for layer in self.viewer.layers if isinstance(layer, ImageLayer)]
        opened = [layer.metadata.get(IMAGE_KEY) for layer in layers]
        self.pretrain_panel.set_layer_files([_source(image) for image in opened if isinstance(image, Image)])
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

    def _on_dims_changed(self, event=None) -> None:
        self._prefetch_timer.start()

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
        if self._predictor is None:
            self._waiting = layer, image, prepared
            raise PromptError("no model is loaded; choose one in the Model list")
        self._waiting = None
        digest, normalization = prepared
        self._digest = digest
        labels_layer = self.labels_layer = self._output_layer(layer, image)
        labels_layer.events.selected_label.connect(  # napari's label picker chooses the object to correct
            lambda _: labels_layer is self.labels_layer and self.proofread_panel.pick(labels_layer.selected_label))
        session = self.session = SegmentationSession(
            self._predictor, image, normalization, labels=self.labels_layer.data
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
        for spin in (self.window_level, self.window_width):
            spin.setEnabled(image.modality == "CT")
        self.show_bands(is_multiband(image))

    def _park(self) -> None:
        """Put the current segmentation aside, with its layers, prompts, labels, history and autosave, to be resumed
        when its image is chosen again. One still starting (reading the image, waiting for a model) is dropped."""
        if self.session is not None:
            self._parked.append(_Parked(
                self.image_layer, self.session, self.prompt_layers, self.labels_layer, self.autosaver, self._digest,
                self._where, self._recovered, self._shown_version,
            ))
        self.session = self.prompt_layers = self.labels_layer = self.autosaver = self.image_layer = None
        self._recovered = self._waiting = self._digest = self._where = None
        self._pending_previews = set()
        self.restore_button.setVisible(False)

    def _resume(self, parked: _Parked) -> None:
        """Make a segmentation put aside the current one again, as it was left."""
        self._parked.remove(parked)
        self.image_layer, self.session, self.prompt_layers = parked.layer, parked.session, parked.prompt_layers
        self.labels_layer, self.autosaver, self._digest = parked.labels_layer, parked.autosaver, parked.digest
        self._where, self._recovered, self._shown_version = parked.where, parked.recovered, parked.shown_version
        self.restore_button.setVisible(self._recovered is not None)
        if self._predictor is not None and self.session.predictor is not self._predictor:
            self.session.set_predictor(self._predictor)  # another model was chosen meanwhile
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

    def _model_loaded(self, predictor: Predictor) -> None:
        self._predictors[predictor.model.spec.name] = predictor
        self._predictors.setdefault(models.BASE_MODEL, None)  # offered; loaded when chosen
        for path in adapters_for(self._recovery_folder / "adapters", predictor.model.model_id):
            self._predictors.setdefault(ADAPTER_KEY + str(path), None)  # adapters trained before, on this model
        for path in encoders_for(self._recovery_folder / "pretrain", predictor.model.model_id):
            self._predictors.setdefault(ENCODER_KEY + str(path), None)  # encoders pretrained before from it
        self._use_predictor(predictor)

    def _use_predictor(self, predictor: Predictor) -> None:
        self._predictor = predictor
        self._fill_model_combo()
        if self.session is not None:
            self.session.set_predictor(predictor)
            self._prefetch()
        elif self._waiting is not None:
            self._start_session(*self._waiting)

    def _fill_model_combo(self) -> None:
        self.model_combo.clear()
        for name, predictor in self._predictors.items():
            offered = predictor is None or name.startswith((ADAPTER_KEY, ENCODER_KEY))
            self.model_combo.addItem(_offered_title(name) if offered else models.title(predictor), name)
        self.model_combo.addItem(LOAD_CHECKPOINT, None)
        active = [p is self._predictor for p in self._predictors.values()]
        self.model_combo.setCurrentIndex(active.index(True) if True in active else 0)

    def _on_model_chosen(self, index: int) -> None:
        name = self.model_combo.itemData(index)
        if name is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "SAM checkpoint, adapter or encoder", "",
                "Checkpoints, adapters and encoders (*.pth *.pt *.safetensors)",
            )
            if path and is_adapter(path):
                self._use_adapter(Path(path))
            elif path and is_encoder(path):
                self._use_encoder(Path(path))
            elif path:
                self.queue.run(partial(models.load_checkpoint, path), self._checkpoint_loaded, "Loading checkpoint…")
            else:
                self._fill_model_combo()
            return
        predictor = self._predictors.get(name)
        if predictor is None and name.startswith(ADAPTER_KEY):
            self._use_adapter(Path(name.removeprefix(ADAPTER_KEY)))
        elif predictor is None and name.startswith(ENCODER_KEY):
            self._use_encoder(Path(name.removeprefix(ENCODER_KEY)))
        elif predictor is None:
            self.queue.run(partial(models.load_named, name), self._model_loaded, "Loading the model…")
        elif predictor is not self._predictor:
            self.queue.call(lambda: self._use_predictor(predictor))

    def _checkpoint_loaded(self, predictor: Predictor) -> None:
        self._predictors[f"{predictor.model.spec.name}:{predictor.model.weights_path}"] = predictor
        self._use_predictor(predictor)

    # ---- adapters --------------------------------------------------------------------------------------------------
    def _prepare_adapter_run(self, kind: str) -> tuple:
        """Write the labels drawn so far where a training subprocess reads them; (base model, image, labels, run
        folder). A run for the same image and kind that was stopped before its end is resumed."""
        session = self.session
        if session is None or self._predictor is None:
            raise PromptError("open an image and wait for the model before training an adapter")
        if session.image.is_lazy:
            raise PromptError("adapters train on images held in memory, not on rasters read by windows")
        if not _source(session.image).exists():
            raise PromptError("adapters train from the image's file: open it with gfm-napari (File ▸ Open)")
        if not session.labels.any():
            raise PromptError("label a few slices first (accept some objects): the adapter learns from them")
        base = self._base_predictor()
        run_dir = run_folder(self._recovery_folder / "adapters", f"{self._digest[:12]}-{kind}")
        run_dir.mkdir(parents=True, exist_ok=True)
        image = session.image
        suffix = ".nii.gz" if image.geometry.affine is not None else ".tif" if image.geometry.transform else ".png"
        labels = write_mask(run_dir / f"labels{suffix}", session.labels, image)
        return base.model, _source(image), labels, run_dir

    def _base_predictor(self) -> Predictor:
        """The model in use, or the one its adapter or pretrained encoder was loaded into: adapters train and load
        over a base model, and pretraining starts from one."""
        return self._adapter_bases.get(self._predictor.model.model_id, self._predictor)

    def _use_adapter(self, path: Path) -> None:
        """Load the adapter over the model it was trained on (off the UI thread) and segment with it; it joins the
        Model list. An adapter made for a model that is not loaded is a notification naming both models."""
        self._use_derived(path, read_sidecar, load_adapter, ADAPTER_KEY, "Loading the adapter…")

    def _use_encoder(self, path: Path) -> None:
        """Put the pretrained encoder into the model it was pretrained from (off the UI thread) and segment with it;
        it joins the Model list. An encoder made from a model that is not loaded is a notification naming both."""
        self._use_derived(path, read_encoder_sidecar, load_encoder, ENCODER_KEY, "Loading the pretrained encoder…")

    def _use_derived(
        self, path: Path, read: Callable[[Path], dict], load_onto: Callable[[LoadedModel, Path], LoadedModel],
        key: str, message: str,
    ) -> None:
        """Load a file that extends a base model (``load_onto(base model, path)``) and segment with the result, which
        shares the base predictor's embedding cache (its own model id keeps the embeddings apart) and is listed
        as ``key + path``. Adapter training and pretraining go on using the base."""
        try:
            made_from = read(path)["base_model_id"]
        except GfmError as error:
            self._report(error)
            return
        loaded_models = [p for p in self._predictors.values() if p is not None and p.model.model_id == made_from]
        base = loaded_models[0] if loaded_models else self._base_predictor()

        def load() -> Predictor:
            return Predictor(load_onto(base.model, path), cache=base.cache)

        def loaded(derived: Predictor) -> None:
            self._adapter_bases[derived.model.model_id] = base
            self._predictors[key + str(path)] = derived
            self._use_predictor(derived)

        self.queue.run(load, loaded, message)

    # ---- pretraining -----------------------------------------------------------------------------------------------
    def _prepare_pretrain_run(self, data: Sequence[Path]) -> tuple[LoadedModel, Path, bool]:
        """(base model, run folder, resume) for pretraining on ``data``. The folder is named by a digest of the
        base model and the data, so pretraining them again resumes a run that was stopped."""
        if self._predictor is None:
            raise PromptError("wait for the model to load before pretraining its encoder")
        if not data:
            raise PromptError("nothing to pretrain on: open an image, or add a folder of images to the list")
        model = self._base_predictor().model
        names = "\n".join([model.model_id, *sorted(str(Path(p).resolve()) for p in data)])
        run_dir = run_folder(self._recovery_folder / "pretrain", hashlib.sha256(names.encode()).hexdigest()[:12])
        return model, run_dir, (run_dir / CHECKPOINT).exists()

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

    # ---- prompts ---------------------------------------------------------------------------------------------------
    def _on_point(self, session, axis, index, x, y, positive) -> None:
        self._session_task(lambda s: s.add_point(axis, index, x, y, positive), session=session)

    def _on_point_removed(self, session, axis, index, x, y) -> None:
        self._session_task(lambda s: s.remove_point(axis, index, x, y), session=session)

    def _on_point_moved(self, session, axis, index, old, new) -> None:
        self._session_task(lambda s: s.move_point(axis, index, old, new), session=session)

    def _on_box(self, session, axis, index, box) -> None:
        self._session_task(lambda s: s.set_box(axis, index, box), session=session)

    def _apply_tool(self) -> None:
        if self.prompt_layers is not None:
            (self.prompt_layers.use_clicks if self.click_tool.isChecked() else self.prompt_layers.use_boxes)()

    def _slice_axis(self, session: SegmentationSession | None = None) -> int | None:
        session = self.session if session is None else session
        if session is None or session.image.spatial_ndim == 2:
            return None
        offset = self.viewer.dims.ndim - 3
        hidden = [d - offset for d in self.viewer.dims.not_displayed if d >= offset]
        if hidden and self.viewer.dims.ndisplay == 2:
            self._last_axis = hidden[-1]
        return self._last_axis

    # ---- tasks -----------------------------------------------------------------------------------------------------
    def _session_task(
        self, change: Callable[[SegmentationSession], object], *, threaded=False, message="",
        session: SegmentationSession | None = None,
    ) -> None:
        """Queue ``change(session)`` (default: the current session) after everything asked before (in a worker
        when it may use the model)."""
        session = self.session if session is None else session
        if session is None:
            return
        work = partial(change, session)
        if threaded:
            self.queue.run(work, message=message)
        else:
            self.queue.call(work)

    def _run_job(self, job, done, message: str) -> None:
        """Run ``job(session, axis, index)`` on the plane on screen with a progress bar; ``done(session, axis,
        index, result)`` gets its result."""
        session = self.session
        if session is None:
            return
        try:
            axis, index = self.current_plane()
        except GfmError as error:
            self._report(error)
            return
        self._show_progress(True)
        self.progress.setRange(0, 0)
        self.queue.run_job(
            partial(job, session, axis, index), partial(done, session, axis, index), self._on_progress,
            message.format(index),
        )

    def _on_progress(self, progress: Progress) -> None:
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.done)

    def _queue_previews(self) -> None:
        session = self.session
        for key in session.stale_planes():
            if key in self._pending_previews:
                continue
            self._pending_previews.add(key)
            message = ""
            if session.preview_needs_encoding(*key):
                where = "the image" if key[0] is None else f"slice {key[1]}"
                message = f"Encoding {where} for your prompt…"
            self.queue.run(partial(session.preview, *key), partial(self._preview_done, key), message)

    def _preview_done(self, key, _mask) -> None:
        self._pending_previews.discard(key)

    def _prefetch(self) -> None:
        """Encode the plane on screen, then its neighbours nearest first, in the background (replacing older
        requests; user tasks go first)."""
        session = self.session
        if session is None:
            return
        try:
            axis, index = self.current_plane()
        except GfmError:  # a 3D view, or the cursor outside the image: nothing to guess
            return
        planes = [(axis, index)]
        if axis is not None:
            depth = session.image.spatial_shape[axis]
            nearest = (i for step in range(1, self.prefetch_radius + 1) for i in (index + step, index - step))
            planes += [(axis, i) for i in nearest if 0 <= i < depth]
        self.queue.prefetch([
            (partial(session.embed, *plane), f"Encoding slice {plane[1]}…" if axis is not None else "Encoding…")
            for plane in planes if session.needs_embedding(*plane)
        ])

    # ---- views -----------------------------------------------------------------------------------------------------
    def _schedule_render(self) -> None:
        self._render_timer.start()

    def _render(self, *, force: bool = False) -> None:
        session = self.session
        if not self.queue.running_job:
            self._show_progress(False)
        for parked in self._parked:  # a task asked for before its image was put aside changed its labels
            if parked.session.version != parked.shown_version:
                parked.shown_version = parked.session.version
                parked.labels_layer.refresh()
                parked.autosaver.changed()
        if session is None:
            return
        colour = self.labels_layer.get_color(session.object_id)
        self.prompt_layers.ensure()
        self.prompt_layers.show(session.prompts(), session.previews(), colour, force=force)
        if session.version != self._shown_version:
            self._shown_version = session.version
            if self.labels_layer not in self.viewer.layers:
                self.viewer.layers.insert(self.viewer.layers.index(self.image_layer) + 1, self.labels_layer)
            self.labels_layer.refresh()
            self.autosaver.changed()
        hex_colour = "#{:02x}{:02x}{:02x}".format(*(np.asarray(colour[:3]) * 255).astype(int))
        self.object_label.setText(
            f"Object <b>{session.object_id}</b> <span style='background:{hex_colour}'>&nbsp;&nbsp;&nbsp;&nbsp;</span>"
        )
        self.undo_button.setEnabled(session.can_undo)
        self.redo_button.setEnabled(session.can_redo)
        volume = session.image.spatial_ndim == 3
        self.propagate_button.setEnabled(volume)
        self.encode_button.setEnabled(volume)
        self._queue_previews()

    def _show_status(self, message: str) -> None:
        self.status.setText(message or ("Ready" if self.session is not None else "Open an image to segment"))

    def _report(self, error: BaseException) -> None:
        self._notify(user_message(error))
        self._render(force=True)

    def _notify(self, message: str) -> None:
        show_error(f"gfm-napari: {message}")

    def shutdown(self) -> None:
        """Stop background work and write the last autosaves (the viewer is closing, or this dock)."""
        self.adapter_panel.shutdown()
        self.pretrain_panel.shutdown()
        self.queue.close()
        for saver in [self.autosaver, *(parked.autosaver for parked in self._parked)]:
            if saver is not None:
                saver.close()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        # napari does not close its docks when the viewer closes: watch the main window for that.
        window = self.window()
        if window is not self and not self._watching_window:
            window.installEventFilter(self)
            self._watching_window = True
        super().showEvent(event)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt)
        if event.type() == QEvent.Type.Close and watched is self.window():
            self.shutdown()
        return False

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt)
        self.shutdown()
        self._close_session()
        for parked in self._parked:
            parked.prompt_layers.remove()
        self._parked.clear()
        self._bind_keys(self.viewer, unbind=True)
        super().closeEvent(event)


def _offered_title(name: str) -> str:
    """The Model list's name of a registry model not loaded yet, of an adapter file or of a pretrained encoder."""
    if name.startswith(ENCODER_KEY):
        path = Path(name.removeprefix(ENCODER_KEY))
        return f"{get_spec(read_encoder_sidecar(path)['base_model']).title} + pretrained encoder ({path.parent.name})"
    if not name.startswith(ADAPTER_KEY):
        return get_spec(name).title
    path = Path(name.removeprefix(ADAPTER_KEY))
    sidecar = read_sidecar(path)
    return f"{get_spec(sidecar['base_model']).title} + {sidecar['adapter']['kind']} adapter ({path.parent.name})"


def _source(image: Image) -> Path:
    """The file or folder a training subprocess reads ``image`` from: a DICOM series opened by one of its files is
    read from its folder."""
    source = image.source
    return source.parent if source.is_file() and image.metadata.n_files > 1 else source


def _time_of(path: Path) -> str:
    return time.strftime("%H:%M", time.localtime(path.stat().st_mtime))
