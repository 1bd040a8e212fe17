"""Out-of-sample simulations of a trained run for the claims study (docs/studies/claims.md).

Two sets of cells, each simulated only by models that never trained on it:

- the **test cells** over the whole cube period (the paper's 2001-2019: the CarboScope-like
  period, which holds the OCO-2-like years and the spatio-temporal test years), by every fold
  model: monthly values per fold and daily ensemble means over the analysis window;
- **every other cell** over the analysis window (2015-2019, the OCO-2 era), by the one fold
  model that held it out for validation: monthly values, daily values and time means.

Together they give an out-of-sample simulation of every cell of the world (test cells: the
ensemble mean; others: their own fold's model) for the regional cycles, maps and process
diagnostics. The result of one run is saved as one ``.npz`` file (:func:`save_sims`), so a
study can be re-scored without simulating again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import atomic, layout
from ..data.cells import CellData
from ..data.cube import load_cells, open_cube
from ..data.splits import Split
from ..evaluation.diagnostics import par_from_rn
from ..training.checkpoint import load_model
from ..training.folds import SPLIT_FILE
from ..training.trainer import BEST
from .common import simulate, to_monthly

# outputs kept monthly (test and all cells) and daily (window, all cells)
MONTHLY_KEYS: tuple[str, ...] = ("gpp", "nee", "rh", "ter", "ra", "npp", "tr", "et", "fapar")
DAILY_KEYS: tuple[str, ...] = ("gpp", "nee", "rh", "npp")
# time means over the window for the efficiency maps (apar = fAPAR x PAR from net radiation)
MEAN_KEYS: tuple[str, ...] = ("gpp", "npp", "tr", "apar")


@dataclass
class Sims:
    """Out-of-sample simulations of one run (one model kind, one seed); absent keys are absent.

    ``test_monthly``: key -> (folds, months, test cells) over ``months``; ``test_daily``: key ->
    (window days, test cells), mean over folds; ``all_monthly``: key -> (window months, cells);
    ``all_daily``: key -> (window days, cells); ``all_means``: key -> (cells,). ``cells`` are
    land-cell indices of the cube (test cells first, then each fold's validation cells);
    ``constants``: key -> (folds,) learned global constants (none for the pure LSTM)."""

    test: np.ndarray
    cells: np.ndarray
    months: pd.DatetimeIndex
    window_months: pd.DatetimeIndex
    window_days: pd.DatetimeIndex
    test_monthly: dict[str, np.ndarray] = field(default_factory=dict)
    test_daily: dict[str, np.ndarray] = field(default_factory=dict)
    all_monthly: dict[str, np.ndarray] = field(default_factory=dict)
    all_daily: dict[str, np.ndarray] = field(default_factory=dict)
    all_means: dict[str, np.ndarray] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)


def _window(data: CellData, window: tuple[str, str]) -> np.ndarray:
    t = data.time
    return np.asarray((t >= pd.Timestamp(window[0])) & (t <= pd.Timestamp(window[1])))


def _means(sim: dict[str, np.ndarray], data: CellData, days: np.ndarray) -> dict[str, np.ndarray]:
    out = {k: sim[k][days].mean(axis=0) for k in ("gpp", "npp", "tr") if k in sim}
    if "fapar" in sim:
        par = par_from_rn(data.forcing[..., 0].numpy())
        out["apar"] = (sim["fapar"] * par)[days].mean(axis=0)
    return out


def simulate_run(run: str | Path, cube: str | Path, window: tuple[str, str], progress=None) -> Sims:
    """Out-of-sample simulations of every fold model of ``run`` on ``cube`` (module docstring)."""
    run = Path(run)
    split = Split.load(run / SPLIT_FILE)
    folds = sorted(int(p.name.split("_")[1]) for p in run.glob("fold_*") if (p / BEST).exists())
    models = [load_model(layout.checkpoint(run, k)) for k in folds]
    ds = open_cube(cube, dask=False)
    test = np.sort(np.asarray(split.test, dtype=np.int64))
    data = load_cells(ds, test)
    wdays = _window(data, window)
    wmon = np.asarray((data.months >= pd.Timestamp(window[0])) & (data.months <= pd.Timestamp(window[1])))
    sims = Sims(test, test.copy(), data.months, data.months[wmon], data.time[wdays])
    per_fold: dict[str, list[np.ndarray]] = {}
    daily_sum: dict[str, np.ndarray] = {}
    means_sum: dict[str, np.ndarray] = {}
    for model in models:
        sim = simulate(model, data, MONTHLY_KEYS)
        for k in MONTHLY_KEYS:
            if k in sim:
                per_fold.setdefault(k, []).append(to_monthly(sim[k], data))
        for k in DAILY_KEYS:
            if k in sim:
                daily_sum[k] = daily_sum.get(k, 0.0) + sim[k][wdays]
        for k, v in _means(sim, data, wdays).items():
            means_sum[k] = means_sum.get(k, 0.0) + v
        if progress:
            progress(len(test))
    sims.test_monthly = {k: np.stack(v).astype(np.float32) for k, v in per_fold.items()}
    sims.test_daily = {k: (v / len(models)).astype(np.float32) for k, v in daily_sum.items()}
    all_monthly = {k: [np.mean(v, axis=0)[wmon]] for k, v in sims.test_monthly.items()}
    all_daily = {k: [v] for k, v in sims.test_daily.items()}
    all_means = {k: [v / len(models)] for k, v in means_sum.items()}
    cells = [test]
    for f, model in zip(folds, models, strict=True):
        val = np.sort(np.asarray(split.fold(f)[1], dtype=np.int64))
        vdata = load_cells(ds, val, window)
        sim = simulate(model, vdata, MONTHLY_KEYS)
        for k in all_monthly:
            all_monthly[k].append(to_monthly(sim[k], vdata))
        for k in all_daily:
            all_daily[k].append(sim[k])
        for k, v in _means(sim, vdata, np.ones(len(vdata.time), dtype=bool)).items():
            all_means[k].append(v)
        cells.append(val)
        if progress:
            progress(len(val))
    sims.cells = np.concatenate(cells)
    sims.all_monthly = {k: np.concatenate(v, axis=1).astype(np.float32) for k, v in all_monthly.items()}
    sims.all_daily = {k: np.concatenate(v, axis=1).astype(np.float32) for k, v in all_daily.items()}
    sims.all_means = {k: np.concatenate(v).astype(np.float64) for k, v in all_means.items()}
    from ..evaluation.ensemble import ensemble_constants

    sims.constants = ensemble_constants(models)
    return sims


def save_sims(sims: Sims, path: str | Path) -> Path:
    """Write :class:`Sims` to one ``.npz`` file (atomically)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "test": sims.test,
        "cells": sims.cells,
        "months": sims.months.values.astype("datetime64[ns]"),
        "window_months": sims.window_months.values.astype("datetime64[ns]"),
        "window_days": sims.window_days.values.astype("datetime64[ns]"),
    }
    for group in ("test_monthly", "test_daily", "all_monthly", "all_daily", "all_means", "constants"):
        for k, v in getattr(sims, group).items():
            arrays[f"{group}/{k}"] = np.asarray(v)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_sims(path: str | Path) -> Sims:
    """Read a file written by :func:`save_sims`."""
    with np.load(path) as z:
        sims = Sims(
            test=z["test"],
            cells=z["cells"],
            months=pd.DatetimeIndex(z["months"]),
            window_months=pd.DatetimeIndex(z["window_months"]),
            window_days=pd.DatetimeIndex(z["window_days"]),
        )
        for name in z.files:
            if "/" in name:
                group, key = name.split("/", 1)
                getattr(sims, group)[key] = z[name]
    return sims


