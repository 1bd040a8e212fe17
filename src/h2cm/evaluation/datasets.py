"""The NetCDF files of an evaluation (:data:`h2cm.evaluation.write.EVAL_FILES`), built from the
plan, the gathered reductions and the scores. Each builder returns an ``xarray.Dataset``; writing
is :mod:`.write`'s job. Variables are named ``model_K`` (per fold), ``obs_K``, ``truth_K`` and
``product_K`` (per ``--compare`` product)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..data.regions import REGION_CODES, REGIONS
from ..schema import OUTPUT_KEYS
from .diagnostics import DIAGNOSTICS, derived_diagnostics, par_from_rn
from .gather import DAILY_KEYS, MAP_KEYS, Gathered
from .metrics import METRICS
from .plan import REGIONAL_KEYS, EvalPlan
from .score import Scores
from .views import VIEWS


def skill_cells_dataset(plan: EvalPlan, scores: Scores, attrs: dict) -> xr.Dataset:
    t = plan.test
    coords = {
        "cell": ("cell", t),
        "lat": ("cell", plan.lat[t]),
        "lon": ("cell", plan.lon[t]),
        "view": ("view", list(VIEWS)),
        "metric": ("metric", list(METRICS)),
    }
    return xr.Dataset(scores.cells, coords=coords, attrs=attrs)


def _product_stack(values: dict[str, dict[str, np.ndarray]], dims: tuple[str, ...]) -> dict[str, xr.DataArray]:
    """name -> key -> array  ->  ``product_KEY`` (product, *dims), NaN for a product without KEY."""
    names = list(values)
    keys = [k for k in OUTPUT_KEYS if any(k in v for v in values.values())]
    out = {}
    for k in keys:
        shape = next(v[k].shape for v in values.values() if k in v)
        arr = np.stack([values[n].get(k, np.full(shape, np.nan)) for n in names]).astype(np.float32)
        out[f"product_{k}"] = xr.DataArray(
            arr, dims=("product", *dims), coords={"product": names}, attrs={"long_name": f"{k} of other products"}
        )
    return out


def monthly_dataset(plan: EvalPlan, got: Gathered, scores: Scores, attrs: dict) -> xr.Dataset:
    """Monthly model (per fold), observations and truth at the test cells."""
    dims3, dims2 = ("fold", "month", "cell"), ("month", "cell")
    monthly, obs, truth = got.monthly, got.obs, scores.truth
    v: dict[str, xr.DataArray] = {}
    for k, a in monthly.values.items():
        v[f"model_{k}"] = xr.DataArray(a, dims=dims3)
    for k, a in monthly.static.items():
        v[f"model_{k}"] = xr.DataArray(a, dims=("fold", "cell"))
    v["prec"] = xr.DataArray(monthly.prec, dims=dims2)
    for k, a in obs.monthly.items():
        if np.isfinite(a).any():
            v[f"obs_{k}"] = xr.DataArray(a, dims=dims2)
    for k, a in obs.static.items():
        if np.isfinite(a).any():
            v[f"obs_{k}"] = xr.DataArray(a, dims="cell")
    for k, a in truth.monthly.items():
        v[f"truth_{k}"] = xr.DataArray(a.astype(np.float32), dims=dims2)
    for k, a in truth.static.items():
        v[f"truth_{k}"] = xr.DataArray(a.astype(np.float32), dims="cell")
    v.update(_product_stack(plan.prod_test, dims2))
    t = plan.test
    coords = {
        "fold": ("fold", np.asarray(plan.folds)),
        "month": ("month", monthly.months),
        "cell": ("cell", t),
        "lat": ("cell", plan.lat[t]),
        "lon": ("cell", plan.lon[t]),
        "cell_area": ("cell", plan.area[t]),
    }
    return xr.Dataset(v, coords=coords, attrs=attrs)


def _diagnostic_arrays(diag: dict[str, np.ndarray], prefix: str, dims) -> dict[str, xr.DataArray]:
    return {
        f"{prefix}_{k}": xr.DataArray(
            a.astype(np.float32), dims=dims, attrs={"long_name": DIAGNOSTICS[k][0], "units": DIAGNOSTICS[k][1]}
        )
        for k, a in diag.items()
    }


def _truth_means(plan: EvalPlan, truth: xr.Dataset, prec: np.ndarray) -> dict[str, xr.DataArray]:
    """Time means of the truth at the map cells and the diagnostics derived from them."""
    cells, days = plan.map_cells, plan.days
    pts = {"lat": xr.DataArray(plan.ii[cells], dims="cell"), "lon": xr.DataArray(plan.jj[cells], dims="cell")}
    tmeans: dict[str, np.ndarray] = {}
    v: dict[str, xr.DataArray] = {}
    for k in MAP_KEYS:
        if k in truth:
            tmeans[k] = np.asarray(truth[k].sel(time=days).mean("time").isel(**pts).values, dtype=np.float64)
            v[f"truth_{k}"] = xr.DataArray(tmeans[k].astype(np.float32), dims="cell")
    if "fapar" in truth:
        par = par_from_rn(plan.ds["rn"].sel(time=days).isel(**pts).values)
        fap = np.asarray(truth["fapar"].sel(time=days).isel(**pts).values, dtype=np.float64)
        tmeans["apar"] = (fap * par).mean(axis=0)
        v["truth_apar"] = xr.DataArray(tmeans["apar"].astype(np.float32), dims="cell")
    if all(k in tmeans for k in ("npp", "gpp", "tr", "apar")):
        tmeans["prec"] = prec
        v.update(_diagnostic_arrays(derived_diagnostics(tmeans), "truth", "cell"))
    return v


def maps_dataset(plan: EvalPlan, got: Gathered, scores: Scores, attrs: dict) -> xr.Dataset:
    """Per-cell time means and derived diagnostics (PUE, WUE, CUE, LUE), model and truth."""
    m = got.means.means()  # the mapped outputs the model produces, apar (with fapar) and prec
    v: dict[str, xr.DataArray] = {
        f"model_{k}": xr.DataArray(a.astype(np.float32), dims=("fold", "cell")) for k, a in m.items() if k != "prec"
    }
    v["prec"] = xr.DataArray(m["prec"].astype(np.float32), dims="cell")
    v.update(_diagnostic_arrays(derived_diagnostics({**m, "prec": m["prec"][None]}), "model", ("fold", "cell")))
    if scores.truth.ds is not None:
        v.update(_truth_means(plan, scores.truth.ds, m["prec"]))
    cells, ds = plan.map_cells, plan.ds
    coords = {
        "fold": ("fold", np.asarray(plan.folds)),
        "cell": ("cell", cells),
        "lat": ("cell", plan.lat[cells]),
        "lon": ("cell", plan.lon[cells]),
        "lat_index": ("cell", plan.ii[cells]),
        "lon_index": ("cell", plan.jj[cells]),
        "cell_area": ("cell", plan.area[cells]),
        "is_test": ("cell", np.isin(cells, plan.test).astype(np.int8)),
    }
    grid = {"grid_lat": np.asarray(ds["lat"].values), "grid_lon": np.asarray(ds["lon"].values)}
    return xr.Dataset(v, coords=coords, attrs={**attrs, **grid})


def regional_means(values: np.ndarray, reg: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(months, cells) -> (regions, months) area-weighted means over the cells with data."""
    ok = np.isfinite(values)
    vw = np.where(ok, values, 0.0) * w
    ww = ok * w
    a = np.full((len(REGIONS), values.shape[0]), np.nan)
    for r in range(1, len(REGIONS) + 1):
        sel = reg == r
        if sel.any():
            den = ww[:, sel].sum(axis=1)
            a[r - 1] = np.where(den > 0, vw[:, sel].sum(axis=1) / np.where(den > 0, den, 1.0), np.nan)
    return a


