"""Scores of the multi-site tower study (:mod:`h2cm.studies.towers`).

Per task (kind, seed, split) and test site: daily and monthly Pearson r, RMSE and bias of GPP,
NEE, ET and RECO (never trained on; the models' TER) against the tower's quality-filtered days and
their monthly means (a month needs half its days); for the leave-one-site-out splits also the r
of the mean seasonal cycle (12 calendar-month means of the test months) and of the monthly
anomalies from it. ``pooled``: every held-out site's values together. Over seeds: median, min, max.

Rain pulse (dry sites US-SRM, ES-LM2, IT-Noe): first rains that end a dry season
(:func:`h2cm.evaluation.processes.rain_events`: >= 5 mm after 60 days with < 10 mm) in the site's
own record; the response is the mean over events of ``mean(day 0..4) - mean(day -7..-1)`` of NEE
(tower and held-out model), of the models' Rh and of the tower's RECO (partitioned from NEE: the
closest the tower has to respiration).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..data.cube import land_cells
from ..evaluation.processes import RainEvents, event_windows, rain_events
from .common import skill

VARIABLES = {"gpp": "gpp", "nee": "nee", "et": "et", "reco": "ter"}  # tower -> model output
DRY_SITES = ("US-SRM", "ES-LM2", "IT-Noe")
PULSE = RainEvents(after=5)
METRICS = ("r", "rmse", "bias")


def site_records(ds) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    """(site, first day, last day) of every cell's record, in cell order."""
    info = json.loads(ds.attrs["h2cm_sites_info"])
    return [(r["site"], pd.Timestamp(r["period"][0]), pd.Timestamp(r["period"][1])) for r in info]


def _cells(ds, key: str) -> np.ndarray:
    li, lj = land_cells(ds)
    return np.asarray(ds[key].values, dtype=np.float64)[:, li, lj]


def _monthly(daily: np.ndarray, time: pd.DatetimeIndex, months: pd.DatetimeIndex) -> np.ndarray:
    df = pd.DataFrame(daily, index=time)
    m = df.groupby(time.to_period("M")).mean()
    return m.reindex(months.to_period("M")).to_numpy()


