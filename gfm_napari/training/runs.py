"""Training runs on disk, for whoever launches and watches them (the dock, a script): a run's folder and inputs
prepared, the commands that start an adapter run or a pretraining run in a subprocess, their progress read back
from the run folder's JSON-lines log, the adapters a folder holds for a base model, and a pretraining run's
encoder.

The files of a run folder are named in :mod:`.run_files`; its log holds one record per step (step, loss terms,
lr, steps/s) and one per validation (``{"step": n, "val": {...}}``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import PromptError
from ..images import Image, write_mask
from ..models import LoadedModel
from ..models.adapter_files import adapter_paths, is_adapter, read_sidecar
from ..models.encoder_files import encoder_paths, is_encoder, read_encoder_sidecar
from .run_files import ADAPTER, CHECKPOINT, DONE, ENCODER, LOG


NOTHING_LEARNT = (
    "no training step beat the untouched model on the validation planes: the best weights are the starting ones, "
    "so what is exported changes nothing"
)


@dataclass
class RunProgress:
    """What a run's log says so far."""

    step: int = 0
    total: int = 0
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_scores: list[float] = field(default_factory=list)  # validation score (mean Dice of box, 1 and 3 clicks)
    steps_per_s: float | None = None

    @property
    def best_score(self) -> float | None:
        return max(self.val_scores) if self.val_scores else None

    @property
    def best_step(self) -> int | None:
        """The first step with the best validation score, as the training loop keeps it (0: the untouched model)."""
        return self.val_steps[self.val_scores.index(max(self.val_scores))] if self.val_scores else None

    @property
    def learnt_nothing(self) -> bool:
        return learnt_nothing(self.step, self.best_step)


def learnt_nothing(step: int, best_step: int | None) -> bool:
    """Steps were trained, and none beat the untouched model (step 0) on the validation planes."""
    return step > 0 and best_step == 0


def adapter_command(
    model: LoadedModel, image: Path, labels: Path, run_dir: Path, *, kind: str, steps: int
) -> list[str]:
    """argv of ``gfm-napari train-adapter`` for ``model``'s weights, exporting to ``run_dir``/adapter."""
    return _gfm_napari(
        model, "train-adapter", "--preset", "adapter", "--image", str(image), "--label", str(labels), "--kind", kind,
        "--steps", str(steps), "--out", str(run_dir), "--export", str(run_dir / ADAPTER),
    )


@dataclass
class PretrainProgress:
    """What a pretraining run's log says so far."""

    step: int = 0
    total: int = 0
    steps: list[int] = field(default_factory=list)
    l_mim: list[float] = field(default_factory=list)
    l_feat: list[float] = field(default_factory=list)
    images_per_s: float | None = None
    processes: int = 1


def pretrain_command(
    model: LoadedModel, data: Sequence[Path], run_dir: Path, *, steps: int, nproc: int = 1, batch_size: int = 8,
    frozen_stages: int = 0, resume: bool = False,
) -> list[str]:
    """argv of ``gfm-napari pretrain`` for ``model``'s weights on ``data`` (files or folders) into ``run_dir``;
    ``resume`` continues the run ``run_dir`` holds."""
    return _gfm_napari(
        model, "pretrain", "--data", *map(str, data), "--out", str(run_dir), "--steps", str(steps),
        "--nproc", str(nproc), "--batch-size", str(batch_size), "--freeze-stages", str(frozen_stages),
        *(["--resume"] if resume else []),
    )


def _gfm_napari(model: LoadedModel, command: str, *options: str) -> list[str]:
    """argv of ``python -m gfm_napari COMMAND OPTIONS`` run with ``model``'s weights on its device, over its
    pretrained encoder when it has one (an adapter trained over it then records that encoder's model id)."""
    argv = [sys.executable, "-m", "gfm_napari", command, *options, "--model", model.spec.name,
            "--device", model.device.type]
    if model.spec.needs_checkpoint:
        argv += ["--checkpoint", str(model.weights_path)]
    return argv + ([] if model.encoder_file is None else ["--encoder", str(model.encoder_file)])


def read_pretrain_progress(run_dir: Path, total: int = 0) -> PretrainProgress:
    """The pretraining run's progress from its log (empty before the first step)."""
    progress = PretrainProgress(total=total)
    for record in _records(run_dir):
        if "l_mim" in record:
            progress.step = record["step"]
            progress.steps.append(record["step"])
            progress.l_mim.append(record["l_mim"])
            progress.l_feat.append(record["l_feat"])
            progress.images_per_s = record.get("images_per_s")
            progress.processes = record.get("processes", 1)
    return progress


def exported_encoder(run_dir: Path) -> Path | None:
    """The pretraining run's encoder file, or None before its first checkpoint."""
    tensors, _ = encoder_paths(run_dir / ENCODER)
    return tensors if tensors.is_file() and is_encoder(tensors) else None