def _truth_regional(plan: EvalPlan, truth: xr.Dataset) -> dict[str, xr.DataArray]:
    cells = plan.map_cells
    reg, w = plan.regions[cells], plan.area[cells]
    pts = {"lat": xr.DataArray(plan.ii[cells], dims="cell"), "lon": xr.DataArray(plan.jj[cells], dims="cell")}
    v = {}
    for k in REGIONAL_KEYS:
        if k not in truth:
            continue
        mm = np.asarray(truth[k].sel(time=plan.days).isel(**pts).resample(time="MS").mean().values, dtype=np.float64)
        a = np.full((len(REGIONS), len(plan.months)), np.nan)
        for r in range(1, len(REGIONS) + 1):
            sel = reg == r
            if sel.any():
                a[r - 1] = (mm[:, sel] * w[sel]).sum(axis=1) / w[sel].sum()
        v[f"truth_{k}"] = xr.DataArray(a.astype(np.float32), dims=("region", "month"))
    return v


def regional_dataset(plan: EvalPlan, got: Gathered, scores: Scores, attrs: dict) -> xr.Dataset:
    """Monthly area-weighted GPP, TER, NEE per TransCom region: model, obs, truth, products."""
    v: dict[str, xr.DataArray] = {
        f"model_{k}": xr.DataArray(a.astype(np.float32), dims=("fold", "region", "month"))
        for k, a in got.regional.means().items()
    }
    for k, sums in got.obs.regional.items():
        w = got.obs.weight[k]
        a = (sums / np.where(w > 0, w, np.nan))[1:]
        if np.isfinite(a).any():
            v[f"obs_{k}"] = xr.DataArray(a.astype(np.float32), dims=("region", "month"))
    if scores.truth.ds is not None:
        v.update(_truth_regional(plan, scores.truth.ds))
    cells = plan.map_cells
    reg, w = plan.regions[cells], plan.area[cells]
    products = {n: {k: regional_means(a, reg, w) for k, a in vals.items()} for n, vals in plan.prod_map.items()}
    v.update(_product_stack(products, ("region", "month")))
    coords = {
        "fold": ("fold", np.asarray(plan.folds)),
        "region": ("region", list(REGION_CODES)),
        "region_name": ("region", [n for _, n in REGIONS]),
        "n_cells": ("region", np.array([(reg == r).sum() for r in range(1, len(REGIONS) + 1)])),
        "month": ("month", plan.months),
    }
    return xr.Dataset(v, coords=coords, attrs=attrs)


