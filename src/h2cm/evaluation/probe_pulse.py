"""The rain-pulse experiment of ``h2cm probe`` (docs/cli/probe.md).

A controlled forcing (:func:`pulse_forcing`): ``spinup_days`` days of the cell's mean forcing over
the run's period (all five variables), then ``dry_days`` days without precipitation, one day with
``rain_mm`` of rain, and ``after_days`` more dry days; from the dry spell on, net radiation, air
temperature, VPD and CO2 are the cell's means over its driest months (:func:`dry_season_months`).
Each model runs the whole series as its ``forward`` does (spin-up: the series once, then again
from the final state; the truth the same way, :func:`truth_pulse`) and the daily Rb, Rh, NEE and
NPP are kept from ``context_days`` before the dry spell to the end. The pulse ratio is
:func:`~h2cm.evaluation.processes.pulse_ratio`: mean Rh on days 0..3 from the rain over the mean
of the 7 days before it, per fold, for the ensemble (the median Rh of the folds) and for the truth
(:func:`pulse_ratios`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..schema import FORCING_KEYS
from .probe_truth import truth_run
from .processes import EVENTS, pulse_ratio

PULSE_KEYS: tuple[str, ...] = ("rb", "rh", "nee", "npp")
SPINUP_DAYS = 365  # days of the cell's mean forcing before the dry spell
AFTER_DAYS = 20  # dry days after the rain
CONTEXT_DAYS = 10  # days of the mean-forcing segment kept before the dry spell
DRY_MONTHS = 3  # calendar months whose means make the dry-season forcing
DRY_SEASON_MIN_TC = 5.0  # degC: only months warmer than this count as a dry season
_F = {k: i for i, k in enumerate(FORCING_KEYS)}


@dataclass
class PulseForcing:
    """The controlled forcing of the rain-pulse experiment at one cell (:func:`pulse_forcing`)."""

    series: np.ndarray  # (days, 5) in the order of FORCING_KEYS
    rain_day: int  # index of the rain day in ``series``
    dry_start: int  # index of the first dry day
    dry_months: list[int]  # calendar months of the dry-season forcing
    mean: dict[str, float]  # the cell's mean forcing (spin-up segment)
    dry_season: dict[str, float]  # rn, tair, vpd, co2 from the dry spell on


def dry_season_months(prec: np.ndarray, tair: np.ndarray, time, n: int = DRY_MONTHS) -> list[int]:
    """The ``n`` calendar months (1..12) with the lowest mean daily precipitation among the
    months whose mean air temperature is above :data:`DRY_SEASON_MIN_TC`; the ``n`` warmest
    months where fewer are that warm. Sorted."""
    moy = pd.DatetimeIndex(time).month.to_numpy()
    present = [m for m in range(1, 13) if (moy == m).any()]
    p = np.array([np.nanmean(prec[moy == m]) for m in present])
    t = np.array([np.nanmean(tair[moy == m]) for m in present]) - 273.15
    n = min(n, len(present))
    warm = np.flatnonzero(t > DRY_SEASON_MIN_TC)
    if len(warm) >= n:
        pick = warm[np.argsort(p[warm], kind="stable")[:n]]
    else:
        pick = np.argsort(-t, kind="stable")[:n]
    return sorted(int(present[i]) for i in pick)


def pulse_forcing(
    forcing: np.ndarray,
    time,
    dry_days: int = 60,
    rain_mm: float = 20.0,
    spinup_days: int = SPINUP_DAYS,
    after_days: int = AFTER_DAYS,
) -> PulseForcing:
    """The controlled forcing of the rain-pulse experiment from a cell's real daily forcing
    ``(days, 5)`` over ``time``: ``spinup_days`` days of the mean forcing (every variable,
    precipitation included), then ``dry_days`` days with precipitation 0, one day with
    ``rain_mm``, ``after_days`` days with 0; from the dry spell on, rn, tair, vpd and co2 are
    their means over the days of :func:`dry_season_months`."""
    forcing = np.asarray(forcing, dtype=np.float64)
    time = pd.DatetimeIndex(time)
    months = dry_season_months(forcing[:, _F["prec"]], forcing[:, _F["tair"]], time)
    in_dry = np.isin(time.month.to_numpy(), months)
    mean = np.nanmean(forcing, axis=0)
    dry = np.nanmean(forcing[in_dry], axis=0)
    dry[_F["prec"]] = 0.0
    n = spinup_days + dry_days + 1 + after_days
    series = np.empty((n, len(FORCING_KEYS)))
    series[:spinup_days] = mean
    series[spinup_days:] = dry
    rain = spinup_days + dry_days
    series[rain, _F["prec"]] = rain_mm
    return PulseForcing(
        series=series,
        rain_day=rain,
        dry_start=spinup_days,
        dry_months=months,
        mean={k: float(mean[i]) for i, k in enumerate(FORCING_KEYS)},
        dry_season={k: float(dry[i]) for i, k in enumerate(FORCING_KEYS) if k != "prec"},
    )


@torch.no_grad()
def model_pulse(model, series: np.ndarray, static: np.ndarray) -> dict[str, np.ndarray]:
    """The model's daily Rb, Rh, NEE, NPP (those it produces) over ``series`` ``(days, cells, 5)``,
    run as its ``forward`` does (spin-up)."""
    keys = [k for k in PULSE_KEYS if k in model.outputs]
    f = torch.as_tensor(series, dtype=torch.float32)
    s = torch.as_tensor(static, dtype=torch.float32)
    sim = model(f, s, spinup=True, outputs=keys)
    return {k: sim.outputs[k].double().numpy() for k in keys}


def truth_pulse(series: np.ndarray, static) -> dict[str, np.ndarray]:
    """The truth's daily Rb, Rh, NEE, NPP over ``series`` ``(days, cells, 5)`` (spin-up as the truth's)."""
    forcing = {k: series[..., i] for i, k in enumerate(FORCING_KEYS)}
    out, _ = truth_run(forcing, static, spinup=True, keys=PULSE_KEYS)
    return out


def _ratio(rh: np.ndarray, rain_index: int) -> float | None:
    """Pulse ratio of ``rh`` ``(days, cells)`` with the rain on ``rain_index`` at every cell."""
    if rh is None or not np.isfinite(rh).all():
        return None
    r = pulse_ratio(rh, [(rain_index, j) for j in range(rh.shape[1])])
    return None if not np.isfinite(r) else round(float(r), 4)


def pulse_ratios(cells, folds, days: np.ndarray, pulses, truth_p) -> dict:
    """The ``pulse_ratio`` section of ``summary.json``: per cell and over all cells, each fold's,
    the ensemble's (of the folds' median Rh) and the truth's ratio (None where there is no Rh)."""
    rain_index = int(np.flatnonzero(days == 0)[0])
    ratios = []
    have_rh = all("rh" in p for p in pulses)
    for j, c in enumerate(cells):
        one = slice(j, j + 1)
        per_fold = {
            str(f): _ratio(p["rh"][:, one], rain_index) if have_rh else None for f, p in zip(folds, pulses, strict=True)
        }
        ens = _ratio(np.median(np.stack([p["rh"][:, one] for p in pulses]), axis=0), rain_index) if have_rh else None
        tr = _ratio(truth_p["rh"][:, one], rain_index) if truth_p is not None else None
        ratios.append({"cell": c.index, "lat": c.lat, "lon": c.lon, "folds": per_fold, "ensemble": ens, "truth": tr})
    all_cells = {
        "folds": {str(f): _ratio(p["rh"], rain_index) if have_rh else None for f, p in zip(folds, pulses, strict=True)},
        "ensemble": _ratio(np.median(np.stack([p["rh"] for p in pulses]), axis=0), rain_index) if have_rh else None,
        "truth": _ratio(truth_p["rh"], rain_index) if truth_p is not None else None,
    }
    return {
        "definition": (
            f"mean Rh on days 0..{EVENTS.after - 1} from the rain / mean Rh over the {EVENTS.before} days "
            "before it; ensemble: of the folds' median Rh; all cells: mean over the cells"
        ),
        "cells": ratios,
        "all_cells": all_cells,
    }
