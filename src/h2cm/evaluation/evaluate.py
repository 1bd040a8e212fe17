"""``h2cm evaluate``: skill of a run's fold ensemble (docs/evaluation.md) and the diagnostics
the report draws.

One pass of every fold's model over the cells (test cells, plus all land cells for maps unless
``--maps-cells test``) feeds the reducers of :mod:`.collect`. Written to ``RUN/evaluation/``
(each file atomically):

| file | content |
|---|---|
| ``metrics_folds.csv`` | reference, target, view, metric, fold, value, source (area-weighted mean over test cells) |
| ``metrics_summary.csv`` / ``metrics.md`` | median, min, max across folds (Figure 3, Table C1), per source |
| ``constants.csv`` | learned global constants per fold, median, [min, max], truth if known |
| ``skill_cells.nc`` | per-cell metrics of the ensemble median (maps) |
| ``monthly_test.nc`` | monthly model (per fold), observations and truth at the test cells |
| ``maps.nc`` | per-cell time means, derived diagnostics (PUE, WUE, CUE, LUE), model and truth |
| ``regional.nc`` | monthly area-weighted GPP, TER, NEE per TransCom region (model, obs, truth, products) |
| ``daily_cell.nc`` | daily NEE, NPP, Rh, GPP, TER and precipitation at one cell (Fig. 7) |
| ``summary.json`` | what was evaluated (cells, folds, period, cube, model, timings), headline metrics, omissions |

``reference`` is ``obs`` (the cube's constraints) or ``truth`` (the twin world's hidden truth, for
every output, including the ones no observation constrains). ``source`` is ``model`` (the run's
fold ensemble) or the name of another simulation product given with ``--compare NAME=PATH``
(:mod:`.compare`), scored on the same test cells, months and views as a one-member ensemble
(its ``fold`` is empty); the products' regional cycles go to ``regional.nc``.

Every model kind is evaluated on what it produces (:mod:`.coverage`): a pure LSTM baseline has
only the variables it predicts, so the analyses needing others (skill of unpredicted outputs
against the truth, parameters, constants, maps of TER/Rh/Ra/T, WUE, ...) are left out and listed
in ``summary.json`` (``not_evaluated``) and ``metrics.md``; ``constants.csv`` then has no rows.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__, runtime
from ..constraints import CONSTRAINT_OUTPUT, HEADLINE_VIEW
from ..constraints import cue_of_means as model_cue
from ..data.regions import REGION_CODES, REGIONS, region_index
from ..schema import CONSTANT_KEYS, CONSTRAINT_KEYS, OUTPUT_KEYS, STATIC_PARAMETER_KEYS
from . import io
from .collect import DailyCollector, MeanCollector, MonthlyCollector, RegionalCollector
from .compare import load_products, parse_compare
from .coverage import Coverage, no_constants_text, not_evaluated_text
from .diagnostics import DIAGNOSTICS, derived_diagnostics, diagnostic_outputs, par_from_rn
from .ensemble import batches, ensemble_constants, ensemble_static_keys, run_ensemble, stored_ensemble
from .metrics import METRICS
from .outputs import global_attrs
from .predict import resolve_cube, select_cells, tile_batches
from .rundir import RunDir
from .skill import (
    MODEL_SOURCE,
    cell_skill,
    comparison_frame,
    fmt,
    global_skill,
    markdown_table,
    model_rows,
    rows,
    spatial_skill,
    summarise,
)
from .views import VIEWS, monthly_means

EVAL_OUTPUT_FILES: tuple[str, ...] = (
    "metrics_folds.csv",
    "metrics_summary.csv",
    "metrics.md",
    "constants.csv",
    "skill_cells.nc",
    "monthly_test.nc",
    "maps.nc",
    "regional.nc",
    "daily_cell.nc",
    "summary.json",
)
MAP_KEYS: tuple[str, ...] = ("gpp", "npp", "nee", "ter", "rh", "ra", "tr", "et", "runoff", "fapar")
REGIONAL_KEYS: tuple[str, ...] = ("gpp", "ter", "nee")
DAILY_KEYS: tuple[str, ...] = ("nee", "npp", "rh", "gpp", "ter", "et")
# default cell for Fig. 7: a southern African savanna (Zambia / Angola miombo belt)
SAVANNA_BOX = (-20.0, -8.0, 12.0, 40.0)  # lat_min, lat_max, lon_min, lon_max
SAVANNA_CENTRE = (-15.0, 27.0)
TRUTH_SUMMARY_KEYS: tuple[str, ...] = ("gpp", "ter", "rh", "ra", "tr", "sm", "nee", "et")  # the printed truth line


# --- atomic file helpers -------------------------------------------------------------------------


def _tmp(path: Path) -> Path:
    return path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def write_text(path: Path, text: str) -> Path:
    tmp = _tmp(path)
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_netcdf(ds: xr.Dataset, path: Path) -> Path:
    tmp = _tmp(path)
    try:
        ds.to_netcdf(tmp, engine="netcdf4")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# --- the Fig. 7 cell ---------------------------------------------------------------------------


def choose_cell(ds: xr.Dataset, candidates: np.ndarray, lat: np.ndarray, lon: np.ndarray, near=None) -> int:
    """The cell for daily rain-pulse plots: the candidate nearest ``near`` (lat, lon) if given;
    else the most savanna-covered candidate in the southern African savanna belt; else the
    candidate nearest that belt's centre."""
    candidates = np.asarray(candidates, dtype=np.int64)
    clat, clon = lat[candidates], lon[candidates]
    if near is not None:
        d = (clat - near[0]) ** 2 + (((clon - near[1]) + 180) % 360 - 180) ** 2
        return int(candidates[np.argmin(d)])
    la0, la1, lo0, lo1 = SAVANNA_BOX
    inside = (clat >= la0) & (clat <= la1) & (clon >= lo0) & (clon <= lo1)
    if inside.any() and "feature" in ds.coords:
        feats = [str(f) for f in ds["feature"].values]
        cols = [feats.index(f) for f in ("lc_sav", "lc_wsa", "lc_gra") if f in feats]
        if cols:
            ii, jj = io.land_grid_index(ds)
            sel = candidates[inside]
            st = np.asarray(ds["static"].isel(feature=cols).values)  # (lat, lon, k)
            score = st[ii[sel], jj[sel]].sum(axis=-1)
            if np.isfinite(score).any():
                return int(sel[np.nanargmax(score)])
    d = (clat - SAVANNA_CENTRE[0]) ** 2 + (clon - SAVANNA_CENTRE[1]) ** 2
    return int(candidates[np.argmin(d)])


