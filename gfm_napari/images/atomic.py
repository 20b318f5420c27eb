"""Atomic file writes: write to a temporary file in the destination folder, then ``os.replace``.

A reader never sees a half-written file, and a failed write leaves the destination as it was (absent or the
previous version) with no temporary file behind. The result gets the permissions of an ordinary new file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, e.g. ``.nii.gz``); on success it replaces ``path``.

    Use it for libraries that write by file name (nibabel, rasterio, Pillow)::

        with atomic_path(out) as tmp:
            nib.save(image, tmp)

    On any exception inside the block the temporary file is removed and the exception propagates.
    """
    target = Path(path)
    name = target.name.lower()
    suffix = ".nii.gz" if name.endswith(".nii.gz") else target.suffix
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{suffix}")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600 files
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))


def _current_umask() -> int:
    """The process umask, read without changing it (``os.umask`` set-and-restore is not thread-safe)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022
