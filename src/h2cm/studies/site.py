"""Flux-tower study: hybrid and both baselines at one real FLUXNET site, temporal split.

The site's daily file is imported in memory (:func:`h2cm.data.fluxnet.fluxnet_cube`). Every model
is trained with the usual fold trainer and loss (constraints ET, GPP, NEE monthly; RECO is never
seen) on all days but those of the last calendar year; with a single cell there is no separate
validation cell, so the training period also serves as the validation set (the best checkpoint is
the one with the lowest training-period loss; no early stopping). Each model then runs over the
whole record (spin-up over the same record) and is scored on the held-out year against the
tower's daily values (quality-filtered) and their monthly means.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import runtime
from ..data.cube import load_cells
from ..data.tower_cube import tower_cube
from ..training.checkpoint import load_model
from ..training.config import RunConfig, load_config
from ..training.trainer import BEST, FoldTrainer
from .common import fmt, markdown_table, simulate, skill, to_monthly, write_csv

SITE_MODELS: tuple[str, ...] = ("hybrid", "constant", "lstm")
# model output -> (daily column, monthly column) of the tower data
SITE_VARIABLES: dict[str, tuple[str, str, str]] = {
    "gpp": ("gpp", "gpp_daily", "gpp"),
    "nee": ("nee", "nee_daily", "nee"),
    "et": ("et", "et_daily", "et"),
    "reco": ("ter", "reco_daily", "reco"),
}
CONSTRAINED = ("gpp", "nee", "et")
METRIC_COLUMNS = ("variable", "constrained", "model", "scale", "r", "rmse", "bias", "n")


def site_config(kind: str, epochs: int, threads: int, overrides: Sequence[str] = ()) -> RunConfig:
    """The ``demo`` preset adapted to one site: the site's constraints, one cell per batch, no
    early stopping (validation = training period), checkpoints at epoch ends."""
    return load_config(
        "demo",
        [
            f"model={kind}",
            "name=site-" + kind,
            "data.constraints=[et,gpp,nee]",
            f"train.epochs={epochs}",
            f"train.patience={max(epochs, 1)}",
            "train.batch_size=1",
            "train.initial_validation=false",
            "train.checkpoint_every=0",
            "train.chunk_days=null",  # one cell: the whole record fits in memory without recomputation
            "progress=false",
            f"threads={threads}",
            *overrides,
        ],
    )


def run_site(
    path: str | Path,
    out: str | Path,
    epochs: int = 50,
    models: Sequence[str] = SITE_MODELS,
    threads: int = 2,
    overrides: Sequence[str] = (),
    plots: bool = True,
    baseline_epochs: int | None = None,
    sites: str | Path | None = None,
    lat: float | None = None,
    lon: float | None = None,
    opts=None,
) -> dict[str, object]:
    """Train every model of ``models`` on the site's record but its last year and score the
    held-out year (``baseline_epochs``: epochs of the constant and LSTM models, default ``epochs``).
    Writes ``results.md``, ``metrics.csv``, ``daily_test.csv``, ``summary.json``
    and (``plots``) ``site_daily.png``, ``site_monthly.png`` into ``out``; returns the summary."""
    runtime.configure(threads=threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = tower_cube([path], sites, lat, lon, opts, log=print)  # any tower file (h2cm import-towers)
    time_index = pd.DatetimeIndex(ds["time"].values)
    last_year = int(time_index[-1].year)
    if int(time_index[0].year) >= last_year:
        raise ValueError(f"{path}: the record must span at least two calendar years for a temporal split")
    train_end = pd.Timestamp(f"{last_year - 1}-12-31")
    train = load_cells(ds, [0], (str(time_index[0].date()), str(train_end.date())))
    full = load_cells(ds, [0], None)
    test_days = np.asarray(full.time.year == last_year)
    test_months = np.asarray(full.months.year == last_year)

    rows: list[dict[str, object]] = []
    daily: dict[str, np.ndarray] = {}
    monthly: dict[str, np.ndarray] = {}
    timing: dict[str, dict[str, float]] = {}
    for kind in models:
        n_epochs = epochs if kind == "hybrid" or baseline_epochs is None else baseline_epochs
        cfg = site_config(kind, n_epochs, threads, overrides)
        run_dir = out / "runs" / kind
        t0 = time.perf_counter()
        trainer = FoldTrainer(cfg, 0, run_dir, train, train)
        result = trainer.fit()
        model = load_model(run_dir / BEST)
        sim = simulate(model, full)
        timing[kind] = {
            "train_seconds": round(time.perf_counter() - t0, 1),
            "epochs": n_epochs,
            "best_epoch": result.best_epoch,
        }
        rows += _score_kind(kind, sim, ds, full, test_days, test_months, daily, monthly)

    write_csv(out / "metrics.csv", rows, METRIC_COLUMNS)
    dframe = pd.DataFrame(daily, index=full.time[test_days])
    dframe.index.name = "date"
    dframe.to_csv(out / "daily_test.csv", float_format="%.5g")
    summary = {
        "site_file": str(Path(path).name),
        "site": str(ds.attrs.get("site_id", "")),
        "train_period": [str(time_index[0].date()), str(train_end.date())],
        "test_year": last_year,
        "epochs": epochs,
        "models": list(models),
        "timing": timing,
        "metrics": rows,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    figures = []
    if plots:
        figures = _plots(out, full.time[test_days], full.months[test_months], daily, monthly, models)
    (out / "results.md").write_text(_markdown(summary, rows, figures))
    return summary


def _score_kind(kind: str, sim, ds, full, test_days, test_months, daily: dict, monthly: dict) -> list[dict]:
    """Daily and monthly r, RMSE, bias of one model kind on the held-out year, per tower
    variable it produces; its series (and the tower's) are added to ``daily``/``monthly``."""
    rows: list[dict[str, object]] = []
    for var, (key, dcol, mcol) in SITE_VARIABLES.items():
        if key not in sim or dcol not in ds or mcol not in ds:
            continue
        d_model = sim[key][test_days, 0]
        m_model = to_monthly(sim[key], full)[test_months, 0]
        daily[f"{var}_{kind}"] = d_model
        monthly[f"{var}_{kind}"] = m_model
        d_obs = np.asarray(ds[dcol].values, dtype=np.float64)[test_days, 0, 0]
        m_obs = np.asarray(ds[mcol].values, dtype=np.float64)[test_months, 0, 0]
        daily[f"{var}_obs"], monthly[f"{var}_obs"] = d_obs, m_obs
        for scale, s, o in (("daily", d_model, d_obs), ("monthly", m_model, m_obs)):
            sk = skill(s, o)
            rows.append(
                {
                    "variable": var.upper(),
                    "constrained": "yes" if var in CONSTRAINED else "no (check)",
                    "model": kind,
                    "scale": scale,
                    **{k: sk[k] for k in ("r", "rmse", "bias", "n")},
                }
            )

    return rows


def _markdown(summary: dict, rows: list[dict[str, object]], figures: list[str]) -> str:
    lines = [
        f"# Flux-tower study: {summary['site'] or summary['site_file']}",
        "",
        f"Trained on {summary['train_period'][0]} .. {summary['train_period'][1]} (constraints ET, GPP, NEE; "
        f"monthly loss terms), tested on {summary['test_year']} (held out). RECO is never used in training "
        f"(for the LSTM it is derived as GPP + NEE). One cell: one optimiser step per epoch.",
        "",
    ]
    for scale in ("daily", "monthly"):
        lines += [f"## {scale.capitalize()} skill on the held-out year", ""]
        lines.append(markdown_table([r for r in rows if r["scale"] == scale], METRIC_COLUMNS[:-1] + ("n",)))
        lines.append("")
    lines += ["## Training", ""]
    for kind, t in summary["timing"].items():
        lines.append(
            f"- {kind}: {t['epochs']} epochs in {fmt(float(t['train_seconds']))} s, best epoch {t['best_epoch']}"
        )
    for fig in figures:
        lines += ["", f"![{fig}]({fig})"]
    return "\n".join(lines) + "\n"


def _plots(out: Path, days, months, daily, monthly, models: Sequence[str]) -> list[str]:
    """Daily and monthly time series of the held-out year: tower and every model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for scale, index, series in (("daily", days, daily), ("monthly", months, monthly)):
        fig, axes = plt.subplots(len(SITE_VARIABLES), 1, figsize=(9, 9), sharex=True)
        for ax, var in zip(axes, SITE_VARIABLES, strict=True):
            if f"{var}_obs" in series:
                ax.plot(index, series[f"{var}_obs"], "k.", ms=3 if scale == "daily" else 6, label="tower")
            for kind in models:
                if f"{var}_{kind}" in series:
                    ax.plot(index, series[f"{var}_{kind}"], lw=1.2, label=kind)
            unit = "mm d-1" if var == "et" else "gC m-2 d-1"
            ax.set_ylabel(f"{var.upper()} ({unit})")
        axes[0].legend(ncol=4, fontsize=8)
        fig.tight_layout()
        name = f"site_{scale}.png"
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        names.append(name)
    return names