# --- truth -------------------------------------------------------------------------------------


def _truth_at_cells(truth: xr.Dataset, ii, jj, period_time: pd.DatetimeIndex, keys) -> dict[str, xr.DataArray]:
    pts = {"lat": xr.DataArray(ii, dims="cell"), "lon": xr.DataArray(jj, dims="cell")}
    out = {}
    for k in keys:
        if k in truth:
            da = truth[k].isel(**pts)
            if "time" in da.dims:
                da = da.sel(time=period_time)
            out[k] = da
    return out


# --- main --------------------------------------------------------------------------------------


def evaluate(
    run,
    cube=None,
    out=None,
    period=None,
    maps_cells: str = "all",
    cell=None,
    batch_cells: int = 256,
    threads: int | None = None,
    progress: bool = True,
    simulations=None,
    compare=None,
) -> Path:
    """Evaluate every fold of ``run``; write the files listed in the module docstring to ``out``
    (default ``RUN/evaluation``) and return that folder. ``simulations``: a daily ``h2cm predict``
    store with per-fold values covering the cells and period; its outputs are read instead of
    simulated again (the models are still loaded for their constants). ``compare``: name -> path
    (``PATH#GROUP`` for a group) of other simulation products to score beside the models; each
    is checked before anything is simulated (ValueError naming the product)."""
    runtime.configure(threads=threads)
    t0 = time.perf_counter()
    rd = RunDir.open(run)
    cube_path = resolve_cube(rd, cube)
    ds = io.open_cube(cube_path)
    out = Path(out) if out else rd.path / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    per = io.parse_period(period) if isinstance(period, str) or period is None else period
    per = per if per is not None else rd.period
    days = pd.DatetimeIndex(ds["time"].values)
    if per is not None:
        lo = pd.Timestamp(per[0]) if per[0] is not None else days[0]
        hi = pd.Timestamp(per[1]) if per[1] is not None else days[-1]
        days = days[(days >= lo) & (days <= hi)]
        per = (days[0], days[-1])
    months, _ = monthly_means(np.zeros(len(days)), days)

    test = select_cells(rd, ds, "test")
    map_cells = select_cells(rd, ds, maps_cells) if maps_cells != "test" else test
    ii, jj = io.land_grid_index(ds)
    lat_all = np.asarray(ds["lat"].values, dtype=np.float64)[ii]
    lon_all = np.asarray(ds["lon"].values, dtype=np.float64)[jj]
    area_all = np.asarray(ds["cell_area"].values, dtype=np.float64)[ii, jj]
    # Fig. 7 by default looks for a southern African savanna cell among all land cells (a random
    # test set may hold none); it is simulated alongside the others whether or not it is a test cell
    fig_cell = choose_cell(ds, np.arange(len(ii)) if cell is None else map_cells, lat_all, lon_all, cell)
    compare = dict(compare or {})
    prod_test, (prod_map,) = load_products(
        compare, OUTPUT_KEYS, months, lat_all, lon_all, test, extra=[(map_cells, REGIONAL_KEYS)]
    )
    folds = rd.folds
    nf = len(folds)
    models = rd.load_models()
    cov = Coverage.of(models)  # what the models produce (the pure LSTM: only what it predicts)

    monthly = MonthlyCollector(test, months, cov.outputs, nf)
    means = MeanCollector(map_cells, cov.keep("maps of mean annual fluxes", MAP_KEYS), nf)
    regions_all = region_index(lat_all, lon_all)
    regional_keys = cov.keep("regional mean seasonal cycles (Fig. 6)", REGIONAL_KEYS)
    regional = RegionalCollector(
        map_cells, regions_all[map_cells], area_all[map_cells], months, regional_keys, nf, len(REGIONS)
    )
    daily = DailyCollector(fig_cell, days, cov.keep("daily series at one cell (Fig. 7)", DAILY_KEYS), nf)
    obs = {k: np.full((len(months), len(test)), np.nan, dtype=np.float32) for k in CONSTRAINT_KEYS if k != "cue"}
    obs_cue = np.full(len(test), np.nan, dtype=np.float32)
    obs_regional = {k: np.zeros((len(REGIONS) + 1, len(months))) for k in ("gpp", "nee")}
    obs_weight = {k: np.zeros((len(REGIONS) + 1, len(months))) for k in ("gpp", "nee")}
    have_obs: set[str] = set()

    cells = np.unique(np.concatenate([test, map_cells, [fig_cell]]))
    test_pos = {int(c): i for i, c in enumerate(test)}
    map_set = set(map_cells.tolist())

    def load(c):
        return io.load_cells(ds, c, per)

    blocks = None
    if simulations is not None:
        try:
            tiles = tile_batches(ii[cells], jj[cells], cells, 10, batch_cells)
            blocks = stored_ensemble(
                simulations,
                load,
                tiles,
                ii,
                jj,
                days,
                folds,
                cov.outputs,
                progress=progress,
                static=ensemble_static_keys(models),
            )
        except (ValueError, FileNotFoundError, KeyError) as err:
            print(f"not reading {simulations} ({err}); simulating instead")
    if blocks is None:
        blocks = run_ensemble(
            models, load, batches(cells, batch_cells), cov.outputs, progress=progress, desc="evaluate"
        )
    for block in blocks:
        monthly.add(block)
        means.add(block)
        regional.add(block)
        daily.add(block)
        if block.first:
            data = block.data
            mpos = months.get_indexer(data.months)
            for j, c in enumerate(block.cells):
                t = test_pos.get(int(c))
                if t is not None:
                    for k, v in data.constraints.items():
                        have_obs.add(k)
                        if k == "cue":
                            obs_cue[t] = float(v[j])
                        elif k in obs:
                            obs[k][mpos[mpos >= 0], t] = v[mpos >= 0, j].numpy()
                if int(c) in map_set:
                    r = regions_all[int(c)]
                    for k in ("gpp", "nee"):
                        if k in data.constraints:
                            v = data.constraints[k][:, j].numpy().astype(np.float64)
                            ok = np.isfinite(v) & (mpos >= 0)
                            obs_regional[k][r, mpos[ok]] += v[ok] * area_all[int(c)]
                            obs_weight[k][r, mpos[ok]] += area_all[int(c)]
    t_sim = time.perf_counter() - t0

    area_test = area_all[test]
    long_rows: list[dict] = []
    cell_vars: dict[str, xr.DataArray] = {}

    def add_cell_skill(reference: str, target: str, res: dict) -> None:
        arr = np.stack([np.stack([res[v][m] for m in METRICS]) for v in VIEWS])  # (view, metric, cell)
        cell_vars[f"{reference}_{target}"] = xr.DataArray(
            arr.astype(np.float32),
            dims=("view", "metric", "cell"),
            attrs={"long_name": f"per-cell skill of the ensemble median against {reference}: {target}"},
        )

    # observations
    for key in CONSTRAINT_KEYS:
        needs = ("npp", "gpp") if key == "cue" else (CONSTRAINT_OUTPUT[key],)
        if key not in have_obs or not cov.has(f"skill against observations of {key}", needs):
            continue
        if key == "cue":
            npp = np.nanmean(monthly.values["npp"], axis=1)
            gpp = np.nanmean(monthly.values["gpp"], axis=1)
            long_rows += rows("obs", "cue", spatial_skill(model_cue(npp, gpp), obs_cue), folds)
            continue
        ref = obs[key]
        if not np.isfinite(ref).any():
            continue
        model = monthly.values[CONSTRAINT_OUTPUT[key]]
        long_rows += rows("obs", key, global_skill(model, ref, area_test, months, key), folds)
        add_cell_skill("obs", key, cell_skill(model, ref, months, key))

    # hidden truth
    truth = io.open_truth(cube_path)
    truth_monthly: dict[str, np.ndarray] = {}
    truth_static: dict[str, np.ndarray] = {}
    truth_constants: dict[str, float] = {}
    truth_for_products: dict[str, np.ndarray] = {}
    if truth is not None:
        what = "skill against the hidden truth"
        truth_outputs = cov.keep(what, [k for k in OUTPUT_KEYS if k in truth])
        truth_params = cov.keep(f"{what} of the static parameters", [k for k in STATIC_PARAMETER_KEYS if k in truth])
        prod_keys = {k for v in prod_test.values() for k in v if k in truth and k not in truth_outputs}
        tk = _truth_at_cells(truth, ii[test], jj[test], days, (*truth_outputs, *truth_params, *sorted(prod_keys)))
        for key in sorted(prod_keys):
            truth_for_products[key] = monthly_means(np.asarray(tk[key].transpose("time", "cell").values), days)[1]
        for key in truth_outputs:
            if key in tk:
                _, m = monthly_means(np.asarray(tk[key].transpose("time", "cell").values), days)
                truth_monthly[key] = m
                long_rows += rows("truth", key, global_skill(monthly.values[key], m, area_test, months, key), folds)
                add_cell_skill("truth", key, cell_skill(monthly.values[key], m, months, key))
        for key in truth_params:
            if key in tk:
                truth_static[key] = np.asarray(tk[key].values, dtype=np.float64)
                long_rows += rows("truth", key, spatial_skill(monthly.static[key], truth_static[key]), folds)
        for key in CONSTANT_KEYS:
            if key in truth:
                truth_constants[key] = float(truth[key].values)

    truth_for_products.update(truth_monthly)
    for name, values in prod_test.items():
        long_rows += _product_rows(name, values, obs, obs_cue, have_obs, truth_for_products, area_test, months)
    long = pd.DataFrame(long_rows, columns=["reference", "target", "view", "metric", "fold", "value", "source"])
    long["fold"] = long["fold"].astype("Int64")  # empty for the products (no folds)
    summary = summarise(long)
    cov.keep("learned global constants", CONSTANT_KEYS)
    for k, (label, _) in DIAGNOSTICS.items():
        cov.has(f"derived efficiency {k.upper()}, {label}", diagnostic_outputs(k))
    constants = ensemble_constants(models)  # none for the pure LSTM
    const_df = _constants_table(constants, folds, truth_constants)

    # files
    write_text(out / "metrics_folds.csv", long.to_csv(index=False))
    write_text(out / "metrics_summary.csv", summary.to_csv(index=False))
    md = _markdown(summary, const_df, rd, len(test), nf, days, {**cov.summary(), "compare": compare})
    write_text(out / "metrics.md", md)
    write_text(out / "constants.csv", const_df.to_csv(index=False))
    cell_coords = {
        "cell": ("cell", test),
        "lat": ("cell", lat_all[test]),
        "lon": ("cell", lon_all[test]),
        "view": ("view", list(VIEWS)),
        "metric": ("metric", list(METRICS)),
    }
    attrs = global_attrs(title="H2CM evaluation", h2cm_run=str(rd.path.resolve()), h2cm_cube=str(cube_path))
    write_netcdf(xr.Dataset(cell_vars, coords=cell_coords, attrs=attrs), out / "skill_cells.nc")
    write_netcdf(
        _monthly_dataset(
            monthly,
            obs,
            obs_cue,
            truth_monthly,
            truth_static,
            test,
            lat_all,
            lon_all,
            area_all,
            folds,
            attrs,
            prod_test,
        ),
        out / "monthly_test.nc",
    )
    write_netcdf(
        _maps_dataset(means, map_cells, lat_all, lon_all, ii, jj, truth, ds, days, folds, test, attrs),
        out / "maps.nc",
    )
    write_netcdf(
        _regional_dataset(
            regional,
            obs_regional,
            obs_weight,
            truth,
            ds,
            days,
            months,
            ii,
            jj,
            map_cells,
            regions_all,
            area_all,
            folds,
            attrs,
            prod_map,
        ),
        out / "regional.nc",
    )
    write_netcdf(_daily_dataset(daily, truth, ii, jj, days, folds, lat_all, lon_all, attrs), out / "daily_cell.nc")
    headline = headline_metrics(summary)
    info = {
        "h2cm": __version__,
        "run": str(rd.path.resolve()),
        "cube": str(Path(cube_path).resolve()),
        "twin_world": truth is not None,
        "folds": folds,
        "n_test_cells": int(len(test)),
        "n_map_cells": int(len(map_cells)),
        "map_cells": maps_cells,
        "period": [str(days[0].date()), str(days[-1].date())],
        "daily_cell": {"cell": int(fig_cell), "lat": float(lat_all[fig_cell]), "lon": float(lon_all[fig_cell])},
        "seconds_simulation": round(t_sim, 1),
        "seconds_total": round(time.perf_counter() - t0, 1),
        "headline": headline,
        "compare": compare,
        "config_name": rd.config.get("name"),
        **cov.summary(),
    }
    write_text(out / "summary.json", json.dumps(info, indent=1) + "\n")
    if progress:
        print(summary_text(summary, const_df, info))
    return out