def _truth_daily(truth, ds, cells: np.ndarray, time: pd.DatetimeIndex, keys) -> dict[str, np.ndarray]:
    from ..data.cube import land_cells

    li, lj = land_cells(ds)
    import xarray as xr

    sel = {"lat": xr.DataArray(li[cells], dims="cell"), "lon": xr.DataArray(lj[cells], dims="cell")}
    t = truth.sel(time=time)
    return {k: np.asarray(t[k].isel(sel).transpose("time", "cell").values, dtype=np.float64) for k in keys}


def truth_sims(cube: str | Path, like: Sims) -> Sims:
    """The twin world's hidden truth in the layout of ``like`` (one "fold"), on the same cells,
    months and window; ValueError if the cube has no truth."""
    from ..data.cube import open_truth

    truth = open_truth(cube)
    if truth is None:
        raise ValueError(f"{cube} has no hidden truth (group 'truth'): the claims study needs a twin world")
    ds = open_cube(cube, dask=False)
    test = load_cells(ds, like.test)
    keys = tuple(k for k in MONTHLY_KEYS if k in truth)
    td = _truth_daily(truth, ds, like.test, test.time, keys)
    wdays = np.asarray(test.time.isin(like.window_days))
    out = Sims(like.test, like.cells, like.months, like.window_months, like.window_days)
    out.test_monthly = {k: to_monthly(v, test)[None].astype(np.float32) for k, v in td.items()}
    out.test_daily = {k: td[k][wdays].astype(np.float32) for k in DAILY_KEYS}
    every = load_cells(ds, like.cells, (str(like.window_days[0].date()), str(like.window_days[-1].date())))
    ad = _truth_daily(truth, ds, like.cells, every.time, keys)
    out.all_monthly = {k: to_monthly(v, every).astype(np.float32) for k, v in ad.items()}
    out.all_daily = {k: ad[k].astype(np.float32) for k in DAILY_KEYS}
    out.all_means = _means(ad, every, np.ones(len(every.time), dtype=bool))
    from ..data.synth import TRUTH_CONSTANTS

    out.constants = {k: np.array([float(truth[k])]) for k in TRUTH_CONSTANTS if k in truth}
    return out


