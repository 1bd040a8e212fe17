"""Tables, figures and ``results.md`` of the claims study (docs/studies/claims.md).

Reads the saved out-of-sample simulations of every run (``OUT/sims/*.npz``), the twin world's
truth and observations, computes every table of :mod:`.claims_analysis`, judges the acceptance
criteria for each seed and writes the "paper says / we find" page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..data.synth import TRUTH_CONSTANTS
from ..data.synth.observe import INVERSIONS
from . import claims_analysis as ca
from . import claims_figures as figs
from .claims_compare import compare_series, study_products
from .claims_sim import Sims, load_sims, observations, pulse_signal, truth_sims
from .claims_text import results_markdown
from .common import write_csv

BASELINES: tuple[str, ...] = ("constant", "lstm")
# the acceptance thresholds (hybrid ensemble at the test cells against the truth)
THRESHOLDS: dict[str, float] = {
    "nee_monthly": 0.95,
    "nee_msc": 0.95,
    "rh_msc": 0.9,
    "gpp_monthly": 0.95,
    "ter_monthly": 0.95,
    "rh_pulse": 2.0,
    "safr_nee_r2": 0.9,
}


def label(variant: str, seed: int) -> str:
    return f"{variant} (seed {seed})"


def load_all(out: Path, runs: Sequence[tuple[str, int]]) -> dict[str, Sims]:
    return {label(v, s): load_sims(out / "sims" / f"{v}_seed{s}.npz") for v, s in runs}


def _by_seed(models: Mapping[str, Sims], seed: int) -> dict[str, Sims]:
    return {k.split(" (")[0]: v for k, v in models.items() if k.endswith(f"(seed {seed})")}


def acceptance(
    seed: int,
    skill: list[dict],
    fluxes: list[dict],
    regional: list[dict],
    pulses: list[dict],
) -> list[dict[str, object]]:
    """The issue's acceptance criteria for one seed: (criterion, aggregation, value, threshold, met)."""
    h = label("hybrid", seed)
    rows: list[dict[str, object]] = []

    def add(criterion, how, value, threshold, met=None):
        ok = (value >= threshold) if met is None else met
        ok = bool(ok) and math.isfinite(value)
        rows.append(
            {
                "seed": seed,
                "criterion": criterion,
                "aggregation": how,
                "value": value,
                "threshold": threshold,
                "met": "yes" if ok else "NO",
            }
        )

    for how in ("pooled", "global"):
        for var, view, key in (
            ("nee", "monthly", "nee_monthly"),
            ("nee", "msc", "nee_msc"),
            ("gpp", "monthly", "gpp_monthly"),
        ):
            r = ca.best_of(skill, model=h, variable=var, reference="truth", period="oco2", view=view, aggregation=how)
            add(f"{var.upper()} {view} r", how, r, THRESHOLDS[key])
        for var, view, key in (("ter", "monthly", "ter_monthly"), ("rh", "msc", "rh_msc")):
            r = ca.best_of(fluxes, model=h, variable=var, period=f"oco2 {view}", aggregation=how)
            add(f"{var.upper()} {view} r", how, r, THRESHOLDS[key])
    ratio = next((p["rh_ratio"] for p in pulses if p["source"] == h and p["cells"] == "test"), math.nan)
    add("rain-pulse ratio of Rh (test cells)", "events", ratio, THRESHOLDS["rh_pulse"])
    r2 = next(
        (x["r2"] for x in regional if x["region"] == "SAfr" and x["source"] == h and x["variable"] == "nee"), math.nan
    )
    add("Southern Africa NEE seasonal-cycle R2", "region", r2, THRESHOLDS["safr_nee_r2"])
    for var in ca.UNCONSTRAINED:
        mine = ca.best_of(fluxes, model=h, variable=var, period="oco2 monthly", aggregation="pooled")
        others = [
            ca.best_of(fluxes, model=label(b, seed), variable=var, period="oco2 monthly", aggregation="pooled")
            for b in BASELINES
        ]
        others = [o for o in others if math.isfinite(o)]
        best = max(others) if others else math.nan
        add(f"hybrid beats both baselines on {var} (r)", "pooled", mine, best, met=bool(others) and mine > best)
    return rows


