"""Stage 3 of ``h2cm evaluate``: skill against the observations, the hidden truth and products.

Every constraint is scored as its row in :mod:`h2cm.constraints` says (output, treatment, view);
the twin world's truth is scored for every output and static parameter the model kind produces;
``--compare`` products are scored exactly as the models are (a one-member ensemble). Returns
:class:`Scores`; nothing is written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from ..constraints import CONSTRAINT_TABLE, HEADLINE_VIEW, cue_of_means
from ..data.check_store import truth_problems
from ..schema import CONSTANT_KEYS, OUTPUT_KEYS, STATIC_PARAMETER_KEYS
from . import io
from .diagnostics import DIAGNOSTICS, diagnostic_outputs
from .ensemble import ensemble_constants
from .gather import Gathered
from .metrics import METRICS
from .plan import EvalPlan
from .skill import cell_skill, global_skill, model_rows, rows, spatial_skill, summarise
from .views import VIEWS, monthly_means

LONG_COLUMNS: tuple[str, ...] = ("reference", "target", "view", "metric", "fold", "value", "source")


@dataclass
class Truth:
    """The twin world's hidden truth at the test cells (empty without a truth group)."""

    ds: xr.Dataset | None = None
    monthly: dict[str, np.ndarray] = field(default_factory=dict)  # key -> (months, test cells)
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # outputs only --compare products have
    static: dict[str, np.ndarray] = field(default_factory=dict)  # parameter -> (test cells,)
    constants: dict[str, float] = field(default_factory=dict)
    present: bool = False  # the cube has a truth group (a twin world)
    unused: str = ""  # why a truth group that exists gave no score ('' when it did, or is absent)
    skipped: list[str] = field(default_factory=list)  # variables off the documented layout, not scored


@dataclass
class Scores:
    long: pd.DataFrame  # one row per reference, target, view, metric, fold, source
    summary: pd.DataFrame  # median [min, max] across folds
    cells: dict[str, xr.DataArray]  # reference_target -> per-cell skill (view, metric, cell)
    constants: pd.DataFrame  # learned constants per fold, median, range, truth
    truth: Truth
    headline: dict[str, dict[str, float]]
    ensemble_truth: dict[str, dict[str, float]] = field(default_factory=dict)  # key -> view -> r


def score(plan: EvalPlan, got: Gathered) -> Scores:
    rows_: list[dict] = []
    cells: dict[str, xr.DataArray] = {}
    rows_ += _obs_rows(plan, got, cells)
    truth = _truth(plan)
    rows_ += _truth_rows(plan, got, truth, cells)
    for name, values in plan.prod_test.items():
        rows_ += _product_rows(plan, got, truth, name, values)
    long = pd.DataFrame(rows_, columns=list(LONG_COLUMNS))
    long["fold"] = long["fold"].astype("Int64")  # empty for the products (no folds)
    summary = summarise(long)
    plan.cov.keep("learned global constants", CONSTANT_KEYS)
    for k, (label, _) in DIAGNOSTICS.items():  # recorded for summary.json's not_evaluated
        plan.cov.has(f"derived efficiency {k.upper()}, {label}", diagnostic_outputs(k))
    constants = constants_table(ensemble_constants(plan.models), plan.folds, truth.constants)
    ens = ensemble_truth_skill(plan, got, truth)
    return Scores(long, summary, cells, constants, truth, headline_metrics(summary), ens)


def ensemble_truth_skill(plan: EvalPlan, got: Gathered, truth: Truth) -> dict[str, dict[str, float]]:
    """r of the fold ensemble (the mean of the folds' monthly values at each test cell) against
    the hidden truth, per output and view, on the area-weighted mean over test cells: one number
    where the per-fold rows give a median and range (the figure the demo's skill thresholds use)."""
    area = plan.area[plan.test]
    out: dict[str, dict[str, float]] = {}
    for k, ref in truth.monthly.items():
        if k not in got.monthly.values:
            continue
        mean = np.mean(np.asarray(got.monthly.values[k], dtype=np.float64), axis=0)
        res = global_skill(mean[None], ref, area, plan.months, k)
        out[k] = {v: float(res[v]["r"][0]) for v in res}
    return out


def _cell_skill_array(res: dict, reference: str, target: str) -> xr.DataArray:
    arr = np.stack([np.stack([res[v][m] for m in METRICS]) for v in VIEWS])  # (view, metric, cell)
    return xr.DataArray(
        arr.astype(np.float32),
        dims=("view", "metric", "cell"),
        attrs={"long_name": f"per-cell skill of the ensemble median against {reference}: {target}"},
    )


def _obs_rows(plan: EvalPlan, got: Gathered, cells: dict) -> list[dict]:
    out: list[dict] = []
    area = plan.area[plan.test]
    for c in CONSTRAINT_TABLE:
        if c.key not in got.obs.present or not plan.cov.has(f"skill against observations of {c.key}", c.reads):
            continue
        if c.static:
            means = [np.nanmean(got.monthly.values[k], axis=1) for k in c.reads]
            out += rows("obs", c.key, spatial_skill(cue_of_means(*means), got.obs.static[c.key]), plan.folds)
            continue
        ref = got.obs.monthly[c.key]
        if not np.isfinite(ref).any():
            continue
        model = got.monthly.values[c.output]
        out += rows("obs", c.key, global_skill(model, ref, area, plan.months, c.key), plan.folds)
        cells[f"obs_{c.key}"] = _cell_skill_array(cell_skill(model, ref, plan.months, c.key), "obs", c.key)
    return out