@dataclass
class Observations:
    """The constraints as the study compares them: ``test`` key -> (months, test cells) over the
    cube period, ``all`` key -> (window months, cells); forcing needed by the diagnostics
    (``prec``, ``tair``, ``rn`` daily over the window, all cells; ``prec_mean`` (cells,)), and
    the cells' coordinates and areas."""

    test: dict[str, np.ndarray]
    all: dict[str, np.ndarray]
    daily: dict[str, np.ndarray]
    prec_mean: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    area: np.ndarray


def observations(cube: str | Path, like: Sims) -> Observations:
    """What the cube observes (NEE, NEE anomalies, GPP) and the forcing of ``like``'s cells."""
    ds = open_cube(cube, dask=False)
    test = load_cells(ds, like.test)
    every = load_cells(ds, like.cells, (str(like.window_days[0].date()), str(like.window_days[-1].date())))
    keys = ("nee", "nee_anomaly", "gpp")
    f = every.forcing.numpy().astype(np.float64)
    return Observations(
        test={k: test.constraints[k].numpy().astype(np.float64) for k in keys if k in test.constraints},
        all={k: every.constraints[k].numpy().astype(np.float64) for k in keys if k in every.constraints},
        daily={"rn": f[..., 0], "prec": f[..., 1], "tair": f[..., 2]},
        prec_mean=f[..., 1].mean(axis=0),
        lat=every.lat,
        lon=every.lon,
        area=every.cell_area.numpy().astype(np.float64),
    )


def pulse_signal(cube: str | Path, cells: np.ndarray, window: tuple[str, str]) -> dict[str, np.ndarray]:
    """How much of monthly NEE the truth's rain pulse is: the truth run again at ``cells`` over
    ``window`` (spin-up over the window) with and without the pulse (``pulse_kick=0``); returns
    ``{"nee": with, "nee_no_pulse": without}`` as monthly means (window months, cells) and the
    daily Rh of both (``rh``, ``rh_no_pulse``)."""
    from ..data.synth.truth import TruthStatic, run_truth
    from ..schema import FORCING_KEYS

    ds = open_cube(cube, dask=False)
    data = load_cells(ds, cells, window)
    forcing = {k: data.forcing[..., i].numpy() for i, k in enumerate(FORCING_KEYS)}
    static = TruthStatic.from_features({name: data.static[:, i].numpy() for i, name in enumerate(data.features)})
    runs = {"": run_truth(forcing, static), "_no_pulse": run_truth(forcing, static, pulse_kick=0.0)}
    out = {}
    for suffix, truth in runs.items():
        out[f"nee{suffix}"] = to_monthly(truth["nee"].astype(np.float64), data)
        out[f"rh{suffix}"] = truth["rh"].astype(np.float64)
    return out
