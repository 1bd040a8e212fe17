"""Map figures of the report (Fig. 4, Fig. 5, per-cell skill, truth vs model) and the table of
global efficiencies, drawn from ``maps.nc`` and ``skill_cells.nc``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..constraints import HEADLINE_VIEW
from ..evaluation.diagnostics import DIAGNOSTIC_TERMS, DIAGNOSTICS
from ..evaluation.views import VIEW_LABELS
from ..schema import CONSTRAINT_KEYS
from .style import DAYS_PER_YEAR, fold_range, plt, save


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
    gpp = fold_range(maps["model_gpp"].values)[0] * DAYS_PER_YEAR
    nee = fold_range(maps["model_nee"].values)[0] * DAYS_PER_YEAR
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
    return save(fig, out_dir / "maps_gpp_nee.png")


def efficiency_maps(maps: xr.Dataset, out_dir: Path):
    """Fig. 5: PUE, WUE, CUE and LUE maps (ensemble median; those the evaluation has)."""
    keys = [k for k in DIAGNOSTICS if f"model_{k}" in maps]
    if not keys:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for ax, k in zip(axes.ravel(), keys, strict=False):
        label, unit = DIAGNOSTICS[k]
        _map(ax, fig, maps, fold_range(maps[f"model_{k}"].values)[0], f"{k.upper()}: {label}", unit, cmap="viridis")
    for ax in axes.ravel()[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle("Derived efficiencies from mean annual fluxes (ensemble median)")
    fig.tight_layout()
    return save(fig, out_dir / "maps_efficiency.png")


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
    return save(fig, out_dir / "skill_maps.png")


def truth_maps(maps: xr.Dataset, out_dir: Path):
    """Mean annual GPP and NEE: hidden truth beside the model."""
    if "truth_gpp" not in maps or "truth_nee" not in maps:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for row, (k, cmap, centred) in enumerate((("gpp", "YlGn", False), ("nee", "RdBu_r", True))):
        model = fold_range(maps[f"model_{k}"].values)[0] * DAYS_PER_YEAR
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
    return save(fig, out_dir / "truth_maps.png")
