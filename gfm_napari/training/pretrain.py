"""Continual pretraining of a segmenter's image encoder, GFM style (Mendieta et al., ICCV 2023): a frozen teacher, a
student trained with masked image modelling plus feature distillation, L = w_mim · L_MIM + w_feat · L_feat.

One process, or one per device under ``torchrun`` (:class:`Distributed`: DistributedDataParallel over gloo on CPUs,
nccl on GPUs, any number of nodes). Each process draws its own random crops and masks (its own seeded generators),
so the global batch is ``batch_size × accumulate × processes``. bf16 autocast on GPUs.

Optimisation: AdamW (weight decay 0.05; none on norms, biases, TinyViT's attention biases, positional embeddings
and the mask token), gradients clipped to 5, linear warmup then cosine decay.

The run folder (rank 0 writes it; on many nodes it must be shared):
- ``run.json``: the settings, data sources and number of processes, written before the first step;
- ``log.jsonl``: one record per step: step, loss, l_mim, l_feat, lr, images_per_s, processes;
- ``checkpoint.pt``: student, heads, optimiser, schedule, step and every process's RNG states, written
  atomically every ``checkpoint_every`` steps, at the end and on a stop (SIGTERM, Ctrl+C); ``resume`` continues
  from it exactly (same processes: bit for bit on CPU);
- ``encoder.safetensors`` + ``encoder.json``: the pretrained encoder (:mod:`gfm_napari.models.encoder_files`),
  exported with every checkpoint; ``done`` once the last step is done.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import GfmError
from ..images.atomic import atomic_path, atomic_write_text
from ..jobs import Job, Progress
from ..models import LoadedModel
from ..models.encoder_files import save_encoder
from .loop import warmup_cosine
from .pretrain_data import UnlabelledPlanes
from .pretrain_model import (
    NECK,
    FrozenTeacher,
    MaskedStudent,
    TimmTeacher,
    encoder_stem,
    feature_distance,
    freeze_stages,
    freeze_stem,
    masked_l1,
    random_masks,
)
from .run_files import CHECKPOINT, DONE, ENCODER, LOG, RUN

RESUMABLE_CHANGES = ("steps", "checkpoint_every")  # settings a resumed run may change


@dataclass(frozen=True)
class PretrainConfig:
    steps: int = 500
    batch_size: int = 8  # crops per process and micro-batch
    accumulate: int = 1  # micro-batches per optimiser step
    lr: float = 5e-5
    weight_decay: float = 0.05
    warmup: int = 25
    grad_clip: float = 5.0
    mask_patch: int = 32  # pixels of the model input
    mask_ratio: float = 0.6
    mim_weight: float = 1.0
    feat_weight: float = 1.0
    stage: str = "neck"  # where L_feat compares student and teacher
    frozen_stages: int = 0  # stages after the stem not trained (the CPU-feasible mode; pretrain_model.freeze_stages)
    teacher: str | None = None  # "timm:NAME" (with teacher_weights); None: a frozen copy of the encoder
    teacher_weights: str | None = None
    checkpoint_every: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.accumulate < 1:
            raise GfmError("steps, batch size and accumulation must be at least 1")
        if self.mask_patch < 1:
            raise GfmError(f"the mask patch is a side in pixels (at least 1), got {self.mask_patch}")
        if not 0 < self.mask_ratio < 1:
            raise GfmError(f"the mask ratio must be between 0 and 1, got {self.mask_ratio}")
        if self.frozen_stages < 0:
            raise GfmError(f"the number of frozen stages must be >= 0, got {self.frozen_stages}")
        if self.mim_weight < 0 or self.feat_weight < 0 or self.mim_weight + self.feat_weight == 0:
            raise GfmError("the loss weights must be >= 0 and not both 0")
        if self.teacher is not None and (not self.teacher.startswith("timm:") or not self.teacher_weights):
            raise GfmError("a teacher is given as timm:NAME with --teacher-weights FILE (a local weight file)")


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls, device: torch.device) -> Distributed:
        """Reads torchrun's RANK / WORLD_SIZE / LOCAL_RANK and, for several processes, joins the process group:
        nccl with a GPU each when ``device`` is CUDA, else gloo (CPU processes, also on a machine with GPUs)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        import torch.distributed as dist

        local = int(os.environ.get("LOCAL_RANK", "0"))
        on_gpus = device.type == "cuda"
        if on_gpus:
            torch.cuda.set_device(local)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if on_gpus else "gloo")
        return cls(dist.get_rank(), world, local)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: torch.device) -> torch.device:
        if requested.type == "cuda" and self.world_size > 1:
            return torch.device("cuda", self.local_rank)
        return requested

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        if self.world_size > 1:
            import torch.distributed as dist

            values = values.clone()
            dist.all_reduce(values)
            values /= self.world_size
        return values

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process when ``flag`` is True on any: all stop at the same step."""
        if self.world_size == 1:
            return flag
        import torch.distributed as dist

        value = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def gather(self, obj: object) -> list[object]:
        if self.world_size == 1:
            return [obj]
        import torch.distributed as dist

        out: list[object] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out


class StopRequest:
    """Set by SIGTERM (the dock's Cancel, torchrun passing a stop on) or SIGINT; checked between steps."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}

    def __enter__(self) -> StopRequest:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._set)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _set(self, signum, frame) -> None:
        self.requested = True


