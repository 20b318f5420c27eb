"""The "Segment" dock: wires an image layer, a model, prompt layers, workers and autosave to a SegmentationSession.

Nothing here decides what a prompt means (that is :mod:`gfm_napari.engine.session`); this module turns user
actions into ordered tasks (:class:`~gfm_napari.ui.workers.TaskQueue`) and redraws layers from the session when a
task has settled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import napari
import numpy as np
from napari.layers import Image as ImageLayer
from napari.layers import Labels
from napari.utils.notifications import Notification, notification_manager, show_error
from qtpy.QtCore import QEvent, QSize, Qt
from qtpy.QtWidgets import QFrame, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from ..engine.predictor import Predictor
from ..engine.prompts import CANDIDATES
from ..engine.session import SegmentationSession
from ..errors import GfmError, PromptError
from ..images import Image, Normalization
from ..images.label_maps import OffGridError, read_labels
from ..models import LoadedModel
from ..training.run_files import ADAPTER_RUNS, PRETRAIN_RUNS
from ..training.runs import prepare_adapter_run, prepare_pretrain_run
from . import models
from .adapter_panel import AdapterPanel
from .autosave import Autosaver, clean_recovery_dir, recovery_dir
from .image_switching import ImageSwitching, Parked
from .model_list import ModelList
from .pretrain_panel import PretrainPanel
from .prompt_layers import PromptLayers
from .proofreading import ProofreadPanel
from .segment_controls import SegmentControls, debounce
from .session_tasks import SessionTasks
from .workers import TaskQueue, user_message

# Slices encoded ahead on each side of the one shown: ~0.5 s and 4 MB each on a CPU. Not the whole volume, so an
# idle viewer does not keep both cores busy for minutes (a click waits for at most the encode under way).
PREFETCH_RADIUS = 8


class SegmentWidget(ImageSwitching, SessionTasks, SegmentControls):
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
        self._recovery_folder = recovery_dir(recovery_folder)
        clean_recovery_dir(self._recovery_folder)
        self._parked: list[Parked] = []
        self._where: dict | None = None  # where the prompt and labels layers go: None = by the image's geometry
        self._recovered: np.ndarray | None = None
        self._waiting: tuple[ImageLayer, Image, tuple[str, Normalization]] | None = None  # read before any model
        self._pending_previews: set = set()
        self._shown_version = -1
        self._last_axis = 2
        self._watching_window = False
        self._digest: str | None = None
        self.models = ModelList(
            self.model_combo, self.queue, self, self._use_predictor, self._report, self._recovery_folder,
            self.precision_combo, self.views_combo,
        )
        self.adapter_panel = AdapterPanel(self._prepare_adapter_run, self.models.use_file, self._report)
        self.layout().insertWidget(self.layout().indexOf(self.restore_button), self.adapter_panel)
        self.proofread_panel = ProofreadPanel(self.open_labels, self.correct_object)
        self.layout().insertWidget(self.layout().indexOf(self.adapter_panel), self.proofread_panel)
        self.pretrain_panel = PretrainPanel(self._prepare_pretrain_run, self.models.use_file, self._report)
        self._arrange_tabs()
        self._connect()
        self.queue.status.connect(self._show_status)
        self.queue.settled.connect(self._schedule_render)
        viewer.layers.events.inserted.connect(self._refresh_images)
        viewer.layers.events.removed.connect(self._on_layer_removed)
        viewer.dims.events.current_step.connect(self._on_dims_changed)
        viewer.dims.events.order.connect(self._on_dims_changed)
        self._bind_keys(viewer)
        self.queue.run(load_default or models.load_default, self.models.loaded, models.LOADING_MESSAGE)
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
        self.tabs.addTab(_VerticalScrollArea(segment), "Segment")
        self.tabs.addTab(_VerticalScrollArea(pretrain), "Pretrain")
        QVBoxLayout(self).addWidget(self.tabs)

    def _connect(self) -> None:
        self.image_combo.currentIndexChanged.connect(self._on_image_chosen)
        self._window_timer = debounce(self, 300, self._on_window_changed)
        self.window_level.valueChanged.connect(self._window_timer.start)
        self.window_width.valueChanged.connect(self._window_timer.start)
        self.bands.activated.connect(lambda _: self._on_bands_changed())
        self.bands.lineEdit().editingFinished.connect(self._on_bands_changed)
        self.click_tool.toggled.connect(self._apply_tool)
        self.mask_button.clicked.connect(self.next_mask)
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
            "t": self.negative.toggle, "c": self.next_mask,
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

    def next_mask(self) -> None:
        """Show the model's next mask for the lone click on the plane on screen."""
        plane = self._plane_on_screen()
        if plane is not None:
            self._session_task(lambda s: s.next_mask(*plane))

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
        plane = self._plane_on_screen()
        if plane is not None:
            self._session_task(lambda s: s.edit_object(*plane, object_id), threaded=True)

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

    # ---- viewer and model ------------------------------------------------------------------------------------------
    def _on_dims_changed(self, event=None) -> None:
        if self.session is not None:  # Next mask belongs to the plane on screen
            self._show_mask_choice(self.session)
        self._prefetch_timer.start()

    def _use_predictor(self, predictor: Predictor) -> None:
        """Segment with ``predictor`` from now on (chosen in the Model list)."""
        if self.session is not None:
            self.session.set_predictor(predictor)
            self._prefetch()
        elif self._waiting is not None:
            self._start_session(*self._waiting)

    # ---- training runs ---------------------------------------------------------------------------------------------
    def _prepare_adapter_run(self, kind: str) -> tuple[LoadedModel, Path, Path, Path]:
        """(base model, image, labels, run folder) for training an adapter on the labels drawn so far."""
        session, base = self.session, self.models.base()
        return prepare_adapter_run(
            None if base is None else base.model, None if session is None else session.image,
            None if session is None else session.labels, kind=kind, digest=self._digest or "",
            folder=self._recovery_folder / ADAPTER_RUNS,
        )

    def _prepare_pretrain_run(self, data: Sequence[Path]) -> tuple[LoadedModel, Path, bool]:
        """(base model, run folder, resume) for pretraining the model in use on ``data``."""
        base = self.models.base()
        return prepare_pretrain_run(None if base is None else base.model, data, self._recovery_folder / PRETRAIN_RUNS)

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
        self._show_mask_choice(session)
        self.undo_button.setEnabled(session.can_undo)
        self.redo_button.setEnabled(session.can_redo)
        volume = session.image.spatial_ndim == 3
        self.propagate_button.setEnabled(volume)
        self.encode_button.setEnabled(volume)
        self._queue_previews()

    def _show_mask_choice(self, session: SegmentationSession) -> None:
        """Next mask is offered while the plane on screen holds a lone click; its text says which mask is shown."""
        try:
            key = self.current_plane()
        except GfmError:
            key = None
        lone = key is not None and session.can_choose_mask(*key)
        self.mask_button.setEnabled(lone)
        shown = session.prompts()[key].candidate if lone else 0
        self.mask_button.setText(f"Next mask ({shown + 1}/{CANDIDATES})" if lone else "Next mask")

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


class _VerticalScrollArea(QScrollArea):
    """A tab's page that scrolls vertically only: as wide as the page needs, as short as the dock allows, so a short
    window scrolls instead of squeezing rows over each other (a run's plot and status text once overlapped)."""

    def __init__(self, page: QWidget) -> None:
        super().__init__()
        self.setWidget(page)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self) -> QSize:
        width = self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(width + 2 * self.frameWidth(), super().minimumSizeHint().height())
