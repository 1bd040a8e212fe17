"""Atomic checkpoints and files: write to a temporary file in the same folder, then rename.

A checkpoint is a dict saved with :func:`torch.save`. Every checkpoint holds ``kind`` (model
kind, a name of :data:`h2cm.kinds.KINDS`), ``model_kwargs`` (constructor arguments,
:meth:`~h2cm.modelkind.ModelKind.init_kwargs`), ``model_state`` (weights and normalisation
buffers), ``loss_stats`` and the resolved ``config``; ``last.pt`` also holds the optimiser,
scheduler, trainer state and RNG states needed by ``--resume``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .. import atomic
from ..kinds import build_model
from ..modelkind import ModelKind

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """``torch.save`` to a temporary file beside ``path``, fsync, rename over ``path``."""
    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint dict (trusted files only: RNG states need ``weights_only=False``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not an h2cm checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def model_payload(model: ModelKind) -> dict[str, Any]:
    """What every checkpoint holds about the model itself: its kind, constructor arguments and
    state (weights and normalisation buffers)."""
    return {"kind": model.kind, "model_kwargs": model.init_kwargs(), "model_state": model.state_dict()}


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> ModelKind:
    """The model of a checkpoint (``best.pt`` or ``last.pt``), of the kind it stores, in eval
    mode, with its weights and the training cells' normalisation buffers."""
    ckpt = load_checkpoint(path, map_location)
    model = build_model(ckpt["kind"], **ckpt["model_kwargs"])
    model.load_state_dict(ckpt["model_state"])
    return model.eval()
