"""``summary.json`` of ``h2cm probe`` (docs/cli/probe.md): the run, the settings, the probed cells
and their forcing, the pulse ratios, the ends of every response curve and the notes; and the lines
the command prints from it (:func:`summary_lines`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import __version__
from ..kinds import kind_label
from .probe_cells import latlon
from .probe_pulse import AFTER_DAYS, CONTEXT_DAYS, DRY_MONTHS, pulse_ratios


def summary(rd, cube_path, kind, cells, pf, days, pulses, truth_p, curves_df, notes, settings) -> dict:
    """The summary of a probe of the run ``rd``: ``cells`` (:class:`~.probe_cells.ProbeCell`),
    ``pf`` their :class:`~.probe_pulse.PulseForcing`, ``pulses``/``truth_p`` the pulse outputs,
    ``curves_df`` the table of curves; a note is added to ``notes`` when a cell's rain is snow."""
    ratios = pulse_ratios(cells, rd.folds, days, pulses, truth_p)
    for p in pf:
        if p.dry_season["tair"] <= 273.15:
            notes.append("the dry-season air temperature of a cell is at or below 0 degC: its rain falls as snow")
            break
    return {
        "h2cm": __version__,
        "run": str(rd.path),
        "cube": str(cube_path),
        "model": kind,
        "model_label": kind_label(kind),
        "folds": rd.folds,
        "period": [str(cells[0].time[0].date()), str(cells[0].time[-1].date())],
        "truth": truth_p is not None,
        "settings": {**settings, "after_days": AFTER_DAYS, "context_days": CONTEXT_DAYS, "dry_months": DRY_MONTHS},
        "cells": [
            {
                "cell": c.index,
                "lat": c.lat,
                "lon": c.lon,
                "why": c.why,
                "dry_months": p.dry_months,
                "mean_forcing": _rounded(p.mean),
                "dry_season_forcing": _rounded(p.dry_season),
            }
            for c, p in zip(cells, pf, strict=True)
        ],
        "pulse_ratio": ratios,
        "curves": curve_ends(curves_df),
        "notes": notes,
    }


def curve_ends(curves_df: pd.DataFrame) -> list[dict]:
    """Per cell and parameter: the first and last swept value, the folds' median and the truth there."""
    trends = []
    if len(curves_df):
        for (cell, name), g in curves_df.groupby(["cell", "parameter"], sort=False):
            trends.append(
                {
                    "cell": int(cell),
                    "parameter": name,
                    "input": g["input"].iloc[0],
                    "x": [float(g["x"].iloc[0]), float(g["x"].iloc[-1])],
                    "median": _pair(g["median"]),
                    "truth": _pair(g["truth"]),
                }
            )
    return trends


def _pair(s: pd.Series):
    v = s.to_numpy(dtype=np.float64)
    return None if not np.isfinite(v[[0, -1]]).all() else [round(float(v[0]), 6), round(float(v[-1]), 6)]


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in d.items()}


def summary_lines(summary: dict) -> list[str]:
    """What ``h2cm probe`` prints: the pulse ratios and the notes."""
    s = summary["settings"]
    pr = summary["pulse_ratio"]
    lines = [
        f"{summary['model_label']}, {len(summary['folds'])} folds, {len(summary['cells'])} cells: "
        f"{s['rain_mm']:g} mm of rain after {s['dry_days']} dry days"
    ]
    for c in [*pr["cells"], {"lat": None, **pr["all_cells"]}]:
        where = "all cells" if c["lat"] is None else latlon(c["lat"], c["lon"])
        folds = [v for v in c["folds"].values() if v is not None]
        fold_txt = f" [folds {min(folds):.2f}-{max(folds):.2f}]" if folds else ""
        ens = "n/a" if c["ensemble"] is None else f"{c['ensemble']:.2f}"
        tr = "" if c["truth"] is None else f", truth {c['truth']:.2f}"
        lines.append(f"  Rh pulse ratio at {where}: ensemble {ens}{fold_txt}{tr}")
    lines += summary["notes"]
    return lines
