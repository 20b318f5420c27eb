"""Never lose work: the labels go to a recovery file after every accepted change, and come back on request.

The file is ``<recovery folder>/<digest of the image's pixels>.npz`` (the labels' bounding box, its offset and the
full shape), written atomically in a background thread after every accepted change (Accept, a propagation, undo /
redo, Clear object, a restore), started at once: no throttle delays it (changes made while a write is under way
are coalesced into one write of the latest labels right after it). Previews and prompts are not saved. The folder
is ``platformdirs.user_cache_dir("gfm-napari")/recovery`` unless ``$GFM_NAPARI_RECOVERY_DIR`` or an explicit
folder says otherwise; :func:`clean_recovery_dir` removes what writers killed mid-write left there. Reopening the
same pixels finds the same file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from qtpy.QtCore import QObject, Signal

from ..images import Image
from ..images.atomic import atomic_path, remove_stale_temporaries
from ..images.windowed import raster_of

RECOVERY_ENV = "GFM_NAPARI_RECOVERY_DIR"
_log = logging.getLogger(__name__)


def recovery_dir(folder: str | os.PathLike[str] | None = None) -> Path:
    if folder is None:
        folder = os.environ.get(RECOVERY_ENV)
    if folder is None:
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("gfm-napari")) / "recovery"
    return Path(folder)


def clean_recovery_dir(folder: Path) -> None:
    """Remove the temporary files that killed writers left in the recovery folder (at startup)."""
    removed = remove_stale_temporaries(folder)
    if removed:
        _log.info("gfm-napari: removed %d temporary file(s) of interrupted autosaves in %s", len(removed), folder)


def image_digest(image: Image) -> str:
    """Content digest of an image's pixels (shape, dtype and values); for a raster read by windows, of its file
    (name, size, modification time, shape), so that opening a huge scene never reads it whole."""
    raster = raster_of(image)
    if raster is not None:
        return raster.digest()
    array = np.ascontiguousarray(image.array)
    hasher = hashlib.blake2b(f"{array.shape}{array.dtype.str}".encode(), digest_size=16)
    hasher.update(memoryview(array).cast("B"))
    return hasher.hexdigest()


def recovery_path(folder: Path, digest: str) -> Path:
    return folder / f"{digest}.npz"


def save_recovery(path: Path, labels: np.ndarray) -> None:
    """Atomically store ``labels`` (only the bounding box of its non-zero voxels)."""
    nonzero = np.nonzero(labels)
    if nonzero[0].size:
        low = np.array([axis.min() for axis in nonzero])
        high = np.array([axis.max() + 1 for axis in nonzero])
    else:
        low = high = np.zeros(labels.ndim, int)
    patch = labels[tuple(slice(a, b) for a, b in zip(low, high))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        np.savez(tmp, shape=np.array(labels.shape), offset=low, patch=patch)


def load_recovery(path: Path) -> np.ndarray | None:
    """The labels saved at ``path``; None when there is no file, it is unreadable, or it holds no label."""
    try:
        with np.load(path) as saved:
            shape, offset, patch = tuple(saved["shape"]), saved["offset"], saved["patch"]
    except (OSError, KeyError, ValueError):
        return None
    if not patch.any():
        return None
    labels = np.zeros(shape, dtype=patch.dtype)
    labels[tuple(slice(a, a + n) for a, n in zip(offset, patch.shape))] = patch
    return labels


class Autosaver(QObject):
    """Background saves of ``labels()`` to ``path``: one per accepted change, started at once.

    :meth:`changed` snapshots the labels on the calling (UI) thread and writes them atomically in a worker thread.
    Nothing waits for a timer: while a save is being written, later changes are coalesced into one save of the
    latest labels, started as soon as that write ends. :attr:`idle` says nothing is left to write; :meth:`flush`
    writes what is pending and waits. A failed write (full disk, read-only folder) is reported through
    ``on_error(message)`` once, until a save succeeds again; the next change tries again.
    """

    _written = Signal(int, object)  # from the writing thread: (write number, None or the OSError), to the UI thread

    def __init__(
        self,
        path: Path,
        labels: Callable[[], np.ndarray],
        parent: QObject | None = None,
        *,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.path = path
        self._labels = labels
        self._on_error = on_error
        self._dirty = False
        self._writing = False
        self._failing = False
        self._closed = False
        self._number = 0  # of the latest write started
        self._future: Future | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gfm-autosave")
        self._written.connect(self._on_written)

    @property
    def idle(self) -> bool:
        """No change waits to be written and no write is under way."""
        return not self._dirty and not self._writing

    def changed(self) -> None:
        """The labels changed: save them now (or right after the write under way, with whatever is latest then)."""
        if self._closed:
            return
        self._dirty = True
        if not self._writing:
            self._start()

    def flush(self) -> None:
        """Write what is pending and wait until it is on disk (on the calling thread)."""
        if self._future is not None:
            self._future.result()
        self._writing = False
        if self._dirty:
            self._dirty = False
            self._report(_save_logged(self.path, self._labels().copy()))

    def close(self) -> None:
        self.flush()
        self._closed = True
        self._executor.shutdown(wait=True)

    def _start(self) -> None:
        self._dirty = False
        self._writing = True
        self._number += 1
        self._future = self._executor.submit(self._write, self._number, self._labels().copy())

    def _write(self, number: int, labels: np.ndarray) -> None:
        error = _save_logged(self.path, labels)
        with contextlib.suppress(RuntimeError):  # the dock was deleted meanwhile: nothing to tell
            self._written.emit(number, error)

    def _on_written(self, number: int, error: OSError | None) -> None:
        if number != self._number or not self._writing:  # flush() waited for that write and took over
            return
        self._writing = False
        self._report(error)
        if self._dirty and not self._closed:
            self._start()

    def _report(self, error: OSError | None) -> None:
        if error is None:
            self._failing = False
        elif not self._failing:
            self._failing = True
            if self._on_error is not None:
                self._on_error(f"autosave to {self.path.parent} failed ({error.strerror or error}); "
                               "the labels are still in the viewer: save them with File ▸ Save Selected Layer(s)")


def _save_logged(path: Path, labels: np.ndarray) -> OSError | None:
    try:
        save_recovery(path, labels)
    except OSError as error:  # a full disk must not take the session down; the next save tries again
        _log.warning("gfm-napari: autosave to %s failed: %s", path, error)
        return error
    return None