def _flux_table(models, truth, area, quick: bool) -> list[dict]:
    periods = {
        "oco2 monthly": ca.PERIODS["oco2"],
        "train years": ("2015-01-01", "2017-12-31") if not quick else ("2016-01-01", "2017-12-31"),
        "test years": ("2018-01-01", "2019-12-31"),
    }
    rows = ca.flux_rows(models, truth, area, periods, ("gpp", "nee", "ter", "rh", "ra", "npp", "t_et"))
    # the seasonal-cycle view of Rh (an acceptance criterion) in the OCO-2-like period
    sel = ca._in(truth.months, ca.PERIODS["oco2"])
    for name, sims in models.items():
        for var in ("rh", "nee", "gpp", "ter"):
            if var not in sims.test_monthly:
                continue
            for how in ("pooled", "global"):
                sc = ca.compare(
                    sims.test_monthly[var].mean(0)[sel],
                    truth.test_monthly[var][0][sel],
                    truth.months[sel],
                    area,
                    "msc",
                    how,
                )
                rows.append({"model": name, "variable": var, "period": "oco2 msc", "aggregation": how, **sc})
    return rows


def write_report(
    out: Path,
    cube: Path,
    runs: Sequence[tuple[str, int]],
    configs: Mapping[str, object],
    window: tuple[str, str],
    quick: bool = False,
    compare: Mapping[str, str] | None = None,
    seconds: Mapping[str, float] | None = None,
) -> dict[str, object]:
    """Score every claim, write the tables, figures and ``results.md``; return the summary."""
    out = Path(out)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    models = load_all(out, runs)
    first = next(iter(models.values()))
    truth = truth_sims(cube, first)
    obs = observations(cube, first)
    seeds = sorted({s for _, s in runs})
    n_test = len(first.test)
    area_test = obs.area[:n_test]
    cfg0 = next(iter(configs.values()), None)
    prior = {"q10": 1.5, "beta_co2": 0.0015} if cfg0 is None else _prior_means(cfg0)

    skill = ca.test_skill(models, truth, obs, area_test)
    fluxes = _flux_table(models, truth, area_test, quick)
    regions = ca.cell_regions(obs.lat, obs.lon)
    products = study_products(cube, compare)
    cycles, regional = _regional(models, truth, obs, products, cube, regions)
    daily = {"truth": truth.all_daily, **{n: s.all_daily for n, s in models.items()}}
    safr = regions == ca.REGION_CODES.index("SAfr") + 1
    pulses, composites = _pulse_tables(daily, obs, first, safr)
    light, release = _southern_africa(models, truth, obs, daily, safr)
    means = {"truth": truth.all_means, **{n: s.all_means for n, s in models.items()}}
    tables = {
        "test_skill.csv": skill,
        "fluxes.csv": fluxes,
        "regional.csv": regional,
        "pulses.csv": pulses,
        "pulse_signal.csv": _pulse_signal_table(cube, first, obs, window),
        "light.csv": light,
        "release.csv": release,
        "efficiency.csv": ca.efficiency_rows(means, obs.prec_mean),
        "constants.csv": ca.constants_rows(models, TRUTH_CONSTANTS, prior),
        "acceptance.csv": [row for s in seeds for row in acceptance(s, skill, fluxes, regional, pulses)],
    }
    for name, rows in tables.items():
        if rows:
            write_csv(out / name, rows, list(dict.fromkeys(k for r in rows for k in r)))

    figures = {
        "regional": figs.regional_cycles(cycles, ca.FIG6_REGIONS, fig_dir / "regional_cycles.png"),
        "pulse": figs.pulse_composite(composites, fig_dir / "rain_pulse.png"),
        "efficiency": figs.efficiency_scatter(
            ca.efficiency_maps(means, obs.prec_mean),
            fig_dir / "efficiency.png",
            models=(label("hybrid", seeds[0]),),
        ),
        "constants": figs.constants_strip(models, TRUTH_CONSTANTS, prior, fig_dir / "constants.png"),
        "nee_series": figs.test_series(models, truth, obs, area_test, fig_dir / "nee_test_series.png"),
    }
    summary: dict[str, object] = {
        "cube": str(cube),
        "quick": quick,
        "seeds": seeds,
        "runs": [f"{v}/{s}" for v, s in runs],
        "test_cells": n_test,
        "cells": int(len(first.cells)),
        "train_period": [cfg0.data.start, cfg0.data.end] if cfg0 is not None else None,
        "window": list(window),
        "training": {k: _training_of(c) for k, c in configs.items()},
        "products": products,
        "acceptance": tables["acceptance.csv"],
        "figures": {k: str(v.relative_to(out)) if v else None for k, v in figures.items()},
    }
    if seconds:
        summary["seconds"] = dict(seconds)
    (out / "results.md").write_text(results_markdown(summary, tables, regions, n_test, seeds))
    return summary


