"""What a fold's ``last.pt`` restores besides the weights: the trainer's progress
(:class:`TrainerState`), the random number generators, and the learning-rate schedule.

Resume semantics: docs/training.md and :mod:`h2cm.training.trainer`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .config import RunConfig


@dataclass
class TrainerState:
    """Everything about a fold's progress that ``last.pt`` must restore."""

    epoch: int = 0  # completed epochs
    step: int = 0  # batches done in the current epoch
    order_state: torch.Tensor | None = None  # data-order generator state at the current epoch's start
    sums: dict[str, float] = field(default_factory=dict)  # running sums of train terms this epoch
    count: int = 0  # batches summed this epoch
    skipped: int = 0  # non-finite batches skipped this epoch
    skipped_total: int = 0
    epoch_seconds: float = 0.0  # time spent in the current epoch so far
    steps: int = 0  # optimiser steps taken since the start (learning-rate warm-up)
    best_val: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False
    stop_reason: str = ""
    seconds_total: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global state is what other code uses
    torch.manual_seed(seed)


def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])  # noqa: NPY002
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def make_scheduler(opt: torch.optim.Optimizer, cfg: RunConfig):
    """The epoch-wise learning-rate schedule of ``scheduler.name`` (``step`` or ``cosine``)."""
    sc = cfg.scheduler
    if sc.name == "cosine":
        eta_min = cfg.optimizer.lr * sc.min_lr_factor
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.train.epochs, eta_min=eta_min)
    return torch.optim.lr_scheduler.StepLR(opt, sc.step_size, sc.gamma)
