"""Process diagnostics of daily series: what the paper says the hybrid learns (docs/evaluation.md).

Pure numpy on daily arrays ``(days, cells)``.

- **Rain pulse** (Birch effect, the paper's Fig. 7): :func:`rain_events` finds the first rains
  that end a dry season; :func:`pulse_ratio` is the mean over events of (mean on days
  ``0..after-1`` from the rain) / (mean over the ``before`` days before it).
- **Light limitation** of GPP: :func:`light_response` correlates day-to-day departures of GPP
  and net radiation from their centred running means, per cell, over chosen days (the wet season).
- **Seasonal peak**: :func:`peak_month` is the calendar month of a series' mean seasonal maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics import pearson_r


@dataclass(frozen=True)
class RainEvents:
    """What counts as the first rains that end a dry season."""

    rain_mm: float = 5.0  # a day with at least this much rain ...
    dry_days: int = 60  # ... after this many days ...
    dry_mm: float = 10.0  # ... that brought less than this in total, above freezing
    before: int = 7  # days before the rain in the baseline of the ratio
    after: int = 4  # days from the rain (day 0) in the numerator of the ratio
    window: int = 14  # days after the rain kept in the event windows (figures, r against a reference)


EVENTS = RainEvents()


def rain_events(prec: np.ndarray, tair: np.ndarray, spec: RainEvents = EVENTS) -> list[tuple[int, int]]:
    """(day, cell) of every first rain that ends a dry season: ``prec >= rain_mm`` after
    ``dry_days`` days with less than ``dry_mm`` in total, air temperature above 273.15 K, at most
    one per cell and dry season, with ``before`` days and ``window`` days after it inside the series."""
    prec = np.asarray(prec, dtype=np.float64)
    csum = np.concatenate([np.zeros((1, prec.shape[1])), np.cumsum(prec, axis=0)])
    first = max(spec.dry_days, spec.before)
    events = []
    for j in range(prec.shape[1]):
        last = -(10**9)
        for d in range(first, prec.shape[0] - spec.window):
            dry = csum[d, j] - csum[d - spec.dry_days, j] < spec.dry_mm
            if prec[d, j] >= spec.rain_mm and dry and tair[d, j] > 273.15 and d - last > spec.dry_days:
                events.append((d, j))
                last = d
    return events


def event_windows(x: np.ndarray, events, spec: RainEvents = EVENTS) -> np.ndarray:
    """``(events, before + 1 + window)``: ``x`` on days ``-before .. +window`` around each event."""
    offsets = np.arange(-spec.before, spec.window + 1)
    if not events:
        return np.zeros((0, len(offsets)))
    x = np.asarray(x, dtype=np.float64)
    return np.stack([x[d + offsets, j] for d, j in events])


def pulse_ratio(x: np.ndarray, events, spec: RainEvents = EVENTS) -> float:
    """Mean over events of ``mean(x[day 0 .. after-1]) / mean(x[day -before .. -1])`` (NaN without
    events; events whose baseline is below 1e-6 are left out)."""
    w = event_windows(x, events, spec)
    if len(w) == 0:
        return float("nan")
    pre = w[:, : spec.before].mean(axis=1)
    post = w[:, spec.before : spec.before + spec.after].mean(axis=1)
    ok = pre > 1e-6
    return float(np.mean(post[ok] / pre[ok])) if ok.any() else float("nan")


def running_mean(x: np.ndarray, days: int) -> np.ndarray:
    """Centred running mean over ``days`` days along axis 0 (shorter windows at the ends)."""
    return pd.DataFrame(np.asarray(x, dtype=np.float64)).rolling(days, center=True, min_periods=1).mean().to_numpy()


def light_response(gpp: np.ndarray, rn: np.ndarray, days: np.ndarray, window: int = 15) -> dict[str, float]:
    """How daily GPP follows daily light: per cell, the correlation and the regression slope
    (gC m-2 d-1 per W m-2) of the departures of GPP and net radiation from their centred
    ``window``-day running means, over the days where ``days`` is True; medians over cells.
    Returns ``{"r": ..., "slope": ..., "cells": n}``."""
    ga = np.asarray(gpp, dtype=np.float64) - running_mean(gpp, window)
    ra = np.asarray(rn, dtype=np.float64) - running_mean(rn, window)
    ga, ra = ga[days], ra[days]
    r = pearson_r(ga, ra, axis=0)
    var = ra.var(axis=0)
    cov = ((ga - ga.mean(axis=0)) * (ra - ra.mean(axis=0))).mean(axis=0)
    slope = np.where(var > 0, cov / np.where(var > 0, var, 1.0), np.nan)
    ok = np.isfinite(r)
    if not ok.any():
        return {"r": float("nan"), "slope": float("nan"), "cells": 0}
    return {"r": float(np.median(r[ok])), "slope": float(np.median(slope[ok])), "cells": int(ok.sum())}


def peak_month(monthly: np.ndarray, months) -> int:
    """Calendar month (1..12) of the maximum of the mean seasonal cycle of a monthly series
    (time on axis 0; other axes are averaged first)."""
    x = np.asarray(monthly, dtype=np.float64)
    x = x.reshape(x.shape[0], -1)
    series = np.nanmean(x, axis=1)
    moy = pd.DatetimeIndex(months).month.to_numpy()
    msc = np.array([np.nanmean(series[moy == m]) if (moy == m).any() else np.nan for m in range(1, 13)])
    return int(np.nanargmax(msc)) + 1
