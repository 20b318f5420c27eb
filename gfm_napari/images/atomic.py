"""Atomic file writes: write to a temporary file in the destination folder, then ``os.replace``.

A reader never sees a half-written file, and a failed write leaves the destination as it was (absent or the
previous version) with no temporary file behind. The result gets the permissions of an ordinary new file.

A process killed while writing (``kill -9``, a power cut) cannot remove its temporary file. Its name says whose it
is: ``.<target name>.<host>-<pid>-<random>.tmp<suffix>`` (``host``: 8 hex digits of the host name's hash). The next
write of the same target removes the temporary files of that target left by writers that are gone — a pid that
no longer runs on this host, or (any host, and files named before the pid was recorded) a file not modified for
:data:`ABANDONED_S` seconds — and :func:`remove_stale_temporaries` does the same for a whole folder (the
recovery folder, when the viewer starts). A temporary file of a live writer is never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ABANDONED_S = 3600.0  # a temporary file nobody has written to for this long belongs to no running write
_TEMPORARY = re.compile(
    r"^\.(?P<target>.+)\.(?:(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-)?[a-z0-9_]+\.tmp(?P<suffix>(?:\.[A-Za-z0-9_-]+)*)$"
)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, e.g. ``.nii.gz``); on success it replaces ``path``.

    Use it for libraries that write by file name (nibabel, rasterio, Pillow)::

        with atomic_path(out) as tmp:
            nib.save(image, tmp)

    On any exception inside the block the temporary file is removed and the exception propagates. Temporary files
    of the same target left by writers that died are removed first.
    """
    target = Path(path)
    suffix = _suffix(target.name)
    _remove_stale(target.parent, target.name)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{_HOST}-{os.getpid()}-", suffix=f".tmp{suffix}"
    )
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


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files in ``folder`` (not below it) that writers which are gone left behind, whatever
    their target; returns those removed. A missing folder has none."""
    return _remove_stale(Path(folder), None)


def is_stale_temporary(path: str | os.PathLike[str], *, now: float | None = None) -> bool:
    """True for a temporary file of :func:`atomic_path` whose writer is gone (see the module docstring)."""
    path = Path(path)
    match = _TEMPORARY.match(path.name)
    if match is None:
        return False
    try:
        modified = path.stat().st_mtime
    except OSError:
        return False
    if (time.time() if now is None else now) - modified > ABANDONED_S:
        return True
    host, pid = match["host"], match["pid"]
    return host == _HOST and not _is_running(int(pid))


def _remove_stale(folder: Path, target_name: str | None) -> list[Path]:
    removed: list[Path] = []
    prefix = "." if target_name is None else f".{target_name}."
    try:
        entries = [entry for entry in os.scandir(folder) if entry.name.startswith(prefix) and ".tmp" in entry.name]
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or (target_name is not None and (
            match["target"] != target_name or match["suffix"] != _suffix(target_name)
        )):
            continue
        path = Path(entry.path)
        if entry.is_file(follow_symlinks=False) and is_stale_temporary(path, now=now):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _suffix(name: str) -> str:
    return ".nii.gz" if name.lower().endswith(".nii.gz") else Path(name).suffix


def _is_running(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one of another user counts)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # no cheap check: only the age rule applies
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _host_id() -> str:
    return hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()


_HOST = _host_id()


def _current_umask() -> int:
    """The process umask, read without changing it (``os.umask`` set-and-restore is not thread-safe)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022
