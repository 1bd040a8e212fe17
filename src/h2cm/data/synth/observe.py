"""Observation operators: turn the daily truth into monthly constraints like the real products.

Periods, masks and noise levels are listed in docs/data.md ("Observations") and in
:data:`NOISE` and :data:`INVERSIONS`; all noise is drawn from the generators passed in
(reproducible per block, and per world for the two NEE inversions).

Most products are made cell by cell (:func:`observe`, one block of cells at a time). The two NEE
products are atmospheric inversions: they see the truth through a spatial filter, and their
errors are spatially correlated, so they are made once for the whole grid of the world
(:func:`inversion`) after every block's truth is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from ...aggregate import month_index

# (additive sd, multiplicative sd) per cell-made constraint, in the constraint's units
NOISE: dict[str, tuple[float, float]] = {
    "tws": (15.0, 0.0),  # mm
    "swe": (2.0, 0.15),  # mm, lognormal factor
    "et": (0.15, 0.08),  # mm d-1
    "runoff": (0.02, 0.20),  # mm d-1, lognormal factor
    "fapar": (0.03, 0.0),
    "gpp": (0.2, 0.08),  # gC m-2 d-1
    "cue": (0.03, 0.0),
}
CUE_BIAS = 0.04  # TRENDY-like models overestimate CUE
# GRACE (to June 2017), a gap of eleven months, then GRACE-FO (from June 2018)
GRACE_PERIODS: tuple[tuple[str, str], ...] = (("2002-04-01", "2017-06-01"), ("2018-06-01", "2019-12-01"))
SWE_END = "2018-12-01"
SWE_MAX_ELEVATION_STD = 500.0  # m: GlobSnow masks mountains
SWE_MAX = 1000.0  # mm: deeper (perennial) snow is glacier-like; GlobSnow masks it
KM_PER_DEGREE = 111.2


@dataclass(frozen=True)
class Inversion:
    """An atmospheric-inversion NEE product: the truth's monthly NEE seen through a Gaussian
    spatial filter (``smoothing_km``), plus spatially correlated errors (white noise filtered
    with ``error_km`` and scaled to ``error_sd``) and independent errors (``white_sd``), in
    gC m-2 d-1, over ``period`` (first and last month)."""

    key: str
    like: str
    period: tuple[str, str]
    smoothing_km: float
    error_sd: float
    error_km: float
    white_sd: float
    anomalies: bool  # the product gives anomalies (its own mean seasonal cycle removed)


INVERSIONS: dict[str, Inversion] = {
    "nee": Inversion("nee", "OCO-2 v10 MIP", ("2015-01-01", "2019-12-01"), 150.0, 0.25, 500.0, 0.1, False),
    "nee_anomaly": Inversion(
        "nee_anomaly", "Jena CarboScope", ("2001-01-01", "2019-12-01"), 500.0, 0.1, 1000.0, 0.03, True
    ),
}
OCO2_PERIOD = INVERSIONS["nee"].period
CELL_KEYS: tuple[str, ...] = ("tws", "swe", "et", "runoff", "fapar", "gpp")


def observed_keys(months: pd.DatetimeIndex, lat: np.ndarray, elevation_std: np.ndarray) -> tuple[str, ...]:
    """Monthly constraints that have data somewhere in a world of these months and cells (the
    others are left out of the cube, e.g. OCO-2 NEE before 2015)."""
    keys = []
    for key in (*CELL_KEYS, *INVERSIONS):
        if key == "tws" and not grace_months(months).any():
            continue
        if key == "swe" and not (
            _in(months, str(months.min()), SWE_END).any()
            and ((lat > 0) & (elevation_std < SWE_MAX_ELEVATION_STD)).any()
        ):
            continue
        if key in INVERSIONS and not _in(months, *INVERSIONS[key].period).any():
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


def grace_months(months: pd.DatetimeIndex) -> np.ndarray:
    """Boolean (months,): inside the GRACE or GRACE-FO period."""
    return np.logical_or.reduce([_in(months, *p) for p in GRACE_PERIODS])


def grace_missing_months(months: pd.DatetimeIndex, seed: int) -> np.ndarray:
    """Boolean (months,): GRACE-like gaps, the same for every cell (about 3% of months before
    2011, 15% from 2011 to the end of GRACE when battery management began, 3% for GRACE-FO)."""
    rng = np.random.default_rng([seed, 2])
    u = rng.random(len(months))
    late_grace = (months.year >= 2011) & (months < pd.Timestamp(GRACE_PERIODS[1][0]))
    return np.where(late_grace, u < 0.15, u < 0.03)


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
    """The cell-made monthly constraints (months, cells) and the static ``cue`` (cells,), float32,
    NaN = missing (the NEE inversions are made by :func:`inversion` for the whole grid)."""
    mon = {k: monthly_means(truth[k], time, months).astype(np.float64) for k in CELL_KEYS}
    shape = mon["et"].shape

    def add(key: str) -> np.ndarray:
        return NOISE[key][0] * rng.standard_normal(shape)

    def mult(key: str) -> np.ndarray:
        return 1.0 + NOISE[key][1] * rng.standard_normal(shape)

    out: dict[str, np.ndarray] = {}
    grace = grace_months(months) & ~grace_missing
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

    gpp_sum = truth["gpp"].astype(np.float64).mean(axis=0)
    npp_sum = truth["npp"].astype(np.float64).mean(axis=0)
    cue = np.where(gpp_sum >= 0.1, npp_sum / np.maximum(gpp_sum, 1e-9), 0.5)
    out["cue"] = np.clip(cue + CUE_BIAS + NOISE["cue"][0] * rng.standard_normal(cue.shape), 0.05, 0.95)
    return {k: v.astype(np.float32) for k, v in out.items()}


# --- the two NEE inversions (whole grid) ----------------------------------------------------------


def smooth_on_land(x: np.ndarray, mask: np.ndarray, lat: np.ndarray, sigma_km: float, wrap: bool) -> np.ndarray:
    """Gaussian filter of ``x`` (..., lat, lon) over the land cells ``mask`` (lat, lon) only:
    ``G * (x m) / G * m`` (a normalised convolution, so ocean and cells outside the world neither
    dilute nor leak into the result), with a standard deviation of ``sigma_km`` in both
    directions (in longitude ``sigma_km / (111.2 cos(lat))`` degrees on each row; 1-degree grid).
    ``wrap``: longitude is periodic (a global grid). NaN outside the mask."""
    num = np.where(mask, np.nan_to_num(np.asarray(x, dtype=np.float64)), 0.0)
    den = mask.astype(np.float64)  # the same filter on the mask alone (2-D: it has no time axis)
    num = gaussian_filter1d(num, sigma_km / KM_PER_DEGREE, axis=-2, mode="constant", truncate=3.0)
    den = gaussian_filter1d(den, sigma_km / KM_PER_DEGREE, axis=-2, mode="constant", truncate=3.0)
    mode = "wrap" if wrap else "constant"
    for i, la in enumerate(lat):
        s = sigma_km / (KM_PER_DEGREE * max(np.cos(np.radians(la)), 0.05))
        s = min(s, 60.0)  # near the poles: at most 60 degrees of longitude
        num[..., i, :] = gaussian_filter1d(num[..., i, :], s, axis=-1, mode=mode, truncate=3.0)
        den[..., i, :] = gaussian_filter1d(den[..., i, :], s, axis=-1, mode=mode, truncate=3.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mask & (den > 1e-12), num / np.where(den > 1e-12, den, 1.0), np.nan)


def inversion(
    nee_monthly: np.ndarray,
    mask: np.ndarray,
    lat: np.ndarray,
    months: pd.DatetimeIndex,
    spec: Inversion,
    rng: np.random.Generator,
    wrap: bool = False,
) -> np.ndarray:
    """An inversion-like NEE product (months, lat, lon) from the truth's monthly NEE on the grid:
    smoothed (:func:`smooth_on_land`), plus correlated and white errors, NaN outside the product's
    period and the mask; as anomalies (minus its own mean seasonal cycle over its period) when
    ``spec.anomalies``."""
    period = _in(months, *spec.period)
    seen = smooth_on_land(nee_monthly, mask, lat, spec.smoothing_km, wrap)
    white = rng.standard_normal(seen.shape)
    corr = smooth_on_land(rng.standard_normal(seen.shape), mask, lat, spec.error_km, wrap)
    land = np.broadcast_to(mask, corr.shape)
    sd = float(np.std(corr[land])) if land.any() else 1.0
    out = seen + spec.error_sd * corr / max(sd, 1e-12) + spec.white_sd * white
    if spec.anomalies:
        out[:, mask] = seasonal_anomaly(out[:, mask], months, period)
    out[~period] = np.nan
    return np.where(mask, out, np.nan).astype(np.float32)
