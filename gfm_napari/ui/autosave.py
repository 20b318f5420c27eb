"""Never lose work: the labels go to a recovery file after every accepted change, and come back on request.

The file is ``<recovery folder>/<digest of the image's pixels>.npz`` (the labels' bounding box, its offset and the
full shape), written atomically in a background thread, at most every ``interval_s`` seconds (the first change of
a quiet period is saved at once, later ones at the end of the interval; :meth:`Autosaver.flush` saves what is
pending). The folder is ``platformdirs.user_cache_dir("gfm-napari")/recovery`` unless ``$GFM_NAPARI_RECOVERY_DIR``
or an explicit folder says otherwise. Reopening the same pixels finds the same file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from qtpy.QtCore import QObject, QTimer

from ..images import Image
from ..images.atomic import atomic_path
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
    """Throttled background saves of ``labels()`` to ``path``."""

    def __init__(
        self, path: Path, labels: Callable[[], np.ndarray], interval_s: float = 2.0, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.path = path
        self._labels = labels
        self._interval = interval_s
        self._last = -float("inf")
        self._dirty = False
        self._future: Future | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gfm-autosave")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._save)

    def changed(self) -> None:
        """The labels changed: save now, or at the end of the current interval."""
        self._dirty = True
        if self._timer.isActive():
            return
        wait = self._interval - (time.monotonic() - self._last)
        if wait <= 0:
            self._save()
        else:
            self._timer.start(int(wait * 1000))

    def flush(self) -> None:
        """Save what is pending and wait until it is on disk."""
        self._timer.stop()
        self._save()
        if self._future is not None:
            self._future.result()

    def close(self) -> None:
        self.flush()
        self._executor.shutdown(wait=True)

    def _save(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._last = time.monotonic()
        self._future = self._executor.submit(_save_logged, self.path, self._labels().copy())


def _save_logged(path: Path, labels: np.ndarray) -> None:
    try:
        save_recovery(path, labels)
    except OSError as error:  # a full disk must not take the session down; the next save tries again
        _log.warning("gfm-napari: autosave to %s failed: %s", path, error)
