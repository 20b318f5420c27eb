"""Atomic writes leave no temporary file behind, even after a writer was killed mid-write."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gfm_napari.images import atomic
from gfm_napari.images.atomic import (
    ABANDONED_S,
    atomic_path,
    atomic_write_text,
    is_stale_temporary,
    remove_stale_temporaries,
)


def _dead_pid() -> int:
    """The pid of a process that has run and is gone (reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temporary(folder, target: str, pid: int, suffix: str, host: str = atomic._HOST):
    """A temporary file named as :func:`atomic_path` names it, as the writer ``pid`` leaves it."""
    path = folder / f".{target}.{host}-{pid}-k1ll3d_x.tmp{suffix}"
    path.write_bytes(b"half a file")
    return path


def test_a_write_leaves_only_its_target(tmp_path):
    atomic_write_text(tmp_path / "a.json", "{}")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "b.nii.gz") as tmp:
        assert tmp.name.startswith(".b.nii.gz.") and tmp.name.endswith(".tmp.nii.gz")
        assert f"-{os.getpid()}-" in tmp.name
        raise RuntimeError("the writer fails")
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


WRITER = """
import sys, time
from gfm_napari.images.atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a file")
    print(tmp, flush=True)
    time.sleep(120)
"""


def test_kill_9_during_a_write_leaves_a_file_that_the_next_write_removes_while_a_live_writers_stays(tmp_path):
    import signal

    target = tmp_path / "labels.nii.gz"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    killed, live = writers
    try:
        temporaries = [Path(writer.stdout.readline().strip()) for writer in writers]
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert all(path.exists() for path in temporaries)  # nothing could remove the killed writer's file
        atomic_write_text(target, "whole")
        assert target.read_text() == "whole"
        assert not temporaries[0].exists() and temporaries[1].exists()  # the live writer's file is untouched
    finally:
        live.kill()
        live.wait(timeout=30)


def test_the_next_write_removes_what_a_killed_writer_left_and_keeps_a_live_writers_file(tmp_path):
    dead = _temporary(tmp_path, "r.npz", _dead_pid(), ".npz")
    live = _temporary(tmp_path, "r.npz", os.getppid(), ".npz")  # a running process writing the same target
    other_target = _temporary(tmp_path, "s.npz", _dead_pid(), ".npz")  # not this write's business
    assert is_stale_temporary(dead) and not is_stale_temporary(live)
    atomic_write_text(tmp_path / "r.npz", "new")
    assert (tmp_path / "r.npz").read_text() == "new"
    assert not dead.exists() and live.exists() and other_target.exists()


def test_abandoned_files_of_other_hosts_and_of_the_old_naming_go_after_an_hour(tmp_path):
    other_host = _temporary(tmp_path, "r.npz", 1, ".npz", host="00000000")  # pid 1 of a host we cannot ask
    old_naming = tmp_path / ".r.npz.ab12_xyz.tmp.npz"  # before the pid was recorded
    old_naming.write_bytes(b"")
    recent = [other_host, old_naming]
    atomic_write_text(tmp_path / "r.npz", "1")
    assert all(p.exists() for p in recent)  # they may still be written to
    long_ago = time.time() - ABANDONED_S - 60
    for path in recent:
        os.utime(path, (long_ago, long_ago))
    atomic_write_text(tmp_path / "r.npz", "2")
    assert not any(p.exists() for p in recent)


def test_a_folder_is_cleaned_of_every_dead_writers_files(tmp_path):
    dead = [_temporary(tmp_path, name, _dead_pid(), suffix)
            for name, suffix in (("a.npz", ".npz"), ("b.nii.gz", ".nii.gz"), ("c", ""))]
    live = _temporary(tmp_path, "d.npz", os.getppid(), ".npz")
    keep = [tmp_path / "a.npz", tmp_path / ".hidden", tmp_path / "notes.tmp.txt"]
    for path in keep:
        path.write_text("mine")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(dead)
    assert sorted(tmp_path.iterdir()) == sorted([live, *keep])
    assert remove_stale_temporaries(tmp_path / "missing") == []