def daily_dataset(plan: EvalPlan, got: Gathered, scores: Scores, attrs: dict) -> xr.Dataset:
    """Daily NEE, NPP, Rh, GPP, TER, ET and precipitation at the figure's cell (Fig. 7)."""
    daily, truth, days = got.daily, scores.truth.ds, plan.days
    v = {f"model_{k}": xr.DataArray(a, dims=("fold", "time")) for k, a in daily.values.items()}
    v["prec"] = xr.DataArray(daily.prec, dims="time")
    v["tair"] = xr.DataArray(daily.tair, dims="time")
    c = daily.cell
    if truth is not None:
        at = {"lat": int(plan.ii[c]), "lon": int(plan.jj[c])}
        for k in DAILY_KEYS:
            if k in truth:
                v[f"truth_{k}"] = xr.DataArray(
                    np.asarray(truth[k].sel(time=days).isel(**at).values, dtype=np.float32), dims="time"
                )
    coords = {"fold": ("fold", np.asarray(plan.folds)), "time": ("time", days)}
    cell = {
        "cell": c,
        "lat": float(plan.lat[c]),
        "lon": float(plan.lon[c]),
        "is_test": int(c in set(plan.test.tolist())),
    }
    return xr.Dataset(v, coords=coords, attrs={**attrs, **cell})
