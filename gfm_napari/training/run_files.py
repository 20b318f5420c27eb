"""The names of the files in a training run folder, in one torch-free place for the trainers and for whoever
watches a run (the dock, a script).

A run folder holds ``log.jsonl`` (one record per step, one per validation), ``data.json`` (the data and settings,
written before the first step), ``checkpoint.pt`` (resume), ``best.safetensors`` (adapter and clicks runs),
``run.json`` (pretraining settings), ``done`` (the run reached its end: training again starts a new one) and,
once exported, ``<name>.safetensors`` + ``<name>.json``.
"""

from __future__ import annotations

LOG = "log.jsonl"
DATA = "data.json"
CHECKPOINT = "checkpoint.pt"
BEST = "best.safetensors"
RUN = "run.json"
DONE = "done"
ENCODER = "encoder"  # a pretraining run's encoder: <run>/encoder.safetensors + encoder.json
ADAPTER = "adapter"  # an adapter run's export from the dock: <run>/adapter.safetensors + adapter.json

# Where runs started from the dock go, under its recovery folder: one run folder each.
ADAPTER_RUNS = "adapters"
PRETRAIN_RUNS = "pretrain"
