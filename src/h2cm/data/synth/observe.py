"""Observation operators: turn the daily truth into monthly constraints like the real products.

Periods, masks and noise levels are listed in docs/data.md ("Observations") and in
:data:`NOISE`; all noise is drawn from the generator passed in (reproducible per block).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...aggregate import month_index

# (additive sd, multiplicative sd) per constraint, in the constraint's units
NOISE: dict[str, tuple[float, float]] = {
    "tws": (15.0, 0.0),  # mm
    "swe": (2.0, 0.15),  # mm, lognormal factor
    "et": (0.15, 0.08),  # mm d-1
    "runoff": (0.02, 0.20),  # mm d-1, lognormal factor
    "fapar": (0.03, 0.0),
    "gpp": (0.2, 0.08),  # gC m-2 d-1
    "nee": (0.4, 0.0),  # gC m-2 d-1 (OCO-2 inversions at 1 degree are noisy)
    "nee_anomaly": (0.15, 0.0),
    "cue": (0.03, 0.0),
}
CUE_BIAS = 0.04  # TRENDY-like models overestimate CUE
GRACE_PERIOD = ("2002-04-01", "2017-06-01")
SWE_END = "2018-12-01"
SWE_MAX_ELEVATION_STD = 500.0  # m: GlobSnow masks mountains
SWE_MAX = 1000.0  # mm: deeper (perennial) snow is glacier-like; GlobSnow masks it
OCO2_PERIOD = ("2015-01-01", "2019-12-01")


def observed_keys(months: pd.DatetimeIndex, lat: np.ndarray, elevation_std: np.ndarray) -> tuple[str, ...]:
    """Monthly constraints that have data somewhere in a world of these months and cells (the
    others are left out of the cube, e.g. OCO-2 NEE before 2015)."""
    keys = []
    for key in ("tws", "swe", "et", "runoff", "fapar", "gpp", "nee", "nee_anomaly"):
        if key == "tws" and not _in(months, *GRACE_PERIOD).any():
            continue
        if key == "swe" and not (
            _in(months, str(months.min()), SWE_END).any()
            and ((lat > 0) & (elevation_std < SWE_MAX_ELEVATION_STD)).any()
        ):
            continue
        if key == "nee" and not _in(months, *OCO2_PERIOD).any():
            continue
        keys.append(key)
    return tuple(keys)


def monthly_means(daily: np.ndarray, time: pd.DatetimeIndex, months: pd.DatetimeIndex) -> np.ndarray:
    """(days, cells) -> (months, cells); months without days are NaN. ``time`` must be sorted."""
    idx = month_index(time, months)
    out = np.full((len(months), daily.shape[1]), np.nan, dtype=np.float64)
    valid = idx >= 0
    if not valid.any():
        return out.astype(np.float32)
    ids = idx[valid]
    starts = np.r_[0, np.nonzero(np.diff(ids))[0] + 1]
    sums = np.add.reduceat(daily[valid].astype(np.float64), starts, axis=0)
    counts = np.diff(np.r_[starts, len(ids)])
    out[ids[starts]] = sums / counts[:, None]
    return out.astype(np.float32)


def grace_missing_months(months: pd.DatetimeIndex, seed: int) -> np.ndarray:
    """Boolean (months,): GRACE-like gaps, the same for every cell (about 3% of months before
    2011, 15% from 2011 when battery management began)."""
    rng = np.random.default_rng([seed, 2])
    u = rng.random(len(months))
    return np.where(months.year < 2011, u < 0.03, u < 0.15)


def _in(months: pd.DatetimeIndex, start: str, end: str) -> np.ndarray:
    return np.asarray((months >= pd.Timestamp(start)) & (months <= pd.Timestamp(end)))


def seasonal_anomaly(x: np.ndarray, months: pd.DatetimeIndex, valid: np.ndarray) -> np.ndarray:
    """Monthly values minus their mean seasonal cycle over the months where ``valid``."""
    out = np.full_like(x, np.nan)
    for m in range(1, 13):
        sel = np.asarray(months.month == m)
        base = sel & valid
        if base.any():
            out[sel] = x[sel] - np.nanmean(x[base], axis=0, keepdims=True)
    return out


def observe(
    truth: dict[str, np.ndarray],
    time: pd.DatetimeIndex,
    months: pd.DatetimeIndex,
    lat: np.ndarray,
    elevation_std: np.ndarray,
    grace_missing: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Monthly constraints (months, cells) and the static ``cue`` (cells,), float32, NaN = missing."""
    mon = {k: monthly_means(truth[k], time, months).astype(np.float64) for k in ("tws", "swe", "et", "runoff")}
    mon.update({k: monthly_means(truth[k], time, months).astype(np.float64) for k in ("fapar", "gpp", "nee")})
    shape = mon["et"].shape

    def add(key: str) -> np.ndarray:
        return NOISE[key][0] * rng.standard_normal(shape)

    def mult(key: str) -> np.ndarray:
        return 1.0 + NOISE[key][1] * rng.standard_normal(shape)

    out: dict[str, np.ndarray] = {}
    grace = _in(months, *GRACE_PERIOD) & ~grace_missing
    tws = mon["tws"] + add("tws")
    tws[~grace] = np.nan
    out["tws"] = tws - np.nanmean(np.where(grace[:, None], tws, np.nan), axis=0, keepdims=True) if grace.any() else tws

    swe_ok = (
        _in(months, str(months.min()), SWE_END)[:, None] & ((lat > 0) & (elevation_std < SWE_MAX_ELEVATION_STD))[None]
    )
    lognormal = np.exp(NOISE["swe"][1] * rng.standard_normal(shape))
    swe = np.where(mon["swe"] > 0, np.clip(mon["swe"] * lognormal + add("swe"), 0.0, None), 0.0)
    out["swe"] = np.where(swe_ok & (mon["swe"] <= SWE_MAX), swe, np.nan)

    out["et"] = mon["et"] * mult("et") + add("et")
    out["runoff"] = np.clip(
        mon["runoff"] * np.exp(NOISE["runoff"][1] * rng.standard_normal(shape)) + add("runoff"), 0, None
    )
    out["fapar"] = np.clip(mon["fapar"] + add("fapar"), 0.0, 1.0)
    out["gpp"] = np.clip(mon["gpp"] * mult("gpp") + add("gpp"), 0.0, None)

    oco2 = _in(months, *OCO2_PERIOD)
    nee = mon["nee"] + add("nee")
    nee[~oco2] = np.nan
    out["nee"] = nee
    everything = np.ones(len(months), dtype=bool)
    out["nee_anomaly"] = seasonal_anomaly(mon["nee"], months, everything) + add("nee_anomaly")

    gpp_sum = truth["gpp"].astype(np.float64).mean(axis=0)
    npp_sum = truth["npp"].astype(np.float64).mean(axis=0)
    cue = np.where(gpp_sum >= 0.1, npp_sum / np.maximum(gpp_sum, 1e-9), 0.5)
    out["cue"] = np.clip(cue + CUE_BIAS + NOISE["cue"][0] * rng.standard_normal(cue.shape), 0.05, 0.95)
    return {k: v.astype(np.float32) for k, v in out.items()}
