"""Twin-world study: does the hybrid earn its keep against baselines, judged by the hidden truth?

Four variants are trained with the same loss, data and cross-validation split (the ``demo``
preset, or a reduced one for ``--size tiny``): the hybrid without and with priors on Q10 and
beta_CO2, the constant-parameter process model and the pure LSTM. Every variant's fold models
(ensemble mean) then run over the split's held-out test cells and are scored against the
observations (GPP, NEE, ET, TWS) and against the twin world's hidden truth (the same, plus the
unconstrained TER, Rh, Ra, transpiration fraction T/ET and soil moisture). Further: Rh in the
days around the first rains that end a dry season, and the recovered Q10 and beta_CO2.
The verdict (acceptance criteria, tables, ``results.md``) is written by :mod:`.twin_report`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import layout, runtime
from ..data.cube import land_cells, load_cells, open_cube, open_truth
from ..data.splits import Split
from ..data.synth import make_twin_world
from ..evaluation import views
from ..evaluation.processes import event_windows, pulse_ratio, rain_events
from ..training.checkpoint import load_model
from ..training.config import RunConfig, load_config
from ..training.cv import run_cv
from ..training.folds import SPLIT_FILE
from .common import LSTM_DERIVED, ensemble_mean, minus_cell_mean, simulate, skill, to_monthly
from .twin_report import acceptance_rows, constants_summary, write_results

VARIANTS: dict[str, tuple[str, bool]] = {  # name -> (model kind, priors)
    "hybrid": ("hybrid", False),
    "hybrid_priors": ("hybrid", True),
    "constant": ("constant", False),
    "lstm": ("lstm", False),
}
OBS_VARIABLES: tuple[str, ...] = ("gpp", "nee", "et", "tws")
TRUTH_VARIABLES: tuple[str, ...] = ("gpp", "nee", "et", "tws", "ter", "rh", "ra", "npp", "t_et", "sm")
UNCONSTRAINED: tuple[str, ...] = ("ter", "rh", "ra", "npp", "t_et", "sm")
SPLIT_VARIABLES: tuple[str, ...] = ("gpp", "nee", "rh")  # also scored as mean seasonal cycle and anomalies
TRUTH_DAILY: tuple[str, ...] = ("gpp", "nee", "et", "tws", "ter", "rh", "ra", "npp", "tr", "sm")  # read at test cells
SIZE_OVERRIDES: dict[str, list[str]] = {
    "tiny": [
        "network.lstm_hidden=16",
        "network.fc_hidden=16",
        "split.block_deg=2.0",
        "split.n_folds=4",
        "train.batch_size=16",
        "train.val_batch_size=32",
        "train.chunk_days=120",
        "data.max_train_cells=32",
        "data.start=2016-01-01",
        "data.end=2017-12-31",
        "train.compile=false",
    ],
    "demo": [  # the setup of docs/studies/twin.md (the demo preset has since moved on)
        "data.end=2017-12-31",
        "data.max_train_cells=128",
        "train.epochs=16",
        "train.patience=16",
        "train.val_batch_size=128",
        "train.validate_every=3",
    ],
}


def study_config(
    variant: str, cube: Path, size: str, epochs: int | None, threads: int, overrides: Sequence[str] = ()
) -> RunConfig:
    """The configuration of one variant: ``demo`` preset, size overrides, kind, priors, epochs."""
    kind, priors = VARIANTS[variant]
    ov = [
        f"data.cube={cube}",
        f"model={kind}",
        f"name=twin-{variant}",
        f"loss.priors={'true' if priors else 'false'}",
        "progress=false",
        f"threads={threads}",
        *SIZE_OVERRIDES[size],
    ]
    if epochs is not None:
        ov.append(f"train.epochs={epochs}")
    return load_config("demo", [*ov, *overrides])


def _truth_at(truth: xr.Dataset, ds: xr.Dataset, cells: np.ndarray, time_index, keys: Sequence[str]):
    """Daily truth ``(T, N)`` of ``keys`` at land cells ``cells`` over ``time_index``."""
    li, lj = land_cells(ds)
    sel = {"lat": xr.DataArray(li[cells], dims="cell"), "lon": xr.DataArray(lj[cells], dims="cell")}
    t = truth.sel(time=pd.DatetimeIndex(time_index))
    return {k: np.asarray(t[k].isel(sel).transpose("time", "cell").values, dtype=np.float64) for k in keys}


def _derived(x: dict[str, np.ndarray], data) -> dict[str, np.ndarray]:
    """Monthly values of every compared variable (``t_et``: monthly T / monthly ET)."""
    out = {k: to_monthly(v, data) for k, v in x.items() if k in TRUTH_VARIABLES}
    if "tr" in x and "et" in x:
        tr, et = to_monthly(x["tr"], data), to_monthly(x["et"], data)
        out["t_et"] = np.where(et > 0.05, tr / np.where(et > 0.05, et, 1.0), np.nan)
    return out


def pulse_table(events, truth_rh: np.ndarray, models: dict[str, np.ndarray]) -> list[dict[str, object]]:
    """Rh around the events (:mod:`h2cm.evaluation.processes`): the pulse ratio of each model and
    the truth, and r / RMSE of the models' daily event windows against the truth's."""
    if not events:
        return []
    tw = event_windows(truth_rh, events)
    rows: list[dict[str, object]] = [
        {"model": "truth", "events": len(events), "ratio": pulse_ratio(truth_rh, events), "r": 1.0, "rmse": 0.0}
    ]
    for name, rh in models.items():
        sk = skill(event_windows(rh, events).ravel(), tw.ravel())
        rows.append(
            {"model": name, "events": len(events), "ratio": pulse_ratio(rh, events), "r": sk["r"], "rmse": sk["rmse"]}
        )
    return rows


def run_twin(
    out: str | Path,
    size: str = "demo",
    cube: str | Path | None = None,
    epochs: int | None = None,
    folds: int = 1,
    variants: Sequence[str] = tuple(VARIANTS),
    threads: int = 2,
    seed: int = 0,
    overrides: Sequence[str] = (),
    baseline_epochs: int | None = None,
    jobs: int = 1,
    resume: bool = False,
) -> dict[str, object]:
    """Train the variants on the twin world (``cube``, or a new one of ``size`` in ``OUT/world.zarr``)
    on folds ``0..folds-1`` and write ``results.md``, ``skill.csv``, ``constants.csv``,
    ``pulses.csv``, ``acceptance.csv`` and ``summary.json`` into ``out``; returns the summary.
    ``baseline_epochs``: epochs of the constant and LSTM variants (default: as the hybrid).
    ``jobs``: folds trained at once in worker processes of ``threads`` threads each (1: one after
    another in this process). ``resume``: keep folds already finished in ``OUT/runs`` (and
    continue interrupted ones) instead of training them again."""
    if size not in SIZE_OVERRIDES:
        raise ValueError(f"unknown size {size!r}; use one of {', '.join(SIZE_OVERRIDES)}")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    runtime.configure(threads=threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    if cube is None:
        cube = out / "world.zarr"
        if not cube.exists():
            make_twin_world(size, seed, cube, progress=False)
    cube = Path(cube).resolve()
    cfgs, timing, fold_seconds = _train_variants(
        out,
        cube,
        size,
        variants,
        epochs=epochs,
        baseline_epochs=baseline_epochs,
        folds=folds,
        threads=threads,
        overrides=overrides,
        jobs=jobs,
        resume=resume,
    )

    # --- evaluation on the test cells ------------------------------------------------------------
    first = cfgs[variants[0]]
    test, data, truth_daily = _test_cells(out / "runs" / variants[0], cube, first)
    truth_m = _derived(truth_daily, data)
    sims, constants = _simulate_variants(out / "runs", data, variants, folds)
    model_m = {v: _derived(s, data) for v, s in sims.items()}
    rows = [
        *_skill_against_observations(data, model_m, variants),
        *_skill_against_truth(model_m, truth_m, variants),
        *_skill_by_part(data, model_m, truth_m, variants),
    ]
    events, pulses = _rain_pulses(data, truth_daily, sims)
    const_rows = constants_summary(constants, cfgs[variants[0]])
    accept = acceptance_rows(rows, variants)
    summary = {
        "size": size,
        "cube": str(cube),
        "variants": list(variants),
        "folds_trained": folds,
        "n_folds": first.split.n_folds,
        "epochs": {v: cfgs[v].train.epochs for v in variants},
        "period": [first.data.start, first.data.end],
        "test_cells": int(len(test)),
        "train_seconds": timing,
        "fold_seconds": fold_seconds,
        "seconds": round(time.perf_counter() - t_start, 1),
        "rain_events": len(events),
    }
    write_results(out, summary, rows, const_rows, pulses, accept)
    return summary


def _train_variants(
    out: Path,
    cube: Path,
    size: str,
    variants: Sequence[str],
    *,
    epochs: int | None,
    baseline_epochs: int | None,
    folds: int,
    threads: int,
    overrides: Sequence[str],
    jobs: int,
    resume: bool,
) -> tuple[dict[str, RunConfig], dict[str, float], dict[str, float]]:
    """Train folds ``0..folds-1`` of every variant into ``OUT/runs/VARIANT``; returns each variant's
    configuration, the wall seconds of its training in this call and the training seconds of its
    folds (summed from their results, so kept across ``resume``)."""
    timing: dict[str, float] = {}
    fold_seconds: dict[str, float] = {}
    cfgs = {}
    for v in variants:
        n_epochs = epochs if VARIANTS[v][0] == "hybrid" or baseline_epochs is None else baseline_epochs
        cfg = study_config(v, cube, size, n_epochs, threads, overrides)
        cfgs[v] = cfg
        if folds > cfg.split.n_folds:
            raise ValueError(f"--folds {folds} > split.n_folds {cfg.split.n_folds}")
        t0 = time.perf_counter()
        res = run_cv(cfg, out / "runs" / v, folds=list(range(folds)), jobs=jobs, resume=resume)
        if res.failed:
            raise RuntimeError(f"variant {v}: training failed\n{res.summary()}")
        timing[v] = round(time.perf_counter() - t0, 1)
        # each fold's own training time (kept across --resume by its trainer state)
        fold_seconds[v] = round(sum(o.result["seconds"] for o in res.outcomes), 2)
    return cfgs, timing, fold_seconds


def _test_cells(run: Path, cube: Path, cfg: RunConfig):
    """The held-out test cells of the split written into ``run`` (sorted land-cell indices), their
    data over the configured period and the daily truth there (:data:`TRUTH_DAILY`)."""
    split = Split.load(run / SPLIT_FILE)
    test = np.sort(np.asarray(split.test, dtype=np.int64))
    ds = open_cube(cube)
    data = load_cells(ds, test, (cfg.data.start, cfg.data.end))
    truth_ds = open_truth(cube)
    if truth_ds is None:
        raise ValueError(f"{cube} has no hidden truth (group 'truth'): not a twin world")
    return test, data, _truth_at(truth_ds, ds, test, data.time, TRUTH_DAILY)


def _simulate_variants(runs: Path, data, variants: Sequence[str], folds: int):
    """Each variant's simulation of the test cells (mean over its fold models), and the Q10 and
    beta_CO2 each fold model with a process model recovered (one row per fold)."""
    sims, constants = {}, []
    for v in variants:
        models = [load_model(layout.checkpoint(runs / v, k)) for k in range(folds)]
        sims[v] = ensemble_mean([simulate(m, data) for m in models])
        for k, m in enumerate(models):
            if m.has_process_model:
                c = m.constants()
                constants.append(
                    {"model": v, "fold": k, "q10": float(c.q10.detach()), "beta_co2": float(c.beta_co2.detach())}
                )
    return sims, constants


def _skill_against_observations(data, model_m, variants: Sequence[str]) -> list[dict[str, object]]:
    """Monthly skill of each variant against the observations the models were trained on
    (:data:`OBS_VARIABLES`; TWS as anomalies from each cell's mean)."""
    rows: list[dict[str, object]] = []
    for var in OBS_VARIABLES:
        obs = data.constraints.get(var)
        if obs is None:
            continue
        o = obs.numpy().astype(np.float64)
        for v in variants:
            if var not in model_m[v]:
                continue
            s = model_m[v][var]
            if var == "tws":
                valid = np.isfinite(o)
                s, o_use = minus_cell_mean(s, valid), minus_cell_mean(o, valid)
            else:
                o_use = o
            rows.append({"variable": var, "reference": "obs", "model": v, **skill(s, o_use)})
    return rows


def _skill_against_truth(model_m, truth_m, variants: Sequence[str]) -> list[dict[str, object]]:
    """Monthly skill of each variant against the hidden truth (:data:`TRUTH_VARIABLES`; the pure
    LSTM's derived fluxes named as such)."""
    rows: list[dict[str, object]] = []
    for var in TRUTH_VARIABLES:
        for v in variants:
            if var not in model_m[v] or var not in truth_m:
                continue
            s, o = model_m[v][var], truth_m[var]
            if var == "tws":
                valid = np.isfinite(o)
                s, o = minus_cell_mean(s, valid), minus_cell_mean(o, valid)
            derived = v == "lstm" and var in LSTM_DERIVED
            name = f"{var} (derived: {LSTM_DERIVED[var]})" if derived else var
            rows.append({"variable": name, "reference": "truth", "model": v, **skill(s, o)})
    return rows


def _skill_by_part(data, model_m, truth_m, variants: Sequence[str]) -> list[dict[str, object]]:
    """Which part is wrong: skill against the truth of each cell's mean seasonal cycle and of the
    anomalies from it (:data:`SPLIT_VARIABLES`)."""
    rows: list[dict[str, object]] = []
    moy = views.month_of_year(data.months)
    for var in SPLIT_VARIABLES:
        for v in variants:
            if var not in model_m[v]:
                continue
            s, o = model_m[v][var], truth_m[var]
            for part, sp, op in (
                ("seasonal cycle", views.msc(s, data.months)[moy], views.msc(o, data.months)[moy]),
                ("anomaly", views.anomalies(s, data.months), views.anomalies(o, data.months)),
            ):
                rows.append({"variable": f"{var} ({part})", "reference": "truth", "model": v, **skill(sp, op)})
    return rows


def _rain_pulses(data, truth_daily: dict[str, np.ndarray], sims) -> tuple[list, list[dict[str, object]]]:
    """The first rains that end a dry season at the test cells, and :func:`pulse_table` of them."""
    prec = data.forcing[..., 1].numpy().astype(np.float64)
    tair = data.forcing[..., 2].numpy().astype(np.float64)
    events = rain_events(prec, tair)
    return events, pulse_table(events, truth_daily["rh"], {v: s["rh"] for v, s in sims.items() if "rh" in s})