def _product_rows(name, values, obs, obs_cue, have_obs, truth_monthly, area, months) -> list[dict]:
    """Skill rows of one ``--compare`` product (``values``: key -> (months, test cells)) against the
    observations and the truth, exactly as the models are scored (a one-member ensemble)."""
    out: list[dict] = []
    for key in CONSTRAINT_KEYS:
        if key not in have_obs:
            continue
        if key == "cue":
            if "npp" in values and "gpp" in values and np.isfinite(obs_cue).any():
                cue = model_cue(np.nanmean(values["npp"], axis=0), np.nanmean(values["gpp"], axis=0))
                out += rows("obs", "cue", spatial_skill(cue[None], obs_cue), [None], source=name)
            continue
        target = CONSTRAINT_OUTPUT[key]
        if target in values and np.isfinite(obs[key]).any():
            out += rows("obs", key, global_skill(values[target][None], obs[key], area, months, key), [None], name)
    for key in OUTPUT_KEYS:
        if key in values and key in truth_monthly:
            out += rows(
                "truth", key, global_skill(values[key][None], truth_monthly[key], area, months, key), [None], name
            )
    return out


def headline_metrics(summary: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per constraint, on the view its loss uses: median r, RMSE, SDR, bias across folds."""
    out: dict[str, dict[str, float]] = {}
    summary = model_rows(summary)
    sub = summary[summary["reference"] == "obs"]
    for key, v in HEADLINE_VIEW.items():
        r = sub[(sub["target"] == key) & (sub["view"] == v)]
        if not r.empty:
            out[key] = {"view": v, **{m: float(r[r["metric"] == m]["median"].iloc[0]) for m in METRICS}}
    return out


def summary_text(summary: pd.DataFrame, constants: pd.DataFrame, info: dict) -> str:
    """What ``h2cm evaluate`` prints."""
    products = summary[summary["source"] != MODEL_SOURCE] if "source" in summary else summary.iloc[:0]
    summary = model_rows(summary)
    lines = [
        f"evaluated {len(info['folds'])} folds on {info['n_test_cells']} test cells, "
        f"{info['period'][0]}..{info['period'][1]} (area-weighted mean over test cells; median across folds)",
        f"{'constraint':<12} {'view':<8} {'r':>7} {'RMSE':>9} {'SDR':>7} {'bias':>9}",
    ]
    for key, m in info["headline"].items():
        lines.append(f"{key:<12} {m['view']:<8} {m['r']:7.3f} {m['rmse']:9.3g} {m['sdr']:7.3f} {m['bias']:9.3g}")
    tr = summary[(summary["reference"] == "truth") & (summary["view"] == "monthly") & (summary["metric"] == "r")]
    if not tr.empty:
        keys = TRUTH_SUMMARY_KEYS
        parts = [f"{k}={tr[tr['target'] == k]['median'].iloc[0]:.2f}" for k in keys if (tr["target"] == k).any()]
        lines.append("against the hidden truth (monthly r): " + " ".join(parts))
    c = constants.set_index("constant")
    parts = []
    for k in c.index:
        s = f"{k}={c.loc[k, 'median']:.4g} [{c.loc[k, 'min']:.4g}, {c.loc[k, 'max']:.4g}]"
        if "truth" in c.columns and np.isfinite(c.loc[k, "truth"]):
            s += f" (truth {c.loc[k, 'truth']:.4g})"
        parts.append(s)
    lines.append("constants: " + ("; ".join(parts) or f"none; {no_constants_text(info)}"))
    for name in dict.fromkeys(products["source"]):
        p = products[(products["source"] == name) & (products["metric"] == "r")]
        parts = []
        for ref, view, label in (("obs", None, "against observations (headline view) r"), ("truth", "monthly", None)):
            sub = p[p["reference"] == ref]
            if view is None:
                got = [
                    f"{k}={sub[(sub.target == k) & (sub.view == v)]['median'].iloc[0]:.2f}"
                    for k, v in HEADLINE_VIEW.items()
                    if ((sub.target == k) & (sub.view == v)).any()
                ]
            else:
                label = "against the hidden truth (monthly r)"
                tr = sub[sub.view == view].set_index("target")["median"]
                got = [f"{k}={tr[k]:.2f}" for k in TRUTH_SUMMARY_KEYS if k in tr.index]
            if got:
                parts.append(f"{label}: {' '.join(got)}")
        lines.append(f"--compare {name}: " + ("; ".join(parts) or "no variable to score"))
    intro, skipped = not_evaluated_text(info)
    if skipped:
        lines += [intro, *(f"  - {s}" for s in skipped)]
    return "\n".join(lines)


def _constants_table(constants: dict[str, np.ndarray], folds, truth: dict[str, float]) -> pd.DataFrame:
    """One row per learned constant (none for the pure LSTM: the header only)."""
    recs = []
    for k, v in constants.items():
        rec = {"constant": k, **{f"fold_{f}": float(x) for f, x in zip(folds, v, strict=True)}}
        rec.update(median=float(np.median(v)), min=float(v.min()), max=float(v.max()))
        rec["truth"] = truth.get(k, np.nan)
        recs.append(rec)
    return pd.DataFrame(recs, columns=["constant", *(f"fold_{f}" for f in folds), "median", "min", "max", "truth"])


def _markdown(summary, const_df, rd, n_test, nf, days, info: dict) -> str:
    parts = [
        f"# Evaluation of `{rd.path}`\n",
        f"{nf} folds, {n_test} test cells, {days[0].date()} to {days[-1].date()}. Metrics of the "
        "area-weighted mean over test cells; each entry is the median [min, max] across folds.\n",
        "## Against observations\n",
        markdown_table(summary, "obs") or "(no observations in the cube)\n",
    ]
    truth_md = markdown_table(summary, "truth")
    if truth_md:
        parts += ["## Against the hidden truth (twin world)\n", truth_md]
    comparison = comparison_frame(summary)
    if not comparison.empty:
        listed = ", ".join(f"`{n}` = `{p}`" for n, p in info.get("compare", {}).items())
        parts += [
            "## Other products (`--compare`)\n",
            f"{listed}. Scored on the same test cells, months and views as the model (a product has one "
            "value; the model's entry is the median [min, max] across folds).\n",
            _frame_markdown(comparison),
        ]
    parts += [
        "## Learned global constants\n",
        constants_markdown(const_df) if not const_df.empty else f"None: {no_constants_text(info)}.\n",
    ]
    intro, skipped = not_evaluated_text(info)
    if skipped:
        parts += ["## Not evaluated\n", intro + "\n", "\n".join(f"- {s}" for s in skipped) + "\n"]
    return "\n".join(parts)


def _frame_markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    return head + "\n".join("| " + " | ".join(str(r[c]) for c in cols) + " |" for _, r in df.iterrows()) + "\n"


def constants_markdown(const_df: pd.DataFrame) -> str:
    """The constants table as Markdown: per fold, median [min, max], truth."""
    cols = list(const_df.columns)
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    body = []
    for _, r in const_df.iterrows():
        body.append("| " + " | ".join(str(r[c]) if c == "constant" else fmt(float(r[c])) for c in cols) + " |")
    return head + "\n".join(body) + "\n"


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


def _monthly_dataset(
    monthly, obs, obs_cue, truth_monthly, truth_static, test, lat, lon, area, folds, attrs, products=None
):
    dims3, dims2 = ("fold", "month", "cell"), ("month", "cell")
    v: dict[str, xr.DataArray] = {}
    for k, a in monthly.values.items():
        v[f"model_{k}"] = xr.DataArray(a, dims=dims3)
    for k, a in monthly.static.items():
        v[f"model_{k}"] = xr.DataArray(a, dims=("fold", "cell"))
    v["prec"] = xr.DataArray(monthly.prec, dims=dims2)
    for k, a in obs.items():
        if np.isfinite(a).any():
            v[f"obs_{k}"] = xr.DataArray(a, dims=dims2)
    if np.isfinite(obs_cue).any():
        v["obs_cue"] = xr.DataArray(obs_cue, dims="cell")
    for k, a in truth_monthly.items():
        v[f"truth_{k}"] = xr.DataArray(a.astype(np.float32), dims=dims2)
    for k, a in truth_static.items():
        v[f"truth_{k}"] = xr.DataArray(a.astype(np.float32), dims="cell")
    v.update(_product_stack(products or {}, dims2))
    coords = {
        "fold": ("fold", np.asarray(folds)),
        "month": ("month", monthly.months),
        "cell": ("cell", test),
        "lat": ("cell", lat[test]),
        "lon": ("cell", lon[test]),
        "cell_area": ("cell", area[test]),
    }
    return xr.Dataset(v, coords=coords, attrs=attrs)


def _maps_dataset(means, cells, lat, lon, ii, jj, truth, ds, days, folds, test, attrs):
    m = means.means()  # the mapped outputs the model produces, apar (with fapar) and prec
    v: dict[str, xr.DataArray] = {}
    for k, a in m.items():
        if k != "prec":
            v[f"model_{k}"] = xr.DataArray(a.astype(np.float32), dims=("fold", "cell"))
    v["prec"] = xr.DataArray(m["prec"].astype(np.float32), dims="cell")
    diag = derived_diagnostics({**m, "prec": m["prec"][None]})
    for k, a in diag.items():
        v[f"model_{k}"] = xr.DataArray(
            a.astype(np.float32),
            dims=("fold", "cell"),
            attrs={"long_name": DIAGNOSTICS[k][0], "units": DIAGNOSTICS[k][1]},
        )
    if truth is not None:
        tmeans: dict[str, np.ndarray] = {}
        pts = {"lat": xr.DataArray(ii[cells], dims="cell"), "lon": xr.DataArray(jj[cells], dims="cell")}
        for k in MAP_KEYS:
            if k in truth:
                tmeans[k] = np.asarray(truth[k].sel(time=days).mean("time").isel(**pts).values, dtype=np.float64)
                v[f"truth_{k}"] = xr.DataArray(tmeans[k].astype(np.float32), dims="cell")
        if "fapar" in truth:
            par = par_from_rn(ds["rn"].sel(time=days).isel(**pts).values)
            fap = np.asarray(truth["fapar"].sel(time=days).isel(**pts).values, dtype=np.float64)
            tmeans["apar"] = (fap * par).mean(axis=0)
            v["truth_apar"] = xr.DataArray(tmeans["apar"].astype(np.float32), dims="cell")
        if all(k in tmeans for k in ("npp", "gpp", "tr", "apar")):
            tmeans["prec"] = m["prec"]
            for k, a in derived_diagnostics(tmeans).items():
                v[f"truth_{k}"] = xr.DataArray(
                    a.astype(np.float32),
                    dims="cell",
                    attrs={"long_name": DIAGNOSTICS[k][0], "units": DIAGNOSTICS[k][1]},
                )
    coords = {
        "fold": ("fold", np.asarray(folds)),
        "cell": ("cell", cells),
        "lat": ("cell", lat[cells]),
        "lon": ("cell", lon[cells]),
        "lat_index": ("cell", ii[cells]),
        "lon_index": ("cell", jj[cells]),
        "cell_area": ("cell", np.asarray(ds["cell_area"].values, dtype=np.float64)[ii[cells], jj[cells]]),
        "is_test": ("cell", np.isin(cells, test).astype(np.int8)),
    }
    out = xr.Dataset(
        v,
        coords=coords,
        attrs={**attrs, "grid_lat": np.asarray(ds["lat"].values), "grid_lon": np.asarray(ds["lon"].values)},
    )
    return out


def _regional_means(values: np.ndarray, reg: np.ndarray, w: np.ndarray) -> np.ndarray:
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


def _regional_dataset(
    regional,
    obs_regional,
    obs_weight,
    truth,
    ds,
    days,
    months,
    ii,
    jj,
    cells,
    regions_all,
    area_all,
    folds,
    attrs,
    products=None,
):
    m = regional.means()
    v: dict[str, xr.DataArray] = {}
    for k, a in m.items():
        v[f"model_{k}"] = xr.DataArray(a.astype(np.float32), dims=("fold", "region", "month"))
    for k in obs_regional:
        w = np.where(obs_weight[k] > 0, obs_weight[k], np.nan)
        a = (obs_regional[k] / w)[1:]
        if np.isfinite(a).any():
            v[f"obs_{k}"] = xr.DataArray(a.astype(np.float32), dims=("region", "month"))
    if truth is not None:
        reg = regions_all[cells]
        pts = {"lat": xr.DataArray(ii[cells], dims="cell"), "lon": xr.DataArray(jj[cells], dims="cell")}
        w = area_all[cells]
        for k in REGIONAL_KEYS:
            if k not in truth:
                continue
            mm = np.asarray(truth[k].sel(time=days).isel(**pts).resample(time="MS").mean().values, dtype=np.float64)
            a = np.full((len(REGIONS), len(months)), np.nan)
            for r in range(1, len(REGIONS) + 1):
                sel = reg == r
                if sel.any():
                    a[r - 1] = (mm[:, sel] * w[sel]).sum(axis=1) / w[sel].sum()
            v[f"truth_{k}"] = xr.DataArray(a.astype(np.float32), dims=("region", "month"))
    regional_products = {
        name: {k: _regional_means(a, regions_all[cells], area_all[cells]) for k, a in values.items()}
        for name, values in (products or {}).items()
    }
    v.update(_product_stack(regional_products, ("region", "month")))
    n_cells = np.array([(regions_all[cells] == r).sum() for r in range(1, len(REGIONS) + 1)])
    coords = {
        "fold": ("fold", np.asarray(folds)),
        "region": ("region", list(REGION_CODES)),
        "region_name": ("region", [n for _, n in REGIONS]),
        "n_cells": ("region", n_cells),
        "month": ("month", months),
    }
    return xr.Dataset(v, coords=coords, attrs=attrs)


def _daily_dataset(daily, truth, ii, jj, days, folds, lat, lon, attrs):
    v: dict[str, xr.DataArray] = {f"model_{k}": xr.DataArray(a, dims=("fold", "time")) for k, a in daily.values.items()}
    v["prec"] = xr.DataArray(daily.prec, dims="time")
    v["tair"] = xr.DataArray(daily.tair, dims="time")
    if truth is not None:
        c = daily.cell
        for k in DAILY_KEYS:
            if k in truth:
                v[f"truth_{k}"] = xr.DataArray(
                    np.asarray(truth[k].sel(time=days).isel(lat=int(ii[c]), lon=int(jj[c])).values, dtype=np.float32),
                    dims="time",
                )
    coords = {"fold": ("fold", np.asarray(folds)), "time": ("time", days)}
    return xr.Dataset(
        v,
        coords=coords,
        attrs={**attrs, "cell": daily.cell, "lat": float(lat[daily.cell]), "lon": float(lon[daily.cell])},
    )


def parse_cell(text: str | None):
    """``"LAT,LON"`` -> (lat, lon) or None."""
    if not text:
        return None
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--cell must be LAT,LON (e.g. -15.5,27.5), got {text!r}") from None
    return a, b


def run(args) -> int:
    evaluate(
        args.run,
        cube=args.cube,
        out=args.out,
        period=args.period,
        maps_cells=args.maps_cells,
        cell=parse_cell(args.cell),
        batch_cells=args.batch_cells,
        threads=args.threads,
        progress=not args.quiet,
        simulations=args.simulations,
        compare=parse_compare(args.compare),
    )
    return 0


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="skill metrics of a run (CSV + Markdown), diagnostics for the report")
    p.add_argument("--run", required=True, help="run directory (config.yaml, split.json, fold_K/best.pt)")
    p.add_argument("--cube", default=None, help="cube (default: the run's cube)")
    p.add_argument("--out", default=None, help="output folder (default: RUN/evaluation)")
    p.add_argument("--period", default=None, help="A:B (default: the run's period)")
    p.add_argument(
        "--maps-cells",
        default="all",
        choices=("all", "test"),
        help="cells for maps and regional cycles (all land cells, or only the test cells: faster)",
    )
    p.add_argument(
        "--cell",
        default=None,
        help="LAT,LON of the cell for daily plots (default: a southern African savanna test cell)",
    )
    p.add_argument(
        "--simulations",
        default=None,
        help="daily store from 'h2cm predict' (with per-fold values) "
        "to read instead of simulating again; must cover the cells and period",
    )
    p.add_argument(
        "--compare",
        action="append",
        metavar="NAME=PATH",
        help="another simulation product to score beside the model (repeatable; PATH#GROUP for a group, "
        "e.g. world.zarr#products/process_ensemble)",
    )
    p.add_argument("--batch-cells", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)
