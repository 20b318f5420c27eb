"""The Segment dock's Model list: shows the model :class:`~gfm_napari.engine.catalog.Catalog`, loads the entry
chosen (off the UI thread) and hands the predictor to segment with to the dock.

Adapters and pretrained encoders load over the model they were made from and share its embedding cache (their own
model id keeps the embeddings apart); adapter training and pretraining go on from that base model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from qtpy.QtWidgets import QComboBox, QFileDialog, QWidget

from ..engine.catalog import EXTENSION_KINDS, Catalog, Entry
from ..engine.predictor import Predictor
from ..errors import GfmError, ModelError
from ..models.extensions import Extension, describe, extend
from ..models.registry import FALLBACK_MODEL, with_precision, with_views
from ..training.run_files import ADAPTER_RUNS, PRETRAIN_RUNS
from ..training.runs import adapters_for, encoders_for
from . import models
from .workers import TaskQueue

LOAD_CHECKPOINT = "Load SAM checkpoint, adapter or encoder…"
PRECISIONS = {"auto": "Automatic", "float": "Float", "int8": "8-bit (CPU)"}  # the Precision list: value -> text
VIEWS = {1: "1: the plane (fastest)", 4: "4: with its mirror images", 8: "8: mirrored and transposed"}  # Views list
LOADING = {"adapter": "Loading the adapter…", "encoder": "Loading the pretrained encoder…"}


class ModelList:
    """What the Model list offers and which of its models are loaded; ``active`` is the one segmenting.

    Args:
        combo: the Model list.
        queue: runs the loading off the UI thread, in order with the dock's other tasks.
        parent: the file dialog's parent.
        use: called on the UI thread with each predictor chosen (or loaded) to segment with.
        report: shows an error to the user.
        runs: the folder whose adapter and pretraining runs hold the files offered for a model once it loaded.
        precision_combo: the Precision list (:data:`PRECISIONS`): the encoder arithmetic every model loads with.
        views_combo: the Views list (:data:`VIEWS`): how many mirror images of each plane answer every prompt
            (:mod:`gfm_napari.models.views`), whatever the model.
    """

    def __init__(
        self, combo: QComboBox, queue: TaskQueue, parent: QWidget, use: Callable[[Predictor], None],
        report: Callable[[BaseException], None], runs: Path, precision_combo: QComboBox, views_combo: QComboBox,
    ) -> None:
        self.combo, self.queue, self.parent = combo, queue, parent
        self._use, self._report, self._runs = use, report, runs
        self.catalog = Catalog()
        self._loaded: dict[Entry, Predictor] = {}
        self.active: Predictor | None = None
        self.precision = "auto"
        self.precision_combo = precision_combo
        for value, text in PRECISIONS.items():
            precision_combo.addItem(text, value)
        self.views, self.views_combo = 1, views_combo
        self._viewed: tuple[Predictor, int, Predictor] | None = None
        for count, text in VIEWS.items():
            views_combo.addItem(text, count)
        combo.setPlaceholderText(models.LOADING_PLACEHOLDER)  # shown while the list is empty: the first load
        combo.activated.connect(self._on_chosen)
        precision_combo.activated.connect(lambda index: self.set_precision(precision_combo.itemData(index)))
        views_combo.activated.connect(lambda index: self.set_views(views_combo.itemData(index)))

    def loaded(self, predictor: Predictor) -> None:
        """Segment with a model just loaded; the fallback model and the adapters and encoders made from this one
        before (in the runs folder) join the list, to be loaded when chosen."""
        self._loaded[self.catalog.offer(_entry_of(predictor))] = predictor
        self.catalog.offer(Entry.model(FALLBACK_MODEL))
        model_id = predictor.model.model_id
        adapters = adapters_for(self._runs / ADAPTER_RUNS, model_id)
        for path in adapters + encoders_for(self._runs / PRETRAIN_RUNS, model_id):
            self.catalog.offer(Entry.extension(describe(path)))
        self._choose(predictor)

    def base(self) -> Predictor | None:
        """The model in use, or the one its adapter or pretrained encoder was loaded over: adapters train and load
        over a base model, and pretraining starts from one. None before any model loaded."""
        active = next((entry for entry in self.catalog if self._loaded.get(entry) is self.active), None)
        if active is None or not active.extends:
            return self.active
        return (self._with_id(active.base_model_id) or [self.active])[0]

    def use_file(self, path: Path) -> None:
        """Load the adapter or pretrained encoder at ``path`` over the model it was made from and segment with it;
        it joins the list. A file made for a model that is not loaded is a notification naming both models."""
        try:
            extension = describe(path)
            if extension is None or extension.kind not in EXTENSION_KINDS:
                raise ModelError(f"{Path(path).name} is not an adapter or a pretrained encoder")
        except GfmError as error:
            self._report(error)
            return
        self._extend(extension)

    def set_precision(self, precision: str) -> None:
        """Run the model in use (and the base model of an adapter or encoder in use) with ``precision``
        (``"auto"``, ``"float"``, ``"int8"``) from now on; models chosen later load with it. Embedding caches stay
        (the precision is part of each key). A precision the model cannot run is a notification, and the model
        stays as it was."""
        active, base = self.active, self.base()
        if active is None:
            self.precision = precision
            return

        def convert() -> tuple[dict[int, Predictor], ModelError | None]:
            try:  # the error is handed back, not raised: the Precision list must show the precision still in use
                return {id(old): Predictor(with_precision(old.model, precision), cache=old.cache)
                        for old in {id(active): active, id(base): base}.values()}, None
            except ModelError as error:
                return {}, error

        def converted(outcome: tuple[dict[int, Predictor], ModelError | None]) -> None:
            new, error = outcome
            if error is not None:
                self._report(error)
                self._fill()
                return
            self.precision = precision
            self._loaded = {entry: new[id(old)] for entry, old in self._loaded.items() if id(old) in new}
            self._choose(new[id(active)])  # the others load again, in this precision, when chosen

        self.queue.run(convert, converted, "Switching the encoder's precision…")

    def set_views(self, count: int) -> None:
        """Answer every prompt through ``count`` views of its plane from now on, with the model in use and any chosen
        later (the same modules: nothing loads; the views' embeddings have keys of their own)."""
        self.views = count
        self.views_combo.setCurrentIndex(list(VIEWS).index(count))
        if self.active is not None:
            self._use(self.segmenting())

    def segmenting(self) -> Predictor | None:
        """The predictor the dock segments with: the model in use, answering through the views chosen (the same
        object while neither changes). The Model list's own predictors stay plain: adapters train, and pretraining
        starts, from them."""
        active = self.active
        if active is None or self.views == 1:
            return active
        if self._viewed is None or self._viewed[:2] != (active, self.views):
            self._viewed = (active, self.views, Predictor(with_views(active.model, self.views), cache=active.cache))
        return self._viewed[2]

    def _extend(self, extension: Extension) -> None:
        bases = self._with_id(extension.base_model_id)
        base = bases[0] if bases else self.base()

        def load() -> Predictor:
            return Predictor(extend(base.model, extension), cache=base.cache)

        def loaded(derived: Predictor) -> None:
            self._loaded[self.catalog.offer(Entry.extension(extension))] = derived
            self._choose(derived)

        self.queue.run(load, loaded, LOADING[extension.kind])

    def _with_id(self, model_id: str | None) -> list[Predictor]:
        """The loaded predictors of model ``model_id``, in list order."""
        loaded = (self._loaded[entry] for entry in self.catalog if entry in self._loaded)
        return [predictor for predictor in loaded if predictor.model.model_id == model_id]

    def _choose(self, predictor: Predictor) -> None:
        self.active = predictor
        self._fill()
        self._use(self.segmenting())

    def _fill(self) -> None:
        self.combo.clear()
        for entry in self.catalog:
            self.combo.addItem(entry.title, entry)
        self.combo.addItem(LOAD_CHECKPOINT, None)
        active = [self._loaded.get(entry) is self.active for entry in self.catalog]
        self.combo.setCurrentIndex(active.index(True) if True in active else 0)
        running = self.active.model.precision if self.active is not None else None
        shown = "8-bit" if running == "int8" else "float"
        self.precision_combo.setItemText(0, PRECISIONS["auto"] + (f" ({shown})" if running else ""))
        self.precision_combo.setCurrentIndex(list(PRECISIONS).index(self.precision))

    def _on_chosen(self, index: int) -> None:
        entry: Entry | None = self.combo.itemData(index)
        if entry is None:
            self._open_file()
            return
        predictor = self._loaded.get(entry)
        if predictor is None and entry.extends:
            self.use_file(entry.path)
        elif predictor is None:
            self.queue.run(partial(models.load_named, entry.name, self.precision), self.loaded, models.LOADING_MESSAGE)
        elif predictor is not self.active:
            self.queue.call(lambda: self._choose(predictor))

    def _open_file(self) -> None:
        """A SAM checkpoint, an adapter or a pretrained encoder from a file the user picks."""
        path, _ = QFileDialog.getOpenFileName(
            self.parent, "SAM checkpoint, adapter or encoder", "",
            "Checkpoints, adapters and encoders (*.pth *.pt *.safetensors)",
        )
        if not path:
            self._fill()
            return
        try:
            extension = describe(path)
        except GfmError as error:
            self._report(error)
            return
        if extension is not None and extension.kind in EXTENSION_KINDS:
            self._extend(extension)
        else:
            self.queue.run(partial(models.load_checkpoint, path, self.precision), self._checkpoint_loaded,
                           "Loading checkpoint…")

    def _checkpoint_loaded(self, predictor: Predictor) -> None:
        self._loaded[self.catalog.offer(_entry_of(predictor))] = predictor
        self._choose(predictor)


def _entry_of(predictor: Predictor) -> Entry:
    """The list entry of a model loaded from the registry or from a user's checkpoint."""
    model = predictor.model
    if model.spec.needs_checkpoint:
        return Entry.checkpoint(model.spec.name, model.weights_path)
    return Entry.model(model.spec.name)
