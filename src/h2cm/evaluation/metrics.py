"""Skill metrics (docs/evaluation.md): RMSE, Pearson r, standard-deviation ratio, bias.

Pure numpy. Every function compares ``sim`` with ``obs`` along ``axis`` using only the positions
where both are finite (pairwise deletion), so missing observations are simply skipped. A metric
that cannot be computed (no valid pair; fewer than two pairs or a constant series for r and SDR)
is NaN. Standard deviations are population ones (``ddof=0``), consistently for model and data.
"""

from __future__ import annotations

import numpy as np

METRICS: tuple[str, ...] = ("rmse", "r", "sdr", "bias")
METRIC_LABELS: dict[str, str] = {
    "rmse": "RMSE",
    "r": "Pearson r",
    "sdr": "SDR = sd(model) / sd(obs)",
    "bias": "bias = mean(model - obs)",
}


def _pairs(sim, obs, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sim, obs) with non-shared positions set to 0, the validity mask and the pair count."""
    sim = np.asarray(sim, dtype=np.float64)
    obs = np.asarray(obs, dtype=np.float64)
    sim, obs = np.broadcast_arrays(sim, obs)
    valid = np.isfinite(sim) & np.isfinite(obs)
    n = valid.sum(axis=axis)
    return np.where(valid, sim, 0.0), np.where(valid, obs, 0.0), valid, n


def _safe_div(num, den):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def bias(sim, obs, axis: int = -1) -> np.ndarray:
    """Mean of ``sim - obs`` over valid pairs."""
    s, o, _, n = _pairs(sim, obs, axis)
    return _safe_div((s - o).sum(axis=axis), n)


def rmse(sim, obs, axis: int = -1) -> np.ndarray:
    """Root mean squared difference over valid pairs."""
    s, o, _, n = _pairs(sim, obs, axis)
    return np.sqrt(_safe_div(((s - o) ** 2).sum(axis=axis), n))


def _moments(sim, obs, axis: int):
    s, o, valid, n = _pairs(sim, obs, axis)
    ms = _safe_div(s.sum(axis=axis), n)
    mo = _safe_div(o.sum(axis=axis), n)
    ds = np.where(valid, s - np.expand_dims(ms, axis), 0.0)
    do = np.where(valid, o - np.expand_dims(mo, axis), 0.0)
    vs = _safe_div((ds**2).sum(axis=axis), n)
    vo = _safe_div((do**2).sum(axis=axis), n)
    cov = _safe_div((ds * do).sum(axis=axis), n)
    return vs, vo, cov, n


def pearson_r(sim, obs, axis: int = -1) -> np.ndarray:
    """Pearson correlation over valid pairs (NaN with fewer than 2 pairs or a constant series)."""
    vs, vo, cov, n = _moments(sim, obs, axis)
    den = np.sqrt(vs * vo)
    r = _safe_div(cov, np.where(np.isfinite(den) & (den > 1e-300), den, 0.0))
    return np.where(n >= 2, np.clip(r, -1.0, 1.0), np.nan)


def sdr(sim, obs, axis: int = -1) -> np.ndarray:
    """Standard-deviation ratio ``sd(sim) / sd(obs)`` over valid pairs (1 = right variability)."""
    vs, vo, _, n = _moments(sim, obs, axis)
    return np.where(n >= 2, _safe_div(np.sqrt(vs), np.sqrt(np.where(vo > 1e-300, vo, 0.0))), np.nan)


def all_metrics(sim, obs, axis: int = -1) -> dict[str, np.ndarray]:
    """Every metric of :data:`METRICS`, same shapes (the input shape without ``axis``)."""
    return {
        "rmse": rmse(sim, obs, axis),
        "r": pearson_r(sim, obs, axis),
        "sdr": sdr(sim, obs, axis),
        "bias": bias(sim, obs, axis),
    }


def area_weighted_mean(x, area, axis: int = -1) -> np.ndarray:
    """Mean of ``x`` over ``axis`` (cells) weighted by ``area``, ignoring NaN; NaN where no value."""
    x = np.asarray(x, dtype=np.float64)
    shape = [1] * x.ndim
    shape[axis] = -1
    w = np.asarray(area, dtype=np.float64).reshape(shape)
    valid = np.isfinite(x)
    num = np.where(valid, x * w, 0.0).sum(axis=axis)
    den = np.where(valid, w, 0.0).sum(axis=axis)
    return _safe_div(num, den)


def r_squared(sim, obs, axis: int = -1) -> np.ndarray:
    """Coefficient of determination ``1 - SSE / SST`` (the r/R2 tables of Fig. 6)."""
    s, o, valid, n = _pairs(sim, obs, axis)
    mo = _safe_div(o.sum(axis=axis), n)
    sst = np.where(valid, o - np.expand_dims(mo, axis), 0.0)
    sst = (sst**2).sum(axis=axis)
    sse = ((s - o) ** 2).sum(axis=axis)
    return np.where(n >= 2, 1.0 - _safe_div(sse, sst), np.nan)
