"""Skill of an ensemble against a reference (observations or the twin world's truth).

Arrays: model ``(folds, months, cells)``, reference ``(months, cells)``, cell area ``(cells,)``.

- :func:`global_skill`: the paper's headline numbers (Figure 3, Table C1): per fold, model and
  reference are masked to shared months/cells, treated per constraint (:func:`views.prepare`),
  averaged over cells with area weights, then each :data:`views.VIEWS` is taken and compared;
- :func:`cell_skill`: per-cell metrics of the ensemble median (maps);
- :func:`spatial_skill`: for static quantities (CUE, learned static parameters): across cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import METRICS, all_metrics, area_weighted_mean
from .views import VIEWS, prepare, view

# observation constraint -> model output compared with it
CONSTRAINT_OUTPUT: dict[str, str] = {
    "tws": "tws",
    "swe": "swe",
    "et": "et",
    "runoff": "runoff",
    "fapar": "fapar",
    "gpp": "gpp",
    "nee": "nee",
    "nee_anomaly": "nee",
    "cue": "cue",
}
# the view each constraint's loss term uses (MODEL_SPEC section 6): the headline of the summary
HEADLINE_VIEW: dict[str, str] = {
    "tws": "monthly",  # anomalies (each cell's mean removed), compared month by month
    "swe": "monthly",
    "et": "msc",
    "runoff": "msc",
    "fapar": "monthly",
    "gpp": "msc",
    "nee": "monthly",
    "nee_anomaly": "monthly",
    "cue": "spatial",
}


def global_skill(model, ref, area, months, key: str) -> dict[str, dict[str, np.ndarray]]:
    """view -> metric -> (folds,) for the area-weighted mean series over cells."""
    model = np.asarray(model, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    s = np.moveaxis(model, 0, 1)  # (M, F, N)
    o = np.broadcast_to(ref[:, None, :], s.shape)
    s, o = prepare(key, s, o, months)
    sm = area_weighted_mean(s, area, axis=-1)  # (M, F)
    om = area_weighted_mean(o, area, axis=-1)
    return {v: all_metrics(view(sm, months, v), view(om, months, v), axis=0) for v in VIEWS}


def cell_skill(model, ref, months, key: str) -> dict[str, dict[str, np.ndarray]]:
    """view -> metric -> (cells,) for the ensemble median of ``model`` (folds, months, cells)."""
    med = ensemble_median(model)
    s, o = prepare(key, med, ref, months)
    return {v: all_metrics(view(s, months, v), view(o, months, v), axis=0) for v in VIEWS}


def spatial_skill(model, ref) -> dict[str, np.ndarray]:
    """metric -> (folds,) comparing per-cell static values ``model`` (folds, cells) with ``ref`` (cells,)."""
    return all_metrics(np.asarray(model, dtype=np.float64), np.asarray(ref, dtype=np.float64)[None, :], axis=-1)


def ensemble_median(model) -> np.ndarray:
    """Median across folds (axis 0), NaN where every fold is NaN."""
    model = np.asarray(model, dtype=np.float64)
    out = np.full(model.shape[1:], np.nan)
    ok = np.isfinite(model).any(axis=0)
    out[ok] = np.nanmedian(model[:, ok], axis=0) if ok.any() else out[ok]
    return out


def model_cue(npp_mean, gpp_mean) -> np.ndarray:
    """Per-cell carbon use efficiency as the loss defines it: mean NPP / mean GPP (0.5 where mean
    GPP < 0.1 gC m-2 d-1)."""
    npp_mean = np.asarray(npp_mean, dtype=np.float64)
    gpp_mean = np.asarray(gpp_mean, dtype=np.float64)
    return np.where(gpp_mean < 0.1, 0.5, npp_mean / np.where(gpp_mean < 0.1, 1.0, gpp_mean))


def rows(reference: str, target: str, skill: dict, folds) -> list[dict]:
    """Long-format rows (reference, target, view, metric, fold, value) of a global skill result."""
    out = []
    items = skill.items() if isinstance(next(iter(skill.values())), dict) else [("spatial", skill)]
    for v, metrics in items:
        for metric in METRICS:
            for f, value in zip(folds, np.atleast_1d(metrics[metric]), strict=True):
                out.append(
                    {
                        "reference": reference,
                        "target": target,
                        "view": v,
                        "metric": metric,
                        "fold": int(f),
                        "value": float(value),
                    }
                )
    return out


def summarise(long: pd.DataFrame) -> pd.DataFrame:
    """Median, min and max across folds of every (reference, target, view, metric)."""
    if long.empty:
        return pd.DataFrame(columns=["reference", "target", "view", "metric", "median", "min", "max", "n_folds"])
    g = long.groupby(["reference", "target", "view", "metric"], sort=False)["value"]
    out = g.agg(median="median", min="min", max="max", n_folds="count").reset_index()
    return out


def fmt(x: float) -> str:
    """Compact number for tables (3 significant digits)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.2e}"
    return f"{x:.3g}"


def markdown_table(summary: pd.DataFrame, reference: str) -> str:
    """Rows target / view, columns metrics, cells ``median [min, max]`` across folds."""
    sub = summary[summary["reference"] == reference]
    if sub.empty:
        return ""
    head = "| target | view | " + " | ".join(METRICS) + " |\n|---|---|" + "---|" * len(METRICS) + "\n"
    lines = []
    for (target, v), grp in sub.groupby(["target", "view"], sort=False):
        cells = []
        for metric in METRICS:
            r = grp[grp["metric"] == metric]
            if r.empty:
                cells.append("")
                continue
            r = r.iloc[0]
            cells.append(f"{fmt(r['median'])} [{fmt(r['min'])}, {fmt(r['max'])}]")
        lines.append(f"| {target} | {v} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"
