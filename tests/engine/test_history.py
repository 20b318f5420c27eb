"""Undo / redo history alone: bounding-box patches, steps put back through their owner, a memory bound."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gfm_napari.engine.history import History, Patch, Step, bounding_box, write


@dataclass(frozen=True)
class _State:
    nbytes: int


def test_bounding_box_is_the_smallest_box_holding_every_true_voxel():
    mask = np.zeros((4, 5, 6), bool)
    assert bounding_box(mask) is None
    mask[1, 2, 3] = mask[2, 4, 1] = True
    assert bounding_box(mask) == (slice(1, 3), slice(2, 5), slice(1, 4))


def test_write_keeps_only_the_changed_voxels_box_and_swap_puts_it_back():
    labels = np.zeros((10, 10), np.uint16)
    assert write(labels, (slice(0, 10), slice(0, 10)), labels.copy()) is None  # nothing changes
    values = np.zeros((4, 4), np.uint16)
    values[1:3, 2] = 7
    patch = write(labels, (slice(5, 9), slice(3, 7)), values)
    assert patch.region == (slice(6, 8), slice(5, 6)) and not patch.values.any()
    assert labels.sum() == 14
    redo = patch.swap(labels)
    assert not labels.any() and (redo.values == 7).all()
    redo.swap(labels)
    assert labels.sum() == 14


def test_undo_and_redo_hand_steps_to_the_owner_and_keep_its_inverse():
    history = History(max_bytes=1 << 20)
    assert not history.can_undo and not history.can_redo and history.undo(lambda s: s) is False
    history.push(Step(1))
    history.push(Step(2))
    seen = []

    def restore(step: Step) -> Step:
        seen.append(step.object_id)
        return Step(10 * step.object_id)

    assert history.undo(restore) and seen == [2] and history.can_redo
    assert history.redo(restore) and seen == [2, 20]
    assert history.undo(restore) and seen == [2, 20, 200]
    history.push(Step(3))  # a new action forgets what could be redone
    assert not history.can_redo and history.redo(restore) is False


def test_the_oldest_steps_are_dropped_beyond_the_memory_bound_but_never_the_last():
    history = History(max_bytes=1000)
    patch = Patch((slice(0, 10),), np.zeros(100, np.uint16))  # 200 bytes
    for i in range(8):
        history.push(Step(i, {(2, i): _State(100), (2, 99): None}, (patch,)))  # 300 bytes each
    assert history.nbytes == 900
    history.push(Step(9, {(None, None): _State(5000)}))
    assert history.nbytes == 5000 and history.can_undo
