"""The tables ``h2cm probe`` writes (docs/cli/probe.md): ``pulse.csv`` (:func:`pulse_table`, one
row per cell, variable and day) and ``curves.csv`` (:func:`curves_table`, one row per cell,
parameter and value of the swept input), each with every fold's value, the folds' median, min and
max, and the truth's (NaN without one)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..schema import cf_attrs
from .probe_curves import CURVE_PARAMETERS, CURVES, WUE_UNITS, CurveBatch
from .probe_pulse import PULSE_KEYS


def _fold_stats(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """median, min, max over axis 0 (folds), NaN where every fold is NaN."""
    if not np.isfinite(a).any():
        nan = np.full(a.shape[1:], np.nan)
        return nan, nan, nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=0), np.nanmin(a, axis=0), np.nanmax(a, axis=0)


def pulse_table(cells, folds, days, prec, pulses, truth) -> pd.DataFrame:
    """``pulse.csv``: ``days`` (offsets from the rain day), ``prec`` ``(days, cells)``, ``pulses``
    (per fold: key -> ``(days, cells)``), ``truth`` (the same, or None)."""
    frames = []
    for key in PULSE_KEYS:
        per_fold = np.stack([p.get(key, np.full(prec.shape, np.nan)) for p in pulses])  # (folds, days, cells)
        med, lo, hi = _fold_stats(per_fold)
        for j, c in enumerate(cells):
            df = pd.DataFrame(
                {
                    "cell": c.index,
                    "lat": c.lat,
                    "lon": c.lon,
                    "variable": key,
                    "units": units(key),
                    "day": days,
                    "prec": prec[:, j],
                    "median": med[:, j],
                    "min": lo[:, j],
                    "max": hi[:, j],
                    "truth": truth[key][:, j] if truth is not None else np.nan,
                }
            )
            for f, p in zip(folds, per_fold, strict=True):
                df[f"fold_{f}"] = p[:, j]
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def curves_table(cells, folds, batch: CurveBatch, curves, truth) -> pd.DataFrame:
    """``curves.csv``: ``curves`` (per fold: parameter -> value per element of ``batch``, or None
    for a model without parameters), ``truth`` (the same, or None); swept air temperature in degC."""
    have = [c for c in curves if c is not None]
    cols = ["cell", "lat", "lon", "parameter", "units", "input", "input_units", "x", "median", "min", "max", "truth"]
    cols += [f"fold_{f}" for f in folds]
    if not have and truth is None:
        return pd.DataFrame(columns=cols)
    frames = []
    for name in (*CURVE_PARAMETERS, "wue"):
        i = CURVE_PARAMETERS.index(name) if name != "wue" else 0
        cv = CURVES[i]
        sel = batch.curve == i
        per_fold = np.stack([c[name][sel] if c is not None else np.full(sel.sum(), np.nan) for c in curves])
        med, lo, hi = _fold_stats(per_fold)
        x = batch.x[sel] - (273.15 if cv.input == "tair" else 0.0)
        df = pd.DataFrame(
            {
                "cell": [cells[j].index for j in batch.cell[sel]],
                "lat": [cells[j].lat for j in batch.cell[sel]],
                "lon": [cells[j].lon for j in batch.cell[sel]],
                "parameter": name,
                "units": WUE_UNITS if name == "wue" else units(name),
                "input": cv.input,
                "input_units": cv.units,
                "x": x,
                "median": med,
                "min": lo,
                "max": hi,
                "truth": truth[name][sel] if truth is not None else np.nan,
            }
        )
        for f, p in zip(folds, per_fold, strict=True):
            df[f"fold_{f}"] = p
        frames.append(df)
    return pd.concat(frames, ignore_index=True)[cols]


def units(key: str) -> str:
    return str(cf_attrs(key)["units"]).replace("g m-2 d-1", "gC m-2 d-1")