def _truth(plan: EvalPlan) -> Truth:
    """The truth at the test cells: monthly means of the outputs the model produces, static
    parameters, constants, plus the outputs only ``--compare`` products have."""
    ds = io.open_truth(plan.cube_path)
    if ds is None:
        return Truth()
    problems = [p for p in truth_problems(ds, plan.ds) if p.severity == "error"]
    group = [p for p in problems if p.variable in ("truth", "truth/lat", "truth/lon", "truth/time")]
    if group:  # the group cannot be indexed by the cube's cells and days (docs/data.md, "The truth group")
        why = "; ".join(f"{p.variable}: {p.message}" for p in group)
        return Truth(present=True, unused=f"the truth group of {plan.cube_path} is off its layout: {why}")
    bad = {p.variable.split("/", 1)[1] for p in problems}
    ds = ds.drop_vars(sorted(bad & set(map(str, ds.data_vars))))  # the maps and daily files read it too
    truth = Truth(ds=ds, present=True, skipped=[f"{p.variable}: {p.message}" for p in problems])
    what = "skill against the hidden truth"
    ok = [str(k) for k in ds.data_vars]
    outputs = plan.cov.keep(what, [k for k in OUTPUT_KEYS if k in ok])
    params = plan.cov.keep(f"{what} of the static parameters", [k for k in STATIC_PARAMETER_KEYS if k in ok])
    prod = sorted({k for v in plan.prod_test.values() for k in v if k in ok and k not in outputs})
    pts = {"lat": xr.DataArray(plan.ii[plan.test], dims="cell"), "lon": xr.DataArray(plan.jj[plan.test], dims="cell")}
    for k in (*outputs, *params, *prod):
        da = ds[k].isel(**pts)
        if k in params:
            truth.static[k] = np.asarray(da.values, dtype=np.float64)
        else:
            daily = np.asarray(da.sel(time=plan.days).transpose("time", "cell").values)
            (truth.monthly if k in outputs else truth.extra)[k] = monthly_means(daily, plan.days)[1]
    truth.constants = {k: float(ds[k].values) for k in CONSTANT_KEYS if k in ok}
    if not (truth.monthly or truth.static):
        truth.unused = (
            f"the truth group of {plan.cube_path} has none of the outputs or parameters the model produces "
            f"({', '.join(plan.cov.outputs)}); its variables: {', '.join(map(str, ds.data_vars)) or 'none'}"
        )
    return truth


def _truth_rows(plan: EvalPlan, got: Gathered, truth: Truth, cells: dict) -> list[dict]:
    out: list[dict] = []
    area = plan.area[plan.test]
    for k, m in truth.monthly.items():
        if k in got.monthly.values:
            out += rows("truth", k, global_skill(got.monthly.values[k], m, area, plan.months, k), plan.folds)
            cells[f"truth_{k}"] = _cell_skill_array(cell_skill(got.monthly.values[k], m, plan.months, k), "truth", k)
    for k, v in truth.static.items():
        out += rows("truth", k, spatial_skill(got.monthly.static[k], v), plan.folds)
    return out


def _product_rows(plan: EvalPlan, got: Gathered, truth: Truth, name: str, values: dict) -> list[dict]:
    """Skill rows of one ``--compare`` product (``values``: key -> (months, test cells)) against the
    observations and the truth, exactly as the models are scored (a one-member ensemble)."""
    out: list[dict] = []
    area, months = plan.area[plan.test], plan.months
    for c in CONSTRAINT_TABLE:
        if c.key not in got.obs.present:
            continue
        if c.static:
            if all(k in values for k in c.reads) and np.isfinite(got.obs.static[c.key]).any():
                cue = cue_of_means(*(np.nanmean(values[k], axis=0) for k in c.reads))
                out += rows("obs", c.key, spatial_skill(cue[None], got.obs.static[c.key]), [None], source=name)
            continue
        ref = got.obs.monthly[c.key]
        if c.output in values and np.isfinite(ref).any():
            out += rows("obs", c.key, global_skill(values[c.output][None], ref, area, months, c.key), [None], name)
    ref = {**truth.extra, **truth.monthly}
    for k in OUTPUT_KEYS:
        if k in values and k in ref:
            out += rows("truth", k, global_skill(values[k][None], ref[k], area, months, k), [None], name)
    return out


def headline_metrics(summary: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per constraint, on the view its loss uses: median r, RMSE, SDR, bias across folds."""
    out: dict[str, dict[str, float]] = {}
    sub = model_rows(summary)
    sub = sub[sub["reference"] == "obs"]
    for key, v in HEADLINE_VIEW.items():
        r = sub[(sub["target"] == key) & (sub["view"] == v)]
        if not r.empty:
            out[key] = {"view": v, **{m: float(r[r["metric"] == m]["median"].iloc[0]) for m in METRICS}}
    return out


def constants_table(constants: dict[str, np.ndarray], folds, truth: dict[str, float]) -> pd.DataFrame:
    """One row per learned constant (none for the pure LSTM: the header only)."""
    recs = []
    for k, v in constants.items():
        rec = {"constant": k, **{f"fold_{f}": float(x) for f, x in zip(folds, v, strict=True)}}
        rec.update(median=float(np.median(v)), min=float(v.min()), max=float(v.max()))
        rec["truth"] = truth.get(k, np.nan)
        recs.append(rec)
    return pd.DataFrame(recs, columns=["constant", *(f"fold_{f}" for f in folds), "median", "min", "max", "truth"])
