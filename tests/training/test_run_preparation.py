"""Preparing the dock's training runs, without Qt: what is refused, where the labels go, which run is resumed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gfm_napari.errors import PromptError
from gfm_napari.training.run_files import CHECKPOINT, DONE
from gfm_napari.training.runs import (
    prepare_adapter_run,
    prepare_pretrain_run,
    training_source,
)


def test_an_adapter_run_writes_the_labels_beside_the_image_and_resumes_a_stopped_run(ct, litemedsam, tmp_path):
    labels = np.zeros(ct.spatial_shape, np.uint16)
    with pytest.raises(PromptError, match="open an image and wait for the model"):
        prepare_adapter_run(None, ct, labels, kind="lora", digest="0" * 64, folder=tmp_path)
    with pytest.raises(PromptError, match="label a few slices first"):
        prepare_adapter_run(litemedsam, ct, labels, kind="lora", digest="0" * 64, folder=tmp_path)
    labels[(slice(0, 8),) * 3] = 1
    base, image, labels_path, run_dir = prepare_adapter_run(
        litemedsam, ct, labels, kind="lora", digest="abcdef0123456789", folder=tmp_path)
    assert base is litemedsam and image == training_source(ct) == ct.source
    assert run_dir == tmp_path / "abcdef012345-lora" and labels_path == run_dir / "labels.nii.gz"
    assert labels_path.is_file()
    again = prepare_adapter_run(litemedsam, ct, labels, kind="lora", digest="abcdef0123456789", folder=tmp_path)
    assert again[3] == run_dir  # stopped before its end: resumed
    (run_dir / DONE).write_text("1\n")
    finished = prepare_adapter_run(litemedsam, ct, labels, kind="lora", digest="abcdef0123456789", folder=tmp_path)
    assert finished[3] == tmp_path / "abcdef012345-lora-2"


def test_adapters_train_from_a_file_held_in_memory(ct, litemedsam, tmp_path):
    labels = np.ones(ct.spatial_shape, np.uint16)
    moved = dataclasses.replace(ct, source=tmp_path / "gone.nii.gz")
    with pytest.raises(PromptError, match="adapters train from the image's file"):
        prepare_adapter_run(litemedsam, moved, labels, kind="lora", digest="0" * 64, folder=tmp_path)


def test_a_pretraining_run_is_named_by_model_and_data_and_resumes_from_its_checkpoint(ct, litemedsam, tmp_path):
    with pytest.raises(PromptError, match="wait for the model to load"):
        prepare_pretrain_run(None, [ct.source], tmp_path)
    with pytest.raises(PromptError, match="nothing to pretrain on"):
        prepare_pretrain_run(litemedsam, [], tmp_path)
    base, run_dir, resume = prepare_pretrain_run(litemedsam, [ct.source], tmp_path)
    assert base is litemedsam and run_dir.parent == tmp_path and not resume
    run_dir.mkdir()
    (run_dir / CHECKPOINT).write_bytes(b"")
    assert prepare_pretrain_run(litemedsam, [ct.source], tmp_path) == (litemedsam, run_dir, True)
    assert prepare_pretrain_run(litemedsam, [tmp_path], tmp_path)[1] != run_dir
