"""Twin-world study: does the hybrid earn its keep against baselines, judged by the hidden truth?

Four variants are trained with the same loss, data and cross-validation split (the ``demo``
preset, or a reduced one for ``--size tiny``): the hybrid without and with priors on Q10 and
beta_CO2, the constant-parameter process model and the pure LSTM. Every variant's fold models
(ensemble mean) then run over the split's held-out test cells and are scored against the
observations (GPP, NEE, ET, TWS) and against the twin world's hidden truth (the same, plus the
unconstrained TER, Rh, Ra, transpiration fraction T/ET and soil moisture). Further: Rh in the
days around the first rains that end a dry season, and the recovered Q10 and beta_CO2.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import runtime
from ..data.cube import land_cells, load_cells, open_cube, open_truth
from ..data.splits import Split
from ..data.synth import TRUTH_CONSTANTS, make_twin_world
from ..evaluation import views
from ..evaluation.processes import EVENTS, event_windows, pulse_ratio, rain_events
from ..training.checkpoint import load_model
from ..training.config import RunConfig, load_config
from ..training.cv import run_cv
from ..training.folds import SPLIT_FILE
from ..training.trainer import BEST
from .common import (
    LSTM_DERIVED,
    anomalies,
    ensemble_mean,
    fmt,
    markdown_table,
    simulate,
    skill,
    to_monthly,
    write_csv,
)

VARIANTS: dict[str, tuple[str, bool]] = {  # name -> (model kind, priors)
    "hybrid": ("hybrid", False),
    "hybrid_priors": ("hybrid", True),
    "constant": ("constant", False),
    "lstm": ("lstm", False),
}
OBS_VARIABLES: tuple[str, ...] = ("gpp", "nee", "et", "tws")
TRUTH_VARIABLES: tuple[str, ...] = ("gpp", "nee", "et", "tws", "ter", "rh", "ra", "npp", "t_et", "sm")
CARBON: tuple[str, ...] = ("gpp", "nee", "ter", "rh", "ra", "npp")
UNCONSTRAINED: tuple[str, ...] = ("ter", "rh", "ra", "npp", "t_et", "sm")
SPLIT_VARIABLES: tuple[str, ...] = ("gpp", "nee", "rh")  # also scored as mean seasonal cycle and anomalies
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
    "demo": [],
}
SKILL_COLUMNS = ("variable", "reference", "model", "r", "r_cell", "rmse", "bias", "n")


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

    # --- evaluation on the test cells ------------------------------------------------------------
    first = cfgs[variants[0]]
    split = Split.load(out / "runs" / variants[0] / SPLIT_FILE)
    test = np.sort(np.asarray(split.test, dtype=np.int64))
    ds = open_cube(cube)
    data = load_cells(ds, test, (first.data.start, first.data.end))
    truth_ds = open_truth(cube)
    if truth_ds is None:
        raise ValueError(f"{cube} has no hidden truth (group 'truth'): not a twin world")
    tkeys = ("gpp", "nee", "et", "tws", "ter", "rh", "ra", "npp", "tr", "sm")
    truth_daily = _truth_at(truth_ds, ds, test, data.time, tkeys)
    truth_m = _derived(truth_daily, data)
    sims, constants = {}, []
    for v in variants:
        models = [load_model(out / "runs" / v / f"fold_{k}" / BEST) for k in range(folds)]
        sims[v] = ensemble_mean([simulate(m, data) for m in models])
        for k, m in enumerate(models):
            if getattr(m, "constants", None) is not None:
                c = m.constants()
                constants.append(
                    {"model": v, "fold": k, "q10": float(c.q10.detach()), "beta_co2": float(c.beta_co2.detach())}
                )
    model_m = {v: _derived(s, data) for v, s in sims.items()}

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
                s, o_use = anomalies(s, valid), anomalies(o, valid)
            else:
                o_use = o
            rows.append({"variable": var, "reference": "obs", "model": v, **skill(s, o_use)})
    for var in TRUTH_VARIABLES:
        for v in variants:
            if var not in model_m[v] or var not in truth_m:
                continue
            s, o = model_m[v][var], truth_m[var]
            if var == "tws":
                valid = np.isfinite(o)
                s, o = anomalies(s, valid), anomalies(o, valid)
            derived = v == "lstm" and var in LSTM_DERIVED
            name = f"{var} (derived: {LSTM_DERIVED[var]})" if derived else var
            rows.append({"variable": name, "reference": "truth", "model": v, **skill(s, o)})
    moy = views.month_of_year(data.months)
    for var in SPLIT_VARIABLES:  # which part is wrong: the mean seasonal cycle or the anomalies?
        for v in variants:
            if var not in model_m[v]:
                continue
            s, o = model_m[v][var], truth_m[var]
            for part, sp, op in (
                ("seasonal cycle", views.msc(s, data.months)[moy], views.msc(o, data.months)[moy]),
                ("anomaly", views.anomalies(s, data.months), views.anomalies(o, data.months)),
            ):
                rows.append({"variable": f"{var} ({part})", "reference": "truth", "model": v, **skill(sp, op)})

    prec = data.forcing[..., 1].numpy().astype(np.float64)
    tair = data.forcing[..., 2].numpy().astype(np.float64)
    events = rain_events(prec, tair)
    pulses = pulse_table(events, truth_daily["rh"], {v: s["rh"] for v, s in sims.items() if "rh" in s})

    const_rows = _constants_summary(constants, cfgs[variants[0]])
    acceptance = _acceptance(rows, variants)
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
    write_csv(out / "skill.csv", rows, SKILL_COLUMNS)
    write_csv(out / "constants.csv", const_rows, ("model", "q10", "beta_co2", "folds"))
    write_csv(out / "pulses.csv", pulses, ("model", "events", "ratio", "r", "rmse"))
    write_csv(out / "acceptance.csv", acceptance, ("criterion", "value", "threshold", "met"))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(_markdown(summary, rows, const_rows, pulses, acceptance))
    return summary


def _constants_summary(constants: list[dict[str, object]], cfg: RunConfig) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {"model": "truth", "q10": TRUTH_CONSTANTS["q10"], "beta_co2": TRUTH_CONSTANTS["beta_co2"], "folds": ""},
        {"model": "prior (mean)", "q10": cfg.loss.q10.mean, "beta_co2": cfg.loss.beta_co2.mean, "folds": ""},
    ]
    for name in dict.fromkeys(c["model"] for c in constants):
        mine = [c for c in constants if c["model"] == name]
        rows.append(
            {
                "model": name,
                "q10": float(np.mean([c["q10"] for c in mine])),
                "beta_co2": float(np.mean([c["beta_co2"] for c in mine])),
                "folds": len(mine),
            }
        )
    return rows


def _r(rows, var: str, model: str, reference: str = "truth") -> float:
    for row in rows:
        if row["reference"] == reference and row["model"] == model and str(row["variable"]).split(" ")[0] == var:
            return float(row["r"])
    return math.nan


def _acceptance(rows, variants: Sequence[str]) -> list[dict[str, object]]:
    """The issue's acceptance criteria (monthly r on test cells against the truth)."""
    out: list[dict[str, object]] = []

    def add(criterion: str, value: float, threshold: float | str, met: bool) -> None:
        out.append({"criterion": criterion, "value": value, "threshold": threshold, "met": "yes" if met else "NO"})

    if "hybrid" in variants:
        for var, thr in (("gpp", 0.95), ("nee", 0.95), ("ter", 0.9)):
            r = _r(rows, var, "hybrid")
            add(f"hybrid monthly r {var.upper()} vs truth", r, thr, r >= thr)
        for other, vars_ in (("constant", CARBON), ("lstm", ("ter", "rh", "ra", "npp"))):
            if other not in variants:
                continue
            for var in vars_:
                rh, ro = _r(rows, var, "hybrid"), _r(rows, var, other)
                if math.isfinite(ro):
                    add(f"hybrid beats {other} on {var.upper()} (r vs truth)", rh, f"> {fmt(ro)}", rh > ro)
    return out


