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

from ..constraints import CONSTRAINT_OUTPUT, CONSTRAINTS, HEADLINE_VIEW  # noqa: E402
from ..evaluation.diagnostics import DIAGNOSTIC_TERMS, DIAGNOSTICS  # noqa: E402
from ..evaluation.metrics import area_weighted_mean, pearson_r  # noqa: E402
from ..evaluation.views import VIEW_LABELS, VIEWS, anomalies, msc, prepare  # noqa: E402
from ..schema import CONSTRAINT_KEYS, cf_attrs  # noqa: E402

DPI = 90
MODEL_COLOUR = "#1f5fa8"
OBS_COLOUR = "#222222"
TRUTH_COLOUR = "#d9480f"
PRODUCT_COLOURS = ("#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#5c940d", "#a61e4d")  # --compare products
VIEW_COLOURS = {"monthly": "#1f5fa8", "msc": "#5fa83a", "anomaly": "#c2410c", "spatial": "#7c3aed"}
MONTH_LETTERS = list("JFMAMJJASOND")
DAYS_PER_YEAR = 365.25


def latlon(lat: float, lon: float) -> str:
    """``15.50 S, 26.50 E`` style position."""
    return f"{abs(lat):.2f} {'S' if lat < 0 else 'N'}, {abs(lon):.2f} {'W' if lon < 0 else 'E'}"