def _msc_anom(x: np.ndarray, months: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """12 calendar-month means and the anomalies of ``x`` (NaN-aware)."""
    s = pd.Series(x, index=months)
    msc = s.groupby(months.month).mean().reindex(range(1, 13)).to_numpy()
    return msc, x - msc[months.month.to_numpy() - 1]


def _test_masks(ds, split: str, records) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """cell -> (test days, test months) of a split."""
    time, months = pd.DatetimeIndex(ds["time"].values), pd.DatetimeIndex(ds["month"].values)
    out = {}
    for j, (site, start, end) in enumerate(records):
        if split == "temporal":
            out[j] = (np.asarray(time.year == end.year), np.asarray(months.year == end.year))
        elif split == f"loso:{site}":
            out[j] = (
                np.asarray((time >= start) & (time <= end)),
                np.asarray((months >= start.to_period("M").start_time) & (months <= end)),
            )
    return out


def _rows_for(task, sim, obs, ds, records, pooled: dict) -> list[dict]:
    """Rows of every test site of ``task``; its (sim, obs) pairs are added to ``pooled[(var, scale)]``."""
    time, months = pd.DatetimeIndex(ds["time"].values), pd.DatetimeIndex(ds["month"].values)
    rows, split_type = [], "temporal" if task.split == "temporal" else "loso"
    for j, (dmask, mmask) in _test_masks(ds, task.split, records).items():
        for var, key in VARIABLES.items():
            if key not in sim or f"{var}_daily" not in obs:
                continue
            d_sim, d_obs = sim[key][dmask, j], obs[f"{var}_daily"][dmask, j]
            m_sim = _monthly(sim[key][:, [j]], time, months)[mmask, 0]
            m_obs = obs[var][mmask, j]
            pairs = {"daily": (d_sim, d_obs), "monthly": (m_sim, m_obs)}
            if split_type == "loso":
                ms, mo = (
                    _msc_anom(np.where(np.isfinite(m_obs), m_sim, np.nan), months[mmask]),
                    _msc_anom(m_obs, months[mmask]),
                )
                pairs["msc"], pairs["anomaly"] = (ms[0], mo[0]), (ms[1], mo[1])
            for scale, (s, o) in pairs.items():
                sk = skill(s, o)
                rows.append({"split": split_type, "site": records[j][0], "variable": var.upper(), "scale": scale,
                             "kind": task.kind, "seed": task.seed, **{k: sk[k] for k in (*METRICS, "n")}})  # fmt: skip
                pooled.setdefault((var, scale), []).append((s, o))
    return rows


def _pulse(ds, records, sims: dict) -> tuple[list[dict], dict]:
    """Rain-pulse responses per dry site (module docstring) and the composites for the figure."""
    prec, tair = _cells(ds, "prec"), _cells(ds, "tair")
    time = pd.DatetimeIndex(ds["time"].values)
    nee_obs = _cells(ds, "nee_daily")
    reco_obs = _cells(ds, "reco_daily") if "reco_daily" in ds else np.full_like(nee_obs, np.nan)
    rows, composites = [], {}
    for j, (site, start, end) in enumerate(records):
        if site not in DRY_SITES:
            continue
        sel = np.asarray((time >= start) & (time <= end))
        off = int(np.argmax(sel))
        events = [(d + off, j) for d, _ in rain_events(prec[sel][:, [j]], tair[sel][:, [j]], PULSE)]

        def delta(x, events=events):
            w = event_windows(x, events, PULSE)
            if len(w) == 0:
                return math.nan, w
            pre = np.nanmean(w[:, : PULSE.before], axis=1)
            post = np.nanmean(w[:, PULSE.before : PULSE.before + PULSE.after], axis=1)
            return float(np.nanmean(post - pre)), w

        shift = pd.DateOffset(years=-int(_shift(ds, site)))  # back to the tower's own calendar
        row = {"site": site, "events": len(events), "dates": " ".join(str((time[d] + shift).date()) for d, _ in events)}
        row["tower_dNEE"], w_nee = delta(nee_obs)
        row["tower_dRECO"], _ = delta(reco_obs)
        comp = {"tower": np.nanmean(w_nee, axis=0) if len(w_nee) else None}
        for kind, per_seed in sims.items():
            d_nee, d_rh, c = [], [], []
            for sim in per_seed.get(site, []):
                v, w = delta(sim["nee"])
                d_nee.append(v)
                d_rh.append(delta(sim["rh"])[0] if "rh" in sim else math.nan)
                if len(w):
                    c.append(w.mean(axis=0))
            row[f"{kind}_dNEE"] = _agg(d_nee)
            row[f"{kind}_dRh"] = _agg(d_rh)
            comp[kind] = np.median(c, axis=0) if c else None
        rows.append(row)
        composites[site] = comp
    return rows, composites


def _shift(ds, site: str) -> int:
    import json

    info = {r["site"]: r for r in json.loads(ds.attrs["h2cm_sites_info"])}
    return int(info[site].get("year_shift", 0))


def _agg(values: Sequence[float]) -> str:
    v = np.asarray([x for x in values if np.isfinite(x)])
    if not len(v):
        return "-"
    return f"{np.median(v):+.2f} [{v.min():+.2f}, {v.max():+.2f}]"


def score_all(ds, tasks) -> dict[str, object]:
    """Every task's rows, the rain-pulse table and the data the figures need."""
    records = site_records(ds)
    obs = {k: _cells(ds, k) for k in ds.data_vars if k in ("gpp", "nee", "et", "reco") or k.endswith("_daily")}
    rows, loso_sims, pools = [], {}, {}
    for t in tasks:
        with np.load(t.dir / "sim.npz") as f:
            sim = {k: f[k].astype(np.float64) for k in f.files}
        split_type = "temporal" if t.split == "temporal" else "loso"
        rows += _rows_for(t, sim, obs, ds, records, pools.setdefault((split_type, t.kind, t.seed), {}))
        if t.split.startswith("loso:"):
            site = t.split.split(":", 1)[1]
            j = [r[0] for r in records].index(site)
            loso_sims.setdefault(t.kind, {}).setdefault(site, []).append(
                {k: v[:, [j]] for k, v in sim.items()} | {"_j": j}
            )
    for (split_type, kind, seed), pooled in pools.items():  # every test site of one kind and seed together
        for (var, scale), parts in pooled.items():
            sk = skill(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
            rows.append({"split": split_type, "site": "pooled", "variable": var.upper(), "scale": scale,
                         "kind": kind, "seed": seed, **{k: sk[k] for k in (*METRICS, "n")}})  # fmt: skip
    pulse_rows, composites = _pulse(ds, records, _full_width(loso_sims, len(records)))
    return {"rows": rows, "pulse": pulse_rows, "composites": composites, "loso_sims": loso_sims, "obs": obs}


def _full_width(loso_sims: dict, n: int) -> dict:
    """Held-out simulations placed back at their cell (columns of other cells NaN) for the pulse windows."""
    out = {}
    for kind, per_site in loso_sims.items():
        for site, sims in per_site.items():
            for s in sims:
                j = s["_j"]
                full = {}
                for k, v in s.items():
                    if k == "_j":
                        continue
                    a = np.full((v.shape[0], n), np.nan)
                    a[:, j] = v[:, 0]
                    full[k] = a
                out.setdefault(kind, {}).setdefault(site, []).append(full)
    return out


def seed_table(rows: Sequence[dict]) -> pd.DataFrame:
    """Median, min and max over seeds of every (split, site, variable, scale, kind, metric)."""
    df = pd.DataFrame(rows)
    long = df.melt(id_vars=["split", "site", "variable", "scale", "kind", "seed"], value_vars=list(METRICS),
                   var_name="metric")  # fmt: skip
    g = long.groupby(["split", "site", "variable", "scale", "metric", "kind"])["value"]
    return g.agg(median="median", min="min", max="max", seeds="count").reset_index()


def cell(t: pd.DataFrame, **sel) -> str:
    q = t
    for k, v in sel.items():
        q = q[q[k] == v]
    if q.empty or not np.isfinite(q["median"].iloc[0]):
        return "-"
    r = q.iloc[0]
    return f"{r['median']:.2f} [{r['min']:.2f}, {r['max']:.2f}]"
