"""The analyses of the claims study: each of the paper's carbon claims as a table of numbers.

Pure functions of arrays (:class:`~h2cm.studies.claims_sim.Sims` of the models and of the truth,
:class:`~h2cm.studies.claims_sim.Observations`), each returning rows (dicts) for a table. The
aggregations, named in every row:

- ``global``: the area-weighted mean over the cells, one series, then the view (the paper's
  Fig. 3 and Table C1);
- ``pooled``: every (month, cell) pair of the view (per-cell skill, the harder test);
- ``region``: the area-weighted mean over the cells of one TransCom region (Fig. 6).

Views (:mod:`h2cm.evaluation.views`): ``monthly`` values, ``msc`` (mean seasonal cycle, one per
cell or series) and ``anomaly`` (monthly values minus the mean seasonal cycle).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..data.regions import REGION_CODES, REGION_NAMES, region_index
from ..evaluation import views
from ..evaluation.diagnostics import derived_diagnostics
from ..evaluation.metrics import area_weighted_mean, bias, pearson_r, r_squared, rmse, sdr
from ..evaluation.processes import EVENTS, event_windows, light_response, peak_month, pulse_ratio, rain_events
from .claims_sim import Observations, Sims

FIG6_REGIONS: tuple[str, ...] = ("EABo", "NATe", "SATr", "SAfr")  # the paper's Fig. 6
UNCONSTRAINED: tuple[str, ...] = ("ter", "rh", "ra", "npp", "t_et")  # no observation constrains them
PERIODS: dict[str, tuple[str, str]] = {  # the two NEE products' periods
    "oco2": ("2015-01-01", "2019-12-31"),
    "carboscope": ("2001-01-01", "2019-12-31"),
}


def _in(index: pd.DatetimeIndex, period: tuple[str, str]) -> np.ndarray:
    return np.asarray((index >= pd.Timestamp(period[0])) & (index <= pd.Timestamp(period[1])))


def view_of(x: np.ndarray, months: pd.DatetimeIndex, view: str) -> np.ndarray:
    """A view of monthly values (months on axis 0), kept on the monthly axis: the mean seasonal
    cycle is broadcast back to every month so that pooled metrics weight every month alike."""
    if view == "msc":
        return views.msc(x, months)[views.month_of_year(months)]
    return views.view(x, months, view)


def scores(sim: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """r, SDR, RMSE, R2 and bias over every finite pair (flattened); NaN with fewer than 3."""
    s, o = np.ravel(np.asarray(sim, dtype=np.float64)), np.ravel(np.asarray(ref, dtype=np.float64))
    ok = np.isfinite(s) & np.isfinite(o)
    if ok.sum() < 3:
        return {"r": math.nan, "sdr": math.nan, "rmse": math.nan, "r2": math.nan, "bias": math.nan, "n": int(ok.sum())}
    s, o = s[ok], o[ok]
    return {
        "r": float(pearson_r(s, o)),
        "sdr": float(sdr(s, o)),
        "rmse": float(rmse(s, o)),
        "r2": float(r_squared(s, o)),
        "bias": float(bias(s, o)),
        "n": int(ok.sum()),
    }


def aggregate(x: np.ndarray, area: np.ndarray, how: str) -> np.ndarray:
    """``global``: area-weighted mean over cells (last axis) -> (months,); ``pooled``: as is."""
    return area_weighted_mean(x, area, axis=-1) if how == "global" else np.asarray(x, dtype=np.float64)


def compare(sim, ref, months, area, view: str, how: str) -> dict[str, float]:
    """Scores of ``sim`` against ``ref`` (months, cells) on the months where ``ref`` has data:
    masked jointly, aggregated (``global`` / ``pooled``), then the view."""
    s, o = views.joint_mask(sim, ref)
    if how == "global":
        s, o = aggregate(s, area, how), aggregate(o, area, how)
    return scores(view_of(s, months, view), view_of(o, months, view))


# --- Fig. 3 and Table C1: test-set skill ----------------------------------------------------------


def test_skill(
    models: Mapping[str, Sims], truth: Sims, obs: Observations, area: np.ndarray, variables=("gpp", "nee")
) -> list[dict[str, object]]:
    """GPP and NEE at the test cells: r, SDR (and RMSE) of the fold ensemble's mean against the
    truth and the observations, per period (OCO-2-like 2015-2019, CarboScope-like 2001-2019),
    view and aggregation. Against observations, NEE uses the OCO-2-like product in its period and
    the CarboScope-like anomalies (the model's anomalies over the same months) in the other."""
    rows: list[dict[str, object]] = []
    months = truth.months
    for name, sims in models.items():
        for var in variables:
            if var not in sims.test_monthly:
                continue
            ens = sims.test_monthly[var].mean(axis=0)
            for period, span in PERIODS.items():
                sel = _in(months, span)
                if not sel.any():
                    continue
                m = months[sel]
                refs = {"truth": truth.test_monthly[var][0][sel]}
                if var == "gpp" and "gpp" in obs.test:
                    refs["obs"] = obs.test["gpp"][sel]
                if var == "nee" and period == "oco2" and "nee" in obs.test:
                    refs["obs"] = obs.test["nee"][sel]
                for ref_name, ref in refs.items():
                    for how in ("global", "pooled"):
                        for view in views.VIEWS:
                            sc = compare(ens[sel], ref, m, area, view, how)
                            rows.append(_row(name, var, ref_name, period, view, how, sc))
                if var == "nee" and period == "carboscope" and "nee_anomaly" in obs.test:
                    sc = _carboscope(ens[sel], obs.test["nee_anomaly"][sel], m, area)
                    rows.append(_row(name, var, "obs", period, "anomaly", "global", sc))
    return rows


def _row(model, var, ref, period, view, how, sc) -> dict[str, object]:
    return {"model": model, "variable": var, "reference": ref, "period": period, "view": view, "aggregation": how, **sc}


def _carboscope(sim: np.ndarray, anomalies: np.ndarray, months, area) -> dict[str, float]:
    """The model's NEE anomalies (minus its own seasonal cycle on the product's months), area-
    weighted over the test cells, against the same mean of the CarboScope-like anomalies."""
    s, o = views.joint_mask(sim, anomalies)
    s = views.anomalies(s, months)
    return scores(area_weighted_mean(s, area, axis=-1), area_weighted_mean(o, area, axis=-1))


# --- Fig. 6: regional mean seasonal cycles --------------------------------------------------------


_NEIGHBOURS = (np.array([-1, -1, -1, 0, 0, 1, 1, 1]), np.array([-1, 0, 1, -1, 1, -1, 0, 1]))  # (dlat, dlon)


def cell_regions(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """TransCom region (1..11) of each cell; a coastal cell the map counts as ocean takes the
    most common region of its 3 x 3 neighbourhood on the map (0 if none)."""
    reg = region_index(lat, lon)
    for i in np.nonzero(reg == 0)[0]:
        near = region_index(lat[i] + _NEIGHBOURS[0], lon[i] + _NEIGHBOURS[1])
        near = near[near > 0]
        if len(near):
            reg[i] = np.bincount(near).argmax()
    return reg


def regional_cycles(
    series: Mapping[str, Mapping[str, np.ndarray]], area: np.ndarray, regions: np.ndarray, months
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Mean seasonal cycles (12,) of the area-weighted regional means: region code -> source ->
    variable -> cycle. ``series``: source -> variable -> (months, cells)."""
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for r in sorted(set(regions.tolist()) - {0}):
        cells = regions == r
        code = REGION_CODES[r - 1]
        out[code] = {
            src: {k: views.msc(area_weighted_mean(v[:, cells], area[cells], axis=-1), months) for k, v in d.items()}
            for src, d in series.items()
        }
    return out


def regional_table(cycles, reference: str = "truth") -> list[dict[str, object]]:
    """R2, r and RMSE of every source's regional cycle against ``reference``'s (Fig. 6 tables)."""
    rows = []
    for code, by_src in cycles.items():
        ref = by_src.get(reference, {})
        for src, by_var in by_src.items():
            if src == reference:
                continue
            for var, cyc in by_var.items():
                if var not in ref:
                    continue
                sc = scores(cyc, ref[var])
                rows.append(
                    {
                        "region": code,
                        "name": REGION_NAMES[code],
                        "source": src,
                        "variable": var,
                        "reference": reference,
                        "r2": sc["r2"],
                        "r": sc["r"],
                        "rmse": sc["rmse"],
                        "peak_month": int(np.nanargmax(cyc)) + 1 if np.isfinite(cyc).any() else 0,
                    }
                )
    return rows


# --- Fig. 7: the rain pulse -----------------------------------------------------------------------


def pulse_rows(
    daily: Mapping[str, Mapping[str, np.ndarray]], prec: np.ndarray, tair: np.ndarray, cells: np.ndarray, label: str
) -> tuple[list[dict[str, object]], dict[str, np.ndarray]]:
    """Rh and NEE around the first rains that end a dry season at ``cells`` (bool mask): the Rh
    ratio (:func:`~h2cm.evaluation.processes.pulse_ratio`), the NEE rise (mean of days 0..3 minus
    mean of the week before, gC m-2 d-1) and r of the daily Rh windows against the truth's.
    ``daily``: source -> {"rh", "nee"} -> (days, cells). Also returns the mean Rh window of each
    source (for the figure)."""
    idx = np.nonzero(cells)[0]
    events = rain_events(prec[:, idx], tair[:, idx])
    rows, composite = [], {}
    if not events:
        return rows, composite
    truth_w = event_windows(daily["truth"]["rh"][:, idx], events)
    for src, d in daily.items():
        if "rh" not in d:
            continue
        rh = d["rh"][:, idx]
        w = event_windows(rh, events)
        composite[src] = w.mean(axis=0)
        nee_w = event_windows(d["nee"][:, idx], events) if "nee" in d else None
        rise = (
            float(
                np.mean(
                    nee_w[:, EVENTS.before : EVENTS.before + EVENTS.after].mean(1) - nee_w[:, : EVENTS.before].mean(1)
                )
            )
            if nee_w is not None
            else math.nan
        )
        rows.append(
            {
                "cells": label,
                "source": src,
                "events": len(events),
                "rh_ratio": pulse_ratio(rh, events),
                "nee_rise": rise,
                "r_window": scores(w, truth_w)["r"],
            }
        )
    return rows, composite


# --- light limitation and the dry-season-end release ----------------------------------------------


def light_rows(daily_gpp: Mapping[str, np.ndarray], rn: np.ndarray, days: pd.DatetimeIndex, cells: np.ndarray):
    """Daily GPP against daily net radiation in the wet season (December-February) at ``cells``
    (:func:`~h2cm.evaluation.processes.light_response`): r and slope per source."""
    wet = np.asarray(days.month.isin([12, 1, 2]))
    rows = []
    for src, gpp in daily_gpp.items():
        res = light_response(gpp[:, cells], rn[:, cells], wet)
        rows.append({"source": src, "r": res["r"], "slope": res["slope"], "cells": res["cells"]})
    return rows


def release_rows(monthly_nee: Mapping[str, np.ndarray], months, area: np.ndarray, cells: np.ndarray):
    """The month and size of the peak of the regional mean NEE seasonal cycle at ``cells``."""
    rows = []
    for src, nee in monthly_nee.items():
        series = area_weighted_mean(nee[:, cells], area[cells], axis=-1)
        cyc = views.msc(series, months)
        rows.append({"source": src, "peak_month": peak_month(series, months), "peak": float(np.nanmax(cyc))})
    return rows


# --- Fig. 5: efficiencies -------------------------------------------------------------------------


def efficiency_rows(means: Mapping[str, Mapping[str, np.ndarray]], prec_mean: np.ndarray) -> list[dict[str, object]]:
    """PUE, WUE, CUE, LUE per cell (time means, :func:`derived_diagnostics`) of every source
    against the truth's: spatial r, RMSE, bias and the truth's spatial standard deviation."""
    diag = {src: derived_diagnostics({**m, "prec": prec_mean}) for src, m in means.items()}
    rows = []
    for src, d in diag.items():
        if src == "truth":
            continue
        for key, v in d.items():
            t = diag["truth"].get(key)
            if t is None:
                continue
            sc = scores(v, t)
            rows.append(
                {
                    "source": src,
                    "diagnostic": key,
                    "r": sc["r"],
                    "rmse": sc["rmse"],
                    "bias": sc["bias"],
                    "truth_sd": float(np.nanstd(t)),
                    "n": sc["n"],
                }
            )
    return rows


def efficiency_maps(means: Mapping[str, Mapping[str, np.ndarray]], prec_mean: np.ndarray):
    """source -> diagnostic -> (cells,) (for the figure)."""
    return {src: derived_diagnostics({**m, "prec": prec_mean}) for src, m in means.items()}


# --- Sect. 3.1.5: global constants ----------------------------------------------------------------


def constants_rows(models: Mapping[str, Sims], truth: Mapping[str, float], prior: Mapping[str, float]):
    """Q10 and beta_CO2 across folds: median, min, max per run, with the truth and the prior mean."""
    rows = [{"model": "truth", **{k: truth[k] for k in ("q10", "beta_co2")}}]
    rows.append({"model": "prior mean", **{k: prior[k] for k in ("q10", "beta_co2")}})
    for name, sims in models.items():
        if "q10" not in sims.constants:
            continue
        row: dict[str, object] = {"model": name, "folds": len(sims.constants["q10"])}
        for k in ("q10", "beta_co2"):
            v = sims.constants[k]
            row[k], row[f"{k}_min"], row[f"{k}_max"] = float(np.median(v)), float(v.min()), float(v.max())
        rows.append(row)
    return rows


# --- Appendix D and the unconstrained fluxes ------------------------------------------------------


def t_et(monthly: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Monthly transpiration fraction T / ET (NaN where monthly ET < 0.05 mm d-1)."""
    if "tr" not in monthly or "et" not in monthly:
        return None
    tr, et = monthly["tr"], monthly["et"]
    return np.where(et > 0.05, tr / np.where(et > 0.05, et, 1.0), np.nan)


def flux_rows(
    models: Mapping[str, Sims], truth: Sims, area: np.ndarray, periods: Mapping[str, tuple[str, str]], variables
) -> list[dict[str, object]]:
    """Monthly skill of the fold ensemble's mean at the test cells against the truth, per period
    and aggregation, for ``variables`` (``t_et`` is derived)."""
    rows = []
    months = truth.months
    tm = {k: v[0] for k, v in truth.test_monthly.items()}
    tm["t_et"] = t_et(tm)
    for name, sims in models.items():
        mm = {k: v.mean(axis=0) for k, v in sims.test_monthly.items()}
        te = t_et(mm)
        if te is not None:
            mm["t_et"] = te
        for var in variables:
            if var not in mm or tm.get(var) is None:
                continue
            for period, span in periods.items():
                sel = _in(months, span)
                for how in ("pooled", "global"):
                    sc = compare(mm[var][sel], tm[var][sel], months[sel], area, "monthly", how)
                    rows.append({"model": name, "variable": var, "period": period, "aggregation": how, **sc})
    return rows


def best_of(rows: Sequence[Mapping[str, object]], **match) -> float:
    """The ``r`` of the one row matching every ``key=value`` (NaN if none)."""
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return float(row["r"])  # type: ignore[arg-type]
    return math.nan


def pulse_signal_rows(
    signal: Mapping[str, np.ndarray],
    prec: np.ndarray,
    tair: np.ndarray,
    days: pd.DatetimeIndex,
    months,
    error_sd: float,
) -> list[dict[str, object]]:
    """Is the rain pulse visible in monthly NEE? From the truth run with and without its pulse
    (:func:`~h2cm.studies.claims_sim.pulse_signal`): the Rh ratio of each, and the pulse's share
    of monthly NEE in the months of the events against the OCO-2-like error of one cell-month."""
    events = rain_events(prec, tair)
    if not events:
        return []
    diff = signal["nee"] - signal["nee_no_pulse"]
    mpos = pd.DatetimeIndex(months).get_indexer(pd.DatetimeIndex(days).to_period("M").to_timestamp())
    in_events = np.array([diff[mpos[d], j] for d, j in events])
    return [
        {
            "truth": name,
            "events": len(events),
            "rh_ratio": pulse_ratio(signal[key], events),
            "pulse_nee_event_months": float(np.mean(in_events)) if key == "rh" else 0.0,
            "pulse_nee_p90": float(np.percentile(in_events, 90)) if key == "rh" else 0.0,
            "oco2_error_sd": error_sd,
        }
        for name, key in (("with the pulse", "rh"), ("without the pulse", "rh_no_pulse"))
    ]