def _prior_means(cfg) -> dict[str, float]:
    """The prior means of Q10 and beta_CO2 in a run's configuration (drawn beside the recovered ones)."""
    return {"q10": cfg.loss.q10.mean, "beta_co2": cfg.loss.beta_co2.mean}


def _regional(models: Mapping[str, Sims], truth: Sims, obs, products: Mapping[str, str], cube: Path, regions):
    """The regional mean seasonal cycles of monthly NEE, GPP and TER of every source (truth,
    observations, each run, the other products) and their table: every source against the truth,
    and all but the truth against the observations."""
    first = next(iter(models.values()))
    series = {"truth": {k: truth.all_monthly[k] for k in ("nee", "gpp", "ter")}}
    series["observations"] = {k: obs.all[k] for k in ("nee", "gpp") if k in obs.all}
    for name, sims in models.items():
        series[name] = {k: sims.all_monthly[k] for k in ("nee", "gpp", "ter") if k in sims.all_monthly}
    series.update(compare_series(products, cube, first))
    cycles = ca.regional_cycles(series, obs.area, regions, first.window_months)
    regional = ca.regional_table(cycles, "truth") + ca.regional_table(
        {r: {k: v for k, v in d.items() if k != "truth"} for r, d in cycles.items()}, "observations"
    )
    return cycles, regional


def _pulse_tables(daily: Mapping[str, Mapping], obs, first: Sims, safr: np.ndarray):
    """Rows of the rain-pulse table (test cells, all cells, Southern Africa if it has cells) and
    the composites of the figure (test cells, all cells)."""
    test_mask = np.zeros(len(first.cells), dtype=bool)
    test_mask[: len(first.test)] = True
    prec, tair = obs.daily["prec"], obs.daily["tair"]
    pulses, composite = ca.pulse_rows(daily, prec, tair, test_mask, "test")
    p_all, composite_all = ca.pulse_rows(daily, prec, tair, np.ones_like(test_mask), "all")
    pulses += p_all
    if safr.any():
        pulses += ca.pulse_rows(daily, prec, tair, safr, "SAfr")[0]
    return pulses, {"test cells": composite, "all cells": composite_all}


def _southern_africa(models: Mapping[str, Sims], truth: Sims, obs, daily: Mapping[str, Mapping], safr: np.ndarray):
    """Southern Africa's light limitation of GPP and the month of its NEE release (empty without
    Southern African cells)."""
    if not safr.any():
        return [], []
    first = next(iter(models.values()))
    light = ca.light_rows({k: d["gpp"] for k, d in daily.items()}, obs.daily["rn"], first.window_days, safr)
    release = ca.release_rows(
        {
            "truth": truth.all_monthly["nee"],
            **{n: s.all_monthly["nee"] for n, s in models.items()},
            **({"observations": obs.all["nee"]} if "nee" in obs.all else {}),
        },
        first.window_months,
        obs.area,
        safr,
    )
    return light, release


def _pulse_signal_table(cube: Path, first: Sims, obs, window: tuple[str, str]) -> list[dict]:
    """How much the rain pulse shows in monthly NEE: the truth run again without it
    (:func:`.claims_sim.pulse_signal`), against the error of one OCO-2-like cell-month."""
    oco2 = INVERSIONS["nee"]
    signal = pulse_signal(cube, first.cells, window)
    return ca.pulse_signal_rows(
        signal,
        obs.daily["prec"],
        obs.daily["tair"],
        first.window_days,
        first.window_months,
        float(np.hypot(oco2.error_sd, oco2.white_sd)),
    )


def _training_of(cfg) -> dict[str, object]:
    return {
        "model": cfg.model,
        "priors": cfg.loss.priors,
        "epochs": cfg.train.epochs,
        "batch_size": cfg.train.batch_size,
        "max_train_cells": cfg.data.max_train_cells,
        "folds": cfg.split.n_folds,
        "lr": cfg.optimizer.lr,
        "scheduler": cfg.scheduler.name,
        "spinup_refresh": cfg.train.spinup_refresh,
        "compile": cfg.train.compile,
    }
