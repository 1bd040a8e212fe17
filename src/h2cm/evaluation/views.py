"""Views of a monthly series (docs/evaluation.md) and the per-constraint treatment before them.

Every array has time (months) on axis 0; other axes (cells, folds) broadcast. Views:

- ``monthly``: the monthly values themselves;
- ``msc``: mean seasonal cycle, ``MSC(m) = mean over years of calendar month m`` (12 values);
- ``anomaly``: monthly anomalies, ``A(m, y) = value(m, y) - MSC(m)``.

Model and observations are compared on the same months only (:func:`joint_mask` first), so a
seasonal cycle is never averaged over different years for the model than for the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..constraints import CONSTRAINTS

VIEWS: tuple[str, ...] = ("monthly", "msc", "anomaly")
VIEW_LABELS: dict[str, str] = {
    "monthly": "monthly values",
    "msc": "mean seasonal cycle",
    "anomaly": "monthly anomalies",
}


def month_of_year(months) -> np.ndarray:
    """Calendar month 0..11 of each entry of a datetime-like index."""
    return pd.DatetimeIndex(months).month.to_numpy() - 1


def joint_mask(sim, obs) -> tuple[np.ndarray, np.ndarray]:
    """Both series set to NaN wherever either is missing (same shapes, broadcast)."""
    sim = np.asarray(sim, dtype=np.float64)
    obs = np.asarray(obs, dtype=np.float64)
    sim, obs = np.broadcast_arrays(sim, obs)
    valid = np.isfinite(sim) & np.isfinite(obs)
    return np.where(valid, sim, np.nan), np.where(valid, obs, np.nan)


def _nanmean0(x: np.ndarray) -> np.ndarray:
    valid = np.isfinite(x)
    n = valid.sum(axis=0)
    s = np.where(valid, x, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def msc(x, months) -> np.ndarray:
    """Mean seasonal cycle: (months, ...) -> (12, ...), NaN for a calendar month without data."""
    x = np.asarray(x, dtype=np.float64)
    moy = month_of_year(months)
    if len(moy) != x.shape[0]:
        raise ValueError(f"series has {x.shape[0]} months but {len(moy)} month labels were given")
    return np.stack([_nanmean0(x[moy == m]) for m in range(12)])


def anomalies(x, months) -> np.ndarray:
    """Monthly anomalies ``x - MSC(month)`` (same shape as ``x``)."""
    x = np.asarray(x, dtype=np.float64)
    return x - msc(x, months)[month_of_year(months)]


def view(x, months, name: str) -> np.ndarray:
    """One of :data:`VIEWS` of ``x``."""
    if name == "monthly":
        return np.asarray(x, dtype=np.float64)
    if name == "msc":
        return msc(x, months)
    if name == "anomaly":
        return anomalies(x, months)
    raise ValueError(f"unknown view {name!r}; known: {', '.join(VIEWS)}")


def prepare(key: str, sim, obs, months=None) -> tuple[np.ndarray, np.ndarray]:
    """Masked (model, data) pair of one constraint, treated as the loss treats it (the
    constraint's ``treatment`` in :mod:`h2cm.constraints`; docs/evaluation.md).

    ``cell_anomaly`` (TWS): each cell's mean over the shared months is removed from model and data
    (GRACE gives anomalies). ``model_anomaly`` (NEE anomalies): the model's monthly values minus
    their own mean seasonal cycle over the months with data, against the data as given. ``none``,
    or a key that is not a constraint (a truth comparison): the masked values.
    """
    s, o = joint_mask(sim, obs)
    c = CONSTRAINTS.get(key)
    treatment = c.treatment if c is not None else "none"
    if treatment == "cell_anomaly":
        s = s - _nanmean0(s)
        o = o - _nanmean0(o)
    elif treatment == "model_anomaly":
        if months is None:
            raise ValueError(f"{key} needs the month labels")
        s = anomalies(s, months)
    return s, o


def monthly_means(daily, time) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Calendar-month means of a daily array (time on axis 0); returns (month starts, means)."""
    daily = np.asarray(daily)
    t = pd.DatetimeIndex(time)
    if len(t) != daily.shape[0]:
        raise ValueError(f"{daily.shape[0]} days of data but {len(t)} time labels")
    key = t.year.to_numpy() * 12 + t.month.to_numpy() - 1
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    if np.any(np.diff(key[starts]) <= 0):
        raise ValueError("time must be sorted and each month contiguous")
    counts = np.diff(np.r_[starts, len(key)])
    sums = np.add.reduceat(daily.astype(np.float64), starts, axis=0)
    shape = (-1,) + (1,) * (daily.ndim - 1)
    months = pd.DatetimeIndex(t[starts].to_period("M").to_timestamp())
    return months, (sums / counts.reshape(shape)).astype(np.float32)