def _records(run_dir: Path) -> Iterator[dict]:
    """The records of a run's log; a half-written last line is skipped."""
    try:
        lines = (run_dir / LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    for line in lines:
        try:
            yield json.loads(line)
        except ValueError:
            continue


def read_progress(run_dir: Path, total: int = 0) -> RunProgress:
    """The run's progress from its log (empty before the first step; a half-written last line is skipped)."""
    progress = RunProgress(total=total)
    for record in _records(run_dir):
        if "val" in record:
            progress.val_steps.append(record["step"])
            progress.val_scores.append(record["val"]["score"])
        elif "loss" in record:
            progress.step = record["step"]
            progress.steps.append(record["step"])
            progress.losses.append(record["loss"])
            progress.steps_per_s = record.get("steps_per_s")
    return progress


def exported_adapter(run_dir: Path) -> Path | None:
    """The run's exported adapter file, or None before the export."""
    tensors, _ = adapter_paths(run_dir / ADAPTER)
    return tensors if tensors.is_file() and is_adapter(tensors) else None


def adapters_for(folder: Path, base_model_id: str) -> list[Path]:
    """Adapter files under ``folder`` trained on ``base_model_id``, newest first."""
    return _made_from(folder, base_model_id, is_adapter, read_sidecar)


def encoders_for(folder: Path, base_model_id: str) -> list[Path]:
    """Pretrained encoder files under ``folder`` made from ``base_model_id``, newest first."""
    return _made_from(folder, base_model_id, is_encoder, read_encoder_sidecar)


def _made_from(folder: Path, base_model_id: str, is_kind, read) -> list[Path]:
    found = []
    for sidecar in folder.rglob("*.json") if folder.is_dir() else []:
        tensors = sidecar.with_suffix(".safetensors")
        if tensors.is_file() and is_kind(tensors) and read(tensors)["base_model_id"] == base_model_id:
            found.append(tensors)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def run_folder(folder: Path, stem: str) -> Path:
    """The run folder for ``stem`` (e.g. the image digest and adapter kind): the latest one when it was stopped
    before its end (training again resumes it), else a new one (``stem``, ``stem-2``, ...)."""
    number = 1
    while True:
        run_dir = folder / (stem if number == 1 else f"{stem}-{number}")
        if not run_dir.exists():
            return run_dir
        if not (run_dir / DONE).exists():
            return run_dir
        number += 1


def prepare_adapter_run(
    base: LoadedModel | None, image: Image | None, labels: np.ndarray | None, *, kind: str, digest: str,
    folder: Path,
) -> tuple[LoadedModel, Path, Path, Path]:
    """Write ``labels`` where a training subprocess reads them; (base model, image file, labels file, run folder)
    for an adapter of ``kind`` trained over ``base``. The run folder under ``folder`` is named by the image's
    ``digest`` and ``kind``, so a run for the same image and kind that was stopped before its end is resumed.
    PromptError (with what to do) when there is nothing to train on."""
    if image is None or base is None:
        raise PromptError("open an image and wait for the model before training an adapter")
    if image.is_lazy:
        raise PromptError("adapters train on images held in memory, not on rasters read by windows")
    if not training_source(image).exists():
        raise PromptError("adapters train from the image's file: open it with gfm-napari (File ▸ Open)")
    if labels is None or not labels.any():
        raise PromptError("label a few slices first (accept some objects): the adapter learns from them")
    run_dir = run_folder(folder, f"{digest[:12]}-{kind}")
    run_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".nii.gz" if image.geometry.affine is not None else ".tif" if image.geometry.transform else ".png"
    labels_path = write_mask(run_dir / f"labels{suffix}", labels, image)
    return base, training_source(image), labels_path, run_dir


def prepare_pretrain_run(
    base: LoadedModel | None, data: Sequence[Path], folder: Path
) -> tuple[LoadedModel, Path, bool]:
    """(base model, run folder, resume) for pretraining ``base``'s encoder on ``data``. The run folder under
    ``folder`` is named by a digest of the base model and the data, so pretraining them again resumes a run that
    was stopped."""
    if base is None:
        raise PromptError("wait for the model to load before pretraining its encoder")
    if not data:
        raise PromptError("nothing to pretrain on: open an image, or add a folder of images to the list")
    names = "\n".join([base.model_id, *sorted(str(Path(p).resolve()) for p in data)])
    run_dir = run_folder(folder, hashlib.sha256(names.encode()).hexdigest()[:12])
    return base, run_dir, (run_dir / CHECKPOINT).exists()


def training_source(image: Image) -> Path:
    """The file or folder a training subprocess reads ``image`` from: a DICOM series opened by one of its files is
    read from its folder."""
    source = image.source
    return source.parent if source.is_file() and image.metadata.n_files > 1 else source
