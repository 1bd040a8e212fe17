"""Shared pieces of the studies: simulate any model kind, monthly means, skill scores, tables."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..aggregate import monthly_mean
from ..data.cells import CellData
from ..evaluation.metrics import bias, pearson_r, rmse
from ..schema import OUTPUT_KEYS

# How the pure LSTM's respiration fluxes follow from what it predicts (nee = ter - gpp, npp = gpp - ra).
LSTM_DERIVED: dict[str, str] = {"ter": "gpp + nee", "ra": "gpp - npp", "rh": "nee + npp"}


@torch.no_grad()
def simulate(model: nn.Module, data: CellData, keys: Sequence[str] = OUTPUT_KEYS) -> dict[str, np.ndarray]:
    """Daily outputs ``(T, N)`` of one model over ``data`` (with spin-up over the same period).

    Keys the model does not produce are absent, except the respiration fluxes of the pure LSTM,
    which are derived from its predictions (:data:`LSTM_DERIVED`)."""
    model.eval()
    sim = model(data.forcing, data.static, spinup=True, outputs=list(keys), chunk_days=None)
    out = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in sim.outputs.items()}
    if all(k in out for k in ("gpp", "nee", "npp")) and "ter" not in out:
        out["ter"] = out["gpp"] + out["nee"]
        out["ra"] = out["gpp"] - out["npp"]
        out["rh"] = out["nee"] + out["npp"]
    return out


def ensemble_mean(runs: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Mean over folds of daily outputs (keys every fold has)."""
    keys = set(runs[0]).intersection(*runs[1:]) if len(runs) > 1 else set(runs[0])
    return {k: np.mean([r[k] for r in runs], axis=0) for k in sorted(keys)}


def to_monthly(daily: np.ndarray, data: CellData) -> np.ndarray:
    """Calendar-month means ``(M, N)`` of daily values ``(T, N)`` on ``data``'s months."""
    t = torch.as_tensor(daily, dtype=torch.float64)
    return monthly_mean(t, data.day_month, len(data.months)).numpy()


def minus_cell_mean(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each cell's mean over its valid months removed (TWS is observed as anomalies)."""
    xm = np.where(valid, x, np.nan)
    return xm - np.nanmean(xm, axis=0, keepdims=True)


def skill(sim: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Pooled Pearson r, RMSE and bias over every valid (time, cell) pair, and the median over
    cells of the temporal r of each cell (``r_cell``)."""
    s, o = np.asarray(sim, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(o)
    if ok.sum() < 3:
        return {"r": math.nan, "r_cell": math.nan, "rmse": math.nan, "bias": math.nan, "n": int(ok.sum())}
    sf, of = s[ok], o[ok]
    res = {
        "r": float(pearson_r(sf, of)),
        "rmse": float(rmse(sf, of)),
        "bias": float(bias(sf, of)),
        "n": int(ok.sum()),
    }
    if s.ndim == 2 and s.shape[1] > 1:
        per_cell = [float(pearson_r(s[ok[:, j], j], o[ok[:, j], j])) for j in range(s.shape[1]) if ok[:, j].sum() >= 3]
        res["r_cell"] = float(np.nanmedian(per_cell)) if per_cell else math.nan
    else:
        res["r_cell"] = res["r"]
    return res


def fmt(x: object, digits: int = 3) -> str:
    """A table cell: numbers to ``digits`` significant digits, NaN as a dash."""
    if isinstance(x, float):
        if not math.isfinite(x):
            return "-"
        return f"{x:.{digits}g}"
    return str(x)


def markdown_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (dicts) with ``columns``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def write_csv(path: Path, rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> Path:
    """Write ``rows`` as CSV with ``columns`` (missing values empty)."""
    path = Path(path)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({c: row.get(c, "") for c in columns})
    return path
