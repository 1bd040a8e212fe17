"""Skill of an ensemble against a reference (observations or the twin world's truth).

Arrays: model ``(folds, months, cells)``, reference ``(months, cells)``, cell area ``(cells,)``.

- :func:`global_skill`: the paper's headline numbers (Figure 3, Table C1): per fold, model and
  reference are masked to shared months/cells, treated per constraint (:func:`views.prepare`),
  averaged over cells with area weights, then each :data:`views.VIEWS` is taken and compared;
- :func:`cell_skill`: per-cell metrics of the ensemble median (maps);
- :func:`spatial_skill`: for static quantities (CUE, learned static parameters): across cells.

Other products (``h2cm evaluate --compare``) are scored by the same functions as a one-member
ensemble; their rows carry the product's name in the ``source`` column (``model`` for the run).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import METRICS, all_metrics, area_weighted_mean
from .views import VIEWS, prepare, view

MODEL_SOURCE = "model"  # the ``source`` of the run's own rows; --compare products use their names
SUMMARY_COLUMNS: tuple[str, ...] = (
    *("reference", "target", "view", "metric"),
    *("median", "min", "max", "n_folds", "source"),
)


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


def rows(reference: str, target: str, skill: dict, folds, source: str = MODEL_SOURCE) -> list[dict]:
    """Long-format rows (reference, target, view, metric, fold, value, source) of a global skill
    result. ``source``: ``model`` (the run's fold ensemble) or a product's name (``--compare``),
    whose one value has no fold (``folds=[None]``)."""
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
                        "fold": None if f is None else int(f),
                        "value": float(value),
                        "source": source,
                    }
                )
    return out


def summarise(long: pd.DataFrame) -> pd.DataFrame:
    """Median, min and max across folds of every (reference, target, view, metric, source); a
    product (one value, no folds) has median = min = max and ``n_folds`` 1."""
    if "source" not in long:
        long = long.assign(source=MODEL_SOURCE)
    if long.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    g = long.groupby(["reference", "target", "view", "metric", "source"], sort=False)["value"]
    out = g.agg(median="median", min="min", max="max", n_folds="count").reset_index()
    return out[list(SUMMARY_COLUMNS)]


def model_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows of the run's own models (not of ``--compare`` products)."""
    return summary[summary["source"] == MODEL_SOURCE] if "source" in summary else summary


def comparison_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """Model beside every ``--compare`` product: for each (reference, target, view) that a product
    was scored on, the model's row (``median [min, max]`` across folds) and each product's value."""
    if "source" not in summary:
        return pd.DataFrame()
    products = summary[summary["source"] != MODEL_SOURCE]
    recs = []
    for (ref, target, v), _ in products.groupby(["reference", "target", "view"], sort=False):
        sub = summary[(summary["reference"] == ref) & (summary["target"] == target) & (summary["view"] == v)]
        for src, grp in sub.groupby("source", sort=False):
            rec = {"reference": ref, "target": target, "view": v, "source": src}
            for metric in METRICS:
                r = grp[grp["metric"] == metric]
                if r.empty:
                    rec[metric] = ""
                elif src == MODEL_SOURCE:
                    r = r.iloc[0]
                    rec[metric] = f"{fmt(r['median'])} [{fmt(r['min'])}, {fmt(r['max'])}]"
                else:
                    rec[metric] = fmt(float(r["median"].iloc[0]))
            recs.append(rec)
    return pd.DataFrame(recs)


def fmt(x: float) -> str:
    """Compact number for tables (3 significant digits)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.2e}"
    return f"{x:.3g}"


def markdown_table(summary: pd.DataFrame, reference: str) -> str:
    """Rows target / view, columns metrics, cells ``median [min, max]`` across folds (the
    model's rows only)."""
    summary = model_rows(summary)
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
