"""The files of a fold's directory (``RUN/fold_K``): their names, the rows of ``log.csv`` and the
summary in ``result.json`` (docs/training.md), built from a fold's :class:`TrainerState`.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..layout import BEST, LAST, LOG, RESULT  # noqa: F401  (re-exported: file names live in h2cm.layout)
from .foldstate import TrainerState


@dataclass
class FoldResult:
    """Summary of a trained fold (also written to ``fold_K/result.json``)."""

    fold: int
    best_epoch: int
    best_val_loss: float
    epochs: int
    stop_reason: str
    skipped_batches: int
    seconds: float
    seconds_per_epoch: float
    n_train: int
    n_val: int
    terms: list[str]
    val_start: dict[str, float]
    val_best: dict[str, float]
    train_first: dict[str, float]
    train_last: dict[str, float]
    checkpoint: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def log_row(
    epoch: int, lr: float, seconds: float, skipped: int, terms: list[str], train: dict, val: dict
) -> dict[str, Any]:
    """One row of ``log.csv``: epoch, learning rate, seconds, skipped batches, then every training
    and every validation term (NaN where the epoch has none)."""
    row: dict[str, Any] = {"epoch": epoch, "lr": lr, "seconds": round(seconds, 3), "skipped": skipped}
    for k in ("total", *terms):
        row[f"train_{k}"] = train.get(k, math.nan)
    for k in ("total", *terms):
        row[f"val_{k}"] = val.get(k, math.nan)
    return row


def log_csv(history: list[dict[str, Any]]) -> str:
    """The text of ``log.csv``: one row per entry of ``history`` (NaN written as an empty field)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return buf.getvalue()


def fold_result(
    fold: int, st: TrainerState, n_train: int, n_val: int, terms: list[str], checkpoint: Path
) -> FoldResult:
    """The summary of a fold from its trainer state (the history of ``log.csv`` rows)."""
    hist = st.history
    trained = [r for r in hist if r["epoch"] > 0]

    def terms_of(row: dict | None, prefix: str) -> dict[str, float]:
        if row is None:
            return {}
        return {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}

    best = next((r for r in trained if r["epoch"] == st.best_epoch), None)
    return FoldResult(
        fold=fold,
        best_epoch=st.best_epoch,
        best_val_loss=st.best_val,
        epochs=st.epoch,
        stop_reason=st.stop_reason,
        skipped_batches=st.skipped_total,
        seconds=round(st.seconds_total, 2),
        seconds_per_epoch=round(float(np.mean([r["seconds"] for r in trained])), 3) if trained else math.nan,
        n_train=n_train,
        n_val=n_val,
        terms=list(terms),
        val_start=terms_of(hist[0] if hist else None, "val_"),
        val_best=terms_of(best, "val_"),
        train_first=terms_of(trained[0] if trained else None, "train_"),
        train_last=terms_of(trained[-1] if trained else None, "train_"),
        checkpoint=str(checkpoint),
    )


def short_name(term: str) -> str:
    """A loss term's name in the progress bar."""
    return {"total": "tot", "nee_anomaly": "neeA", "prior_q10": "pQ10", "prior_beta_co2": "pCO2"}.get(term, term)


def tensorboard(log_dir: Path):
    """A TensorBoard writer if ``tensorboard`` is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(log_dir / "tensorboard"))