def _markdown(summary, rows, const_rows, pulses, acceptance) -> str:
    ep = ", ".join(f"{k} {v}" for k, v in summary["epochs"].items())
    lines = [
        f"# Twin-world study ({summary['size']})",
        "",
        f"Twin world `{summary['cube']}`, period {summary['period'][0]} .. {summary['period'][1]}; "
        f"{summary['test_cells']} held-out test cells. Folds trained per variant: {summary['folds_trained']} "
        f"of {summary['n_folds']} (ensemble mean over them). Epochs: {ep}. Wall seconds of training in this call: "
        + ", ".join(f"{k} {v}" for k, v in summary["train_seconds"].items())
        + "; training seconds of all folds (summed from their results): "
        + ", ".join(f"{k} {v}" for k, v in summary.get("fold_seconds", {}).items())
        + f"; total {summary['seconds']} s.",
        "",
        "Skill is on monthly means at the test cells: `r` pooled over every (month, cell) pair, `r_cell` the "
        "median over cells of each cell's temporal r. TWS is compared as anomalies (each cell's mean removed). "
        "`t_et` is monthly transpiration / monthly ET. The pure LSTM predicts GPP, NEE, NPP, ET, TWS, SWE, "
        "runoff, fAPAR; its TER, Ra and Rh are derived from those. `(seasonal cycle)` rows compare each cell's mean "
        "seasonal cycle, `(anomaly)` rows the departures from it.",
        "",
        "## Acceptance (monthly, test cells, against the truth)",
        "",
        markdown_table(acceptance, ("criterion", "value", "threshold", "met")),
        "",
        "## Skill against the observations",
        "",
        markdown_table([r for r in rows if r["reference"] == "obs"], SKILL_COLUMNS),
        "",
        "## Skill against the hidden truth",
        "",
        markdown_table([r for r in rows if r["reference"] == "truth"], SKILL_COLUMNS),
        "",
        "## Recovered global constants",
        "",
        markdown_table(const_rows, ("model", "q10", "beta_co2", "folds")),
        "",
        "## Rh after the first rains that end a dry season",
        "",
        f"Events: a day with >= {EVENTS.rain_mm} mm rain after {EVENTS.dry_days} days with < {EVENTS.dry_mm} mm "
        f"in total (above freezing), at test cells. `ratio`: mean Rh on days 0..{EVENTS.after - 1} after the rain / "
        f"mean Rh of the {EVENTS.before} days before; `r`, `rmse`: daily Rh on days -{EVENTS.before}..+"
        f"{EVENTS.window} against the truth.",
        "",
        markdown_table(pulses, ("model", "events", "ratio", "r", "rmse")) if pulses else "No event at the test cells.",
        "",
    ]
    return "\n".join(lines)
