"""The report's figures (matplotlib, Agg backend), drawn from the files ``h2cm evaluate`` writes.

Every function takes opened evaluation Datasets / tables, draws one PNG into ``out_dir`` and
returns its path (or None when the data for it are absent, e.g. the fluxes and constants a pure
LSTM baseline does not produce; panels of absent variables are left out). Axes carry units, every
figure a title, every map a colour bar.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from ..constraints import CONSTRAINT_OUTPUT, CONSTRAINTS  # noqa: E402
from ..evaluation.metrics import area_weighted_mean, pearson_r  # noqa: E402
from ..evaluation.views import VIEW_LABELS, VIEWS, anomalies, msc, prepare  # noqa: E402
from ..schema import CONSTRAINT_KEYS, cf_attrs  # noqa: E402
from .style import (  # noqa: E402
    MODEL_COLOUR,
    MONTH_LETTERS,
    OBS_COLOUR,
    PRODUCT_COLOURS,
    TRUTH_COLOUR,
    VIEW_COLOURS,
    latlon,
)
from .style import fold_range as _range  # noqa: E402
from .style import save as _save  # noqa: E402
from .style import unit as _unit  # noqa: E402

# --- Fig. 3 / C9: skill across folds -------------------------------------------------------------


def skill_bars(summary: pd.DataFrame, out_dir: Path, reference: str = "obs", name: str = "skill_bars.png"):
    """Pearson r and SDR of every constraint and view: bars = median, whiskers = [min, max] across folds."""
    sub = summary[summary["reference"] == reference]
    if sub.empty:
        return None
    targets = list(dict.fromkeys(sub["target"]))
    views = [v for v in (*VIEWS, "spatial") if (sub["view"] == v).any()]
    fig, axes = plt.subplots(2, 1, figsize=(max(8.0, 1.1 * len(targets) + 2), 7.0), sharex=True)
    width = 0.8 / len(views)
    x = np.arange(len(targets))
    for ax, metric, ref_line, label in (
        (axes[0], "r", None, "Pearson r (-)"),
        (axes[1], "sdr", 1.0, "SDR = sd(model) / sd(reference) (-)"),
    ):
        for i, v in enumerate(views):
            med, lo, hi = [], [], []
            for t in targets:
                r = sub[(sub["target"] == t) & (sub["view"] == v) & (sub["metric"] == metric)]
                if r.empty:
                    med.append(np.nan), lo.append(np.nan), hi.append(np.nan)
                else:
                    med.append(r["median"].iloc[0]), lo.append(r["min"].iloc[0]), hi.append(r["max"].iloc[0])
            med, lo, hi = map(np.asarray, (med, lo, hi))
            err = np.vstack([np.clip(med - lo, 0, None), np.clip(hi - med, 0, None)])
            ax.bar(
                x + (i - (len(views) - 1) / 2) * width,
                med,
                width,
                yerr=err,
                capsize=2,
                color=VIEW_COLOURS[v],
                label=VIEW_LABELS.get(v, "across cells"),
            )
        if ref_line is not None:
            ax.axhline(ref_line, color="k", lw=0.8, ls="--")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xticks(x, targets, rotation=30, ha="right")
        ax.set_ylabel(label)
        ax.set_title(f"{'Pearson r' if metric == 'r' else 'SDR'} against {reference}")
    axes[0].set_ylim(min(-0.1, np.nanmin(sub[sub.metric == "r"]["min"].to_numpy(), initial=0) - 0.05), 1.05)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Skill of the area-weighted mean over test cells (median and [min, max] across folds; {reference})")
    fig.tight_layout()
    return _save(fig, out_dir / name)


# --- C1-C8: series of model vs data ----------------------------------------------------------------


def constraint_series(monthly: xr.Dataset, key: str, out_dir: Path):
    """Monthly values, mean seasonal cycle and anomalies of the area-weighted mean over test cells."""
    if f"obs_{key}" not in monthly:
        return None
    months = pd.DatetimeIndex(monthly["month"].values)
    area = monthly["cell_area"].values
    model = monthly[f"model_{CONSTRAINT_OUTPUT[key]}"].values  # (F, M, N)
    obs = monthly[f"obs_{key}"].values
    s, o = prepare(
        key, np.moveaxis(model, 0, 1), np.broadcast_to(obs[:, None, :], np.moveaxis(model, 0, 1).shape), months
    )
    sm = area_weighted_mean(s, area, axis=-1)  # (M, F)
    om = area_weighted_mean(o, area, axis=-1)[:, 0]
    unit = _unit(key, "constraint")
    title = str(cf_attrs(key, "constraint")["long_name"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.3), gridspec_kw={"width_ratios": [2.2, 1, 2.2]})
    for ax, v in zip(axes, VIEWS, strict=True):
        if v == "msc":
            ms, mo, x = msc(sm, months), msc(om, months), np.arange(1, 13)
        elif v == "anomaly":
            ms, mo, x = anomalies(sm, months), anomalies(om, months), months
        else:
            ms, mo, x = sm, om, months
        med, lo, hi = _range(ms, axis=1)
        ax.fill_between(x, lo, hi, color=MODEL_COLOUR, alpha=0.25, lw=0, label="model [min, max] across folds")
        ax.plot(x, med, color=MODEL_COLOUR, lw=1.4, label="model (median of folds)")
        ax.plot(x, mo, color=OBS_COLOUR, lw=1.2, ls="-", marker="." if v != "monthly" else None, label="observations")
        r = pearson_r(med, mo, axis=0)
        ax.set_title(f"{VIEW_LABELS[v]} (r = {float(r):.2f})", fontsize=10)
        ax.set_ylabel(unit)
        if v == "msc":
            ax.set_xticks(range(1, 13), MONTH_LETTERS)
            ax.set_xlabel("month")
        else:
            ax.set_xlabel("time")
            ax.tick_params(axis="x", labelrotation=30)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{key}: {title} (area-weighted mean over test cells)")
    fig.tight_layout()
    return _save(fig, out_dir / f"series_{key}.png")


# --- constants ----------------------------------------------------------------------------------


def constants_figure(constants: pd.DataFrame, out_dir: Path, priors: dict[str, tuple[float, float]] | None = None):
    """Learned Q10 and beta_CO2 (as % per 100 ppm) across folds, with the truth (twin world) and,
    for a run trained with priors, the prior mean +- sd it used (``priors``: name -> (mean, sd),
    :func:`run_priors`); a run without priors gets no band."""
    c = constants.set_index("constant")
    if not {"q10", "beta_co2"} <= set(c.index):
        return None  # a model without constants (the pure LSTM)
    fold_cols = [col for col in constants.columns if col.startswith("fold_")]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    spec = (("q10", 1.0, "Q10 (-)"), ("beta_co2", 1e4, "beta_CO2 (% per 100 ppm)"))
    for ax, (k, scale, label) in zip(axes, spec, strict=True):
        vals = np.array([c.loc[k, f] for f in fold_cols], dtype=float) * scale
        folds = [int(f.split("_")[1]) for f in fold_cols]
        if priors and k in priors:
            mean, sd = (x * scale for x in priors[k])
            ax.axhspan(mean - sd, mean + sd, color="#999", alpha=0.2, label="prior mean +- sd (used in training)")
        ax.scatter(folds, vals, color=MODEL_COLOUR, zorder=3, label="fold")
        ax.axhline(np.median(vals), color=MODEL_COLOUR, lw=1, label="median across folds")
        if "truth" in c.columns and np.isfinite(c.loc[k, "truth"]):
            ax.axhline(c.loc[k, "truth"] * scale, color=TRUTH_COLOUR, ls="--", lw=1.5, label="truth (twin world)")
        ax.set_xlabel("fold")
        ax.set_ylabel(label)
        ax.set_xticks(folds)
        ax.set_title(f"learned {label.split(' (')[0]}")
    axes[0].legend(fontsize=7)
    fig.suptitle("Learned global constants across folds")
    fig.tight_layout()
    return _save(fig, out_dir / "constants.png")


def run_priors(config: dict) -> dict[str, tuple[float, float]] | None:
    """The priors on global constants a run was trained with (its ``loss`` section), or None."""
    loss = config.get("loss") if isinstance(config.get("loss"), dict) else {}
    if not loss.get("priors"):
        return None
    return {k: (float(v["mean"]), float(v["sd"])) for k, v in loss.items() if isinstance(v, dict) and "mean" in v}


# --- Fig. 6: regional mean seasonal cycles --------------------------------------------------------


def regional_cycles(regional: xr.Dataset, out_dir: Path) -> tuple[Path | None, pd.DataFrame]:
    """Mean seasonal cycles of GPP, TER and NEE per TransCom region (model, observations, truth and
    every ``--compare`` product: the paper's comparison with FLUXCOM-X-BASE and TRENDY), and the
    r / R2 of the model's and each product's cycle against each reference (column ``source``)."""
    from ..evaluation.metrics import r_squared

    months = pd.DatetimeIndex(regional["month"].values)
    keep = [i for i in range(regional.sizes["region"]) if int(regional["n_cells"].values[i]) > 0]
    keys = [k for k in ("gpp", "ter", "nee") if f"model_{k}" in regional]
    if not keep or not keys:
        return None, pd.DataFrame()
    products = [str(p) for p in regional["product"].values] if "product" in regional.coords else []
    height = 2.0 * len(keep) + 1.0  # inches: panels, a title line and a legend line
    fig, axes = plt.subplots(len(keep), len(keys), figsize=(11, height), squeeze=False)
    recs = []
    for row, i in enumerate(keep):
        code = str(regional["region"].values[i])
        name = str(regional["region_name"].values[i])
        for col, k in enumerate(keys):
            ax = axes[row, col]
            model = regional[f"model_{k}"].values[:, i, :]  # (F, M)
            m_msc = msc(model.T, months)  # (12, F)
            med, lo, hi = _range(m_msc, axis=1)
            x = np.arange(1, 13)
            ax.fill_between(x, lo, hi, color=MODEL_COLOUR, alpha=0.25, lw=0)
            ax.plot(x, med, color=MODEL_COLOUR, lw=1.4, label="model")
            cycles = {"model": med}
            for j, p in enumerate(products):
                if f"product_{k}" in regional:
                    series = regional[f"product_{k}"].sel(product=p).values[i]
                    if np.isfinite(series).any():
                        cycles[p] = msc(series, months)
                        colour = PRODUCT_COLOURS[j % len(PRODUCT_COLOURS)]
                        ax.plot(x, cycles[p], color=colour, lw=1.1, ls="-.", label=p)
            for ref, colour in (("obs", OBS_COLOUR), ("truth", TRUTH_COLOUR)):
                if f"{ref}_{k}" in regional:
                    series = regional[f"{ref}_{k}"].values[i]
                    if not np.isfinite(series).any():
                        continue
                    ref_msc = msc(series, months)
                    ax.plot(x, ref_msc, color=colour, lw=1.2, ls="--" if ref == "truth" else "-", label=ref)
                    for source, cycle in cycles.items():
                        recs.append(
                            {
                                "region": code,
                                "name": name,
                                "flux": k,
                                "source": source,
                                "reference": ref,
                                "r": float(pearson_r(cycle, ref_msc, axis=0)),
                                "R2": float(r_squared(cycle, ref_msc, axis=0)),
                            }
                        )
            ax.set_xticks(x, MONTH_LETTERS, fontsize=7)
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(f"{k.upper()} (gC m-2 d-1)", fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{code}\n(gC m-2 d-1)", fontsize=8)
    handles = {}
    for ax in axes.ravel():
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    title = "Mean seasonal cycles per TransCom land region (model: median and [min, max] across folds)"
    fig.suptitle(title + ("; other products dash-dotted" if products else ""), y=1 - 0.05 / height)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / height))  # the suptitle is kept clear by tight_layout
    fig.legend(
        list(handles.values()),
        list(handles.keys()),
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 0.3 / height),
        fontsize=8,
        ncol=len(handles),
        frameon=False,
    )
    return _save(fig, out_dir / "regional_msc.png"), pd.DataFrame(recs)


# --- Fig. 7: daily rain pulses at one cell --------------------------------------------------------


def transition_window(prec: np.ndarray, length: int = 150) -> slice:
    """Days around the strongest dry-to-wet transition: where the 30-day mean precipitation jumps
    most from the preceding 30 days (after the first 60 days)."""
    p = np.nan_to_num(np.asarray(prec, dtype=np.float64))
    n = len(p)
    if n <= length:
        return slice(0, n)
    c = np.r_[0.0, np.cumsum(p)]
    w = 30
    t = np.arange(w, n - w)
    after = (c[t + w] - c[t]) / w
    before = (c[t] - c[t - w]) / w
    score = after - before - 2.0 * before  # rising rain after a dry spell
    start_min = min(60, n - length)
    valid = t >= start_min
    t0 = int(t[valid][np.argmax(score[valid])]) if valid.any() else start_min
    a = max(0, min(t0 - length // 3, n - length))
    return slice(a, a + length)


def daily_cell(daily: xr.Dataset, out_dir: Path):
    """Daily NEE, NPP and Rh (those the evaluation has) against precipitation around a dry-to-wet
    transition (Birch effect)."""
    keys = [k for k in ("nee", "npp", "rh") if f"model_{k}" in daily]
    if not keys:
        return None
    time = pd.DatetimeIndex(daily["time"].values)
    prec = daily["prec"].values
    win = transition_window(prec)
    t = time[win]
    fig, axes = plt.subplots(len(keys), 1, figsize=(11, 2.5 * len(keys)), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, k in zip(axes, keys, strict=True):
        v = daily[f"model_{k}"].values[:, win]
        med, lo, hi = _range(v, axis=0)
        ax.fill_between(t, lo, hi, color=MODEL_COLOUR, alpha=0.25, lw=0)
        ax.plot(t, med, color=MODEL_COLOUR, lw=1.3, label=f"model {k.upper()} (median of folds)")
        if f"truth_{k}" in daily:
            ax.plot(t, daily[f"truth_{k}"].values[win], color=TRUTH_COLOUR, lw=1, ls="--", label=f"truth {k.upper()}")
        ax.set_ylabel(f"{k.upper()} (gC m-2 d-1)")
        ax2 = ax.twinx()
        ax2.bar(t, prec[win], color="#4dabf7", alpha=0.5, width=1.0, label="precipitation")
        ax2.set_ylabel("precipitation (mm d-1)")
        ax2.invert_yaxis()
        ax.set_zorder(ax2.get_zorder() + 1)
        ax.patch.set_visible(False)
        ax.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("date")
    fig.suptitle(
        f"Daily fluxes and precipitation at {latlon(daily.attrs['lat'], daily.attrs['lon'])} (dry-to-wet transition)"
    )
    fig.tight_layout()
    return _save(fig, out_dir / "daily_cell.png")


# --- twin world: truth vs model ------------------------------------------------------------------

TRUTH_PANEL_KEYS = ("gpp", "ter", "rh", "ra", "nee", "npp", "tr", "et", "sm", "tws", "runoff", "fapar")


def truth_scatter(monthly: xr.Dataset, out_dir: Path):
    """Monthly model (ensemble median) against the hidden truth at test cells, per output."""
    keys = [k for k in TRUTH_PANEL_KEYS if f"truth_{k}" in monthly and f"model_{k}" in monthly]
    if not keys:
        return None
    ncol = 4
    nrow = int(np.ceil(len(keys) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(12, 3 * nrow), squeeze=False)
    for ax, k in zip(axes.ravel(), keys, strict=False):
        model = _range(monthly[f"model_{k}"].values)[0].ravel()
        truth = monthly[f"truth_{k}"].values.ravel()
        ok = np.isfinite(model) & np.isfinite(truth)
        ax.scatter(truth[ok], model[ok], s=3, alpha=0.4, color=MODEL_COLOUR)
        if ok.any():
            lo, hi = float(min(truth[ok].min(), model[ok].min())), float(max(truth[ok].max(), model[ok].max()))
            ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        r = float(pearson_r(model, truth, axis=0))
        unit = _unit(k)
        ax.set_title(f"{k} (r = {r:.2f})", fontsize=10)
        ax.set_xlabel(f"truth ({unit})", fontsize=8)
        ax.set_ylabel(f"model ({unit})", fontsize=8)
    for ax in axes.ravel()[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle("Twin world: monthly model (median of folds) vs hidden truth at test cells")
    fig.tight_layout()
    return _save(fig, out_dir / "truth_scatter.png")


def constraint_keys(monthly: xr.Dataset) -> list[str]:
    """Constraints with observations in the evaluation (order of the schema)."""
    return [k for k in CONSTRAINT_KEYS if not CONSTRAINTS[k].static and f"obs_{k}" in monthly]