def _unit(key: str, role: str = "output") -> str:
    u = str(cf_attrs(key, role)["units"])
    return u.replace("g m-2 d-1", "gC m-2 d-1")


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _range(a: np.ndarray, axis: int = 0):
    """median, min, max across ``axis`` (folds), NaN-safe."""
    a = np.asarray(a, dtype=np.float64)
    ok = np.isfinite(a).any(axis=axis)
    filled = np.where(np.isfinite(a), a, np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(filled, axis=axis)
            lo = np.nanmin(filled, axis=axis)
            hi = np.nanmax(filled, axis=axis)
    return np.where(ok, med, np.nan), np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


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


# --- maps ---------------------------------------------------------------------------------------


def _regular(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A regular axis covering the (possibly gappy) coordinate ``c`` and each value's position."""
    c = np.asarray(c, dtype=np.float64)
    steps = np.diff(np.unique(c))
    res = float(steps[steps > 1e-9].min()) if steps.size else 1.0
    axis = c.min() + res * np.arange(int(round((c.max() - c.min()) / res)) + 1)
    return axis, np.rint((c - c.min()) / res).astype(np.int64)


def _grid(maps: xr.Dataset, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell values on a regular lat/lon grid (cubes of separate regions have gaps in lat/lon)."""
    lat, ilat = _regular(np.atleast_1d(np.asarray(maps.attrs["grid_lat"], dtype=np.float64)))
    lon, ilon = _regular(np.atleast_1d(np.asarray(maps.attrs["grid_lon"], dtype=np.float64)))
    g = np.full((len(lat), len(lon)), np.nan)
    g[ilat[maps["lat_index"].values], ilon[maps["lon_index"].values]] = values
    return lat, lon, g


def _edges(c: np.ndarray) -> np.ndarray:
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.r_[c[0] - (c[1] - c[0]) / 2, mid, c[-1] + (c[-1] - c[-2]) / 2]


def _map(ax, fig, maps, values, title, unit, cmap="viridis", vmin=None, vmax=None, centred=False):
    lat, lon, g = _grid(maps, values)
    finite = g[np.isfinite(g)]
    if finite.size and vmin is None:
        vmin, vmax = np.percentile(finite, [2, 98])
        if centred:
            m = max(abs(vmin), abs(vmax)) or 1.0
            vmin, vmax = -m, m
        if vmin == vmax:
            vmin, vmax = vmin - 1e-6, vmax + 1e-6
    mesh = ax.pcolormesh(
        _edges(lon), _edges(lat), np.ma.masked_invalid(g), cmap=cmap, vmin=vmin, vmax=vmax, shading="flat"
    )
    rows, cols = np.nonzero(np.isfinite(g))
    if rows.size:  # zoom on the mapped cells (with a margin)
        ax.set_xlim(lon[cols].min() - 5, lon[cols].max() + 5)
        ax.set_ylim(max(lat[rows].min() - 5, -90), min(lat[rows].max() + 5, 90))
    ax.set_facecolor("#e8eef5")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude (degrees north)")
    ax.set_aspect("equal", adjustable="box")
    cb = fig.colorbar(mesh, ax=ax, shrink=0.85)
    cb.set_label(unit)
    return mesh


def annual_maps(maps: xr.Dataset, out_dir: Path):
    """Fig. 4: mean annual GPP and NEE (ensemble median), gC m-2 yr-1."""
    if "model_gpp" not in maps or "model_nee" not in maps:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    gpp = _range(maps["model_gpp"].values)[0] * DAYS_PER_YEAR
    nee = _range(maps["model_nee"].values)[0] * DAYS_PER_YEAR
    _map(axes[0], fig, maps, gpp, "mean annual GPP (ensemble median)", "gC m-2 yr-1", cmap="YlGn")
    _map(
        axes[1],
        fig,
        maps,
        nee,
        "mean annual NEE (ensemble median; < 0 = sink)",
        "gC m-2 yr-1",
        cmap="RdBu_r",
        centred=True,
    )
    fig.suptitle("Mean annual carbon fluxes")
    fig.tight_layout()
    return _save(fig, out_dir / "maps_gpp_nee.png")


def efficiency_maps(maps: xr.Dataset, out_dir: Path):
    """Fig. 5: PUE, WUE, CUE and LUE maps (ensemble median; those the evaluation has)."""
    keys = [k for k in DIAGNOSTICS if f"model_{k}" in maps]
    if not keys:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for ax, k in zip(axes.ravel(), keys, strict=False):
        label, unit = DIAGNOSTICS[k]
        _map(ax, fig, maps, _range(maps[f"model_{k}"].values)[0], f"{k.upper()}: {label}", unit, cmap="viridis")
    for ax in axes.ravel()[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle("Derived efficiencies from mean annual fluxes (ensemble median)")
    fig.tight_layout()
    return _save(fig, out_dir / "maps_efficiency.png")


def efficiency_table(maps: xr.Dataset) -> pd.DataFrame:
    """Table 3: global efficiencies as ratios of area-weighted mean fluxes over the mapped cells,
    median [min, max] across folds (truth too on a twin world)."""
    area = maps["cell_area"].values.astype(np.float64)

    def glob(v: np.ndarray) -> np.ndarray:  # (..., cells) -> (...)
        v = np.asarray(v, dtype=np.float64)
        return np.nansum(v * area, axis=-1) / np.nansum(np.where(np.isfinite(v), area, 0.0), axis=-1)

    recs = []
    for k, (label, unit) in DIAGNOSTICS.items():
        num, den = DIAGNOSTIC_TERMS[k]
        if f"model_{num}" not in maps or (den != "prec" and f"model_{den}" not in maps):
            continue  # a term the model does not produce (the pure LSTM has no transpiration)
        den_v = maps["prec"].values[None] if den == "prec" else maps[f"model_{den}"].values
        per_fold = glob(maps[f"model_{num}"].values) / glob(den_v)
        rec = {
            "diagnostic": k.upper(),
            "definition": label,
            "units": unit,
            "median": float(np.median(per_fold)),
            "min": float(np.min(per_fold)),
            "max": float(np.max(per_fold)),
        }
        t_num, t_den = f"truth_{num}", ("prec" if den == "prec" else f"truth_{den}")
        if t_num in maps and t_den in maps:
            rec["truth"] = float(glob(maps[t_num].values) / glob(maps[t_den].values))
        recs.append(rec)
    return pd.DataFrame(recs)


def skill_maps(skill: xr.Dataset, out_dir: Path, metric: str = "r"):
    """Per-cell skill of the ensemble median against observations, on each constraint's headline
    view (the view its loss term uses)."""

    keys = [k for k in CONSTRAINT_KEYS if f"obs_{k}" in skill]
    if not keys:
        return None
    ncol = min(3, len(keys))
    nrow = int(np.ceil(len(keys) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.6 * nrow), squeeze=False)
    lat, lon = skill["lat"].values, skill["lon"].values
    for ax, k in zip(axes.ravel(), keys, strict=False):
        v = HEADLINE_VIEW[k]
        vals = skill[f"obs_{k}"].sel(view=v, metric=metric).values
        sc = ax.scatter(lon, lat, c=vals, cmap="RdYlBu", vmin=-1, vmax=1, marker="s", s=14, edgecolors="none")
        ax.set_facecolor("#e8eef5")
        ax.set_xlim(lon.min() - 5, lon.max() + 5)
        ax.set_ylim(max(lat.min() - 5, -90), min(lat.max() + 5, 90))
        ax.set_title(f"{k}: {VIEW_LABELS[v]}", fontsize=10)
        ax.set_xlabel("longitude (degrees east)", fontsize=8)
        ax.set_ylabel("latitude (degrees north)", fontsize=8)
        fig.colorbar(sc, ax=ax, shrink=0.85).set_label("Pearson r (-)")
    for ax in axes.ravel()[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle("Per-cell Pearson r of the ensemble median against observations (test cells)")
    fig.tight_layout()
    return _save(fig, out_dir / "skill_maps.png")


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


def truth_maps(maps: xr.Dataset, out_dir: Path):
    """Mean annual GPP and NEE: hidden truth beside the model."""
    if "truth_gpp" not in maps or "truth_nee" not in maps:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for row, (k, cmap, centred) in enumerate((("gpp", "YlGn", False), ("nee", "RdBu_r", True))):
        model = _range(maps[f"model_{k}"].values)[0] * DAYS_PER_YEAR
        truth = maps[f"truth_{k}"].values * DAYS_PER_YEAR
        both = np.r_[model[np.isfinite(model)], truth[np.isfinite(truth)]]
        vmin, vmax = np.percentile(both, [2, 98]) if both.size else (0, 1)
        if centred:
            m = max(abs(vmin), abs(vmax)) or 1.0
            vmin, vmax = -m, m
        _map(axes[row, 0], fig, maps, truth, f"truth: mean annual {k.upper()}", "gC m-2 yr-1", cmap, vmin, vmax)
        _map(axes[row, 1], fig, maps, model, f"model: mean annual {k.upper()}", "gC m-2 yr-1", cmap, vmin, vmax)
    fig.suptitle("Twin world: hidden truth vs model (ensemble median)")
    fig.tight_layout()
    return _save(fig, out_dir / "truth_maps.png")


def constraint_keys(monthly: xr.Dataset) -> list[str]:
    """Constraints with observations in the evaluation (order of the schema)."""
    return [k for k in CONSTRAINT_KEYS if not CONSTRAINTS[k].static and f"obs_{k}" in monthly]