def pretrain(
    model: LoadedModel,
    data: UnlabelledPlanes,
    out_dir: Path,
    config: PretrainConfig = PretrainConfig(),
    *,
    resume: bool = False,
    dist: Distributed = Distributed(),
    stop: StopRequest | None = None,
) -> Job[dict]:
    """Pretrain ``model``'s encoder (a ``load_model(..., fast=False)`` model; it is trained in place) on ``data``.

    Yields Progress per step; returns ``{"step", "stopped", "out_dir", "encoder"}``. With ``resume``, continues
    from ``out_dir``'s checkpoint; without it, a folder that holds one is refused (nothing is overwritten).
    """
    check_run_folder(out_dir, resume=resume)
    if config.mask_patch > model.segmenter.input_size:
        raise GfmError(f"the mask patch ({config.mask_patch} px) is larger than the model's input "
                       f"({model.segmenter.input_size} px)")
    checkpoint_path = out_dir / CHECKPOINT
    torch.manual_seed(config.seed)  # the heads and the mask token start the same in every process and run
    device = dist.device(model.device)
    segmenter = model.segmenter.to(device)
    segmenter.requires_grad_(False)
    encoder = segmenter.image_encoder.requires_grad_(True)
    freeze_stem(encoder)
    freeze_stages(encoder, config.frozen_stages, config.stage if config.feat_weight > 0 else NECK)
    teacher = _teacher(config, encoder, model).to(device) if config.feat_weight > 0 else None
    student = MaskedStudent(
        encoder, stride=segmenter.input_size // segmenter.embedding_size[0], stage=config.stage,
        teacher_channels=None if teacher is None else teacher.channels, reconstruct=config.mim_weight > 0,
        frozen_stages=config.frozen_stages,
    ).to(device).train()
    optimizer = torch.optim.AdamW(_parameter_groups(student, config.weight_decay), lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, config.warmup, config.steps)
    )
    rng = np.random.default_rng([config.seed, dist.rank])  # crops: each process its own stream
    torch.manual_seed(config.seed * 1000 + dist.rank)  # masks: likewise
    step = 0
    if resume:
        step = _restore(checkpoint_path, student, optimizer, schedule, rng, dist, config)
    trained = student
    if dist.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(student, device_ids=[device.index] if device.type == "cuda" else None)
    grid = segmenter.input_size // config.mask_patch
    on_gpu = device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if on_gpu else contextlib.nullcontext
    if dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / DONE).unlink(missing_ok=True)
        atomic_write_text(out_dir / RUN, json.dumps({
            "config": asdict(config), "base_model_id": model.model_id, "processes": dist.world_size,
            "data": data.sources, "planes": len(data), "started_at_step": step,
        }, indent=2) + "\n")
    log = (out_dir / LOG).open("a") if dist.is_main else None
    stopped = False
    try:
        while step < config.steps:
            started = time.perf_counter()
            terms = torch.zeros(2, device=device)
            for micro in range(config.accumulate):
                images = data.sample(rng, config.batch_size, model.spec).to(device)
                masks = random_masks(None, config.batch_size, grid, config.mask_ratio).to(device)
                sync = micro == config.accumulate - 1 or dist.world_size == 1
                with (contextlib.nullcontext() if sync else trained.no_sync()), autocast():
                    l_mim, l_feat = _losses(trained, teacher, encoder, images, masks)
                    loss = (config.mim_weight * l_mim + config.feat_weight * l_feat) / config.accumulate
                loss.backward()
                terms += torch.stack([l_mim.detach().float(), l_feat.detach().float()]) / config.accumulate
            torch.nn.utils.clip_grad_norm_(student.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            terms = dist.mean(terms)
            seconds = time.perf_counter() - started
            images_per_s = config.batch_size * config.accumulate * dist.world_size / seconds
            l_mim_value, l_feat_value = (float(v) for v in terms.cpu())
            loss_value = config.mim_weight * l_mim_value + config.feat_weight * l_feat_value
            if log is not None:
                log.write(json.dumps({
                    "step": step, "loss": round(loss_value, 5), "l_mim": round(l_mim_value, 5),
                    "l_feat": round(l_feat_value, 5), "lr": schedule.get_last_lr()[0],
                    "images_per_s": round(images_per_s, 2), "processes": dist.world_size,
                }) + "\n")
                log.flush()
            stopped = dist.any(stop is not None and stop.requested, device)
            if stopped or step % config.checkpoint_every == 0 or step == config.steps:
                _save(out_dir, model, student, optimizer, schedule, rng, step, config, data, dist)
            yield Progress(step, config.steps,
                           f"L_MIM {l_mim_value:.4f} L_feat {l_feat_value:.4f} {images_per_s:.1f} images/s")
            if stopped:
                break
        if dist.is_main and not stopped:
            (out_dir / DONE).touch()
    finally:
        if log is not None:
            log.close()
    encoder_file = out_dir / f"{ENCODER}.safetensors"
    return {"step": step, "stopped": stopped, "out_dir": str(out_dir), "encoder": str(encoder_file)}


def _losses(trained: nn.Module, teacher: nn.Module | None, encoder: nn.Module, images: torch.Tensor,
            masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_MIM, L_feat); a term without its head (weight 0) is 0."""
    with torch.no_grad():
        stem = encoder_stem(encoder, images)
    reconstruction, projected = trained(stem, masks)
    zero = images.new_zeros(())
    l_mim = zero if reconstruction is None else masked_l1(reconstruction, images, masks)
    l_feat = zero if teacher is None else feature_distance(projected, teacher(images, stem))
    return l_mim, l_feat


def check_run_folder(out_dir: Path, *, resume: bool) -> None:
    """GfmError unless ``out_dir`` holds a run exactly when ``resume`` is asked for: nothing is overwritten."""
    has_run = (out_dir / CHECKPOINT).exists()
    if has_run and not resume:
        raise GfmError(f"{out_dir} holds a pretraining run: pass --resume to continue it, or choose another --out")
    if resume and not has_run:
        raise GfmError(f"nothing to resume: {out_dir} holds no {CHECKPOINT}")


def _teacher(config: PretrainConfig, encoder: nn.Module, model: LoadedModel) -> nn.Module:
    if config.teacher is None:
        return FrozenTeacher(encoder, config.stage)
    return TimmTeacher(config.teacher.removeprefix("timm:"), Path(config.teacher_weights), config.stage,
                       model.spec.input_to_unit)


def _parameter_groups(student: MaskedStudent, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and kernels only: not on norms, biases, attention biases, positional
    embeddings or the mask token."""
    decay, no_decay = [], []
    for name, parameter in student.named_parameters():
        if not parameter.requires_grad:
            continue
        exempt = parameter.ndim <= 1 or name == "mask_token" or any(
            key in name for key in ("attention_biases", "pos_embed", "rel_pos"))
        (no_decay if exempt else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _rng_state(rng: np.random.Generator) -> dict:
    state = {"numpy": json.dumps(rng.bit_generator.state), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _save(out_dir: Path, model: LoadedModel, student: MaskedStudent, optimizer, schedule, rng, step: int,
          config: PretrainConfig, data: UnlabelledPlanes, dist: Distributed) -> None:
    """Checkpoint (every process's RNG states gathered to rank 0) and the encoder export, both atomic."""
    rng_states = dist.gather(_rng_state(rng))
    if not dist.is_main:
        return
    checkpoint = {
        "student": {k: v.detach().cpu() for k, v in student.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "step": step,
        "rng": rng_states,
        "config": json.dumps(asdict(config)),
    }
    with atomic_path(out_dir / CHECKPOINT) as tmp:
        torch.save(checkpoint, tmp)
    save_encoder(model, student.encoder.state_dict(), out_dir / ENCODER, pretraining=asdict(config), steps=step,
                 processes=dist.world_size, training_data_digest=data.digest, last=_last_record(out_dir))


def _last_record(out_dir: Path) -> dict:
    try:
        return json.loads((out_dir / LOG).read_text(encoding="utf-8").splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return {}


def _restore(path: Path, student: MaskedStudent, optimizer, schedule, rng: np.random.Generator,
             dist: Distributed, config: PretrainConfig) -> int:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    before, now = json.loads(checkpoint["config"]), asdict(config)
    changed = [k for k in now if k not in RESUMABLE_CHANGES and before.get(k) != now[k]]
    if changed:
        raise GfmError(f"the run in {path.parent} was started with other settings ({', '.join(changed)}): "
                       "resume it with the same ones, or start a new run in another folder")
    student.load_state_dict(checkpoint["student"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    schedule.load_state_dict(checkpoint["schedule"])
    states = checkpoint["rng"]
    if len(states) == dist.world_size:  # the same processes: continue every random stream exactly
        state = states[dist.rank]
        rng.bit_generator.state = json.loads(state["numpy"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda"])
    else:  # another number of processes: fresh streams, seeded by the step so they differ from the first run's
        rng.bit_generator.state = np.random.default_rng([int(checkpoint["step"]), dist.rank]).bit_generator.state
        torch.manual_seed(int(checkpoint["step"]) * 1000 + dist.rank)
    return int(checkpoint["step"])
