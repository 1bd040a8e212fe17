"""Figures of ``h2cm probe`` (rain pulse, response curves) and its section of ``h2cm report``.

Drawn from the tables the probe writes (``pulse.csv``, ``curves.csv``) and its ``summary.json``:
the fold ensemble as its median (line) and range (band), the twin world's truth dashed in its
own colour; every axis with units.
"""

from __future__ import annotations

import html
import json
import shutil
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .style import MODEL_COLOUR, TRUTH_COLOUR, latlon  # noqa: E402

PRECIP_COLOUR = "#4c9be8"
PULSE_LABELS = {"rb": "Rb", "rh": "Rh", "nee": "NEE", "npp": "NPP"}
CURVE_PANELS: tuple[tuple[str, str], ...] = (
    ("wue", r"WUE = $\alpha_{WUE}\,CO_2\,\beta_{CO_2}$"),
    ("alpha_t", r"$\alpha_T$"),
    ("cue", "CUE"),
    ("rb", "Rb (at 15 °C)"),
)
INPUT_LABELS = {
    "vpd": "vapour pressure deficit (hPa)",
    "sm_rel": "relative soil moisture SM/SMmax (1)",
    "tair": "air temperature (°C)",
    "prec": "precipitation (mm d-1)",
}
REPORT_FILES = {"pulse.png": "probe_pulse.png", "curves.png": "probe_curves.png"}


def _cells(df: pd.DataFrame) -> list[tuple[int, float, float]]:
    return list(dict.fromkeys(zip(df["cell"].astype(int), df["lat"], df["lon"], strict=True)))


def _band(ax, x, g: pd.DataFrame, n_folds: int, label: bool) -> bool:
    """Median line and fold range of ``g``; False when the model has no values."""
    if not np.isfinite(g["median"].to_numpy(dtype=float)).any():
        return False
    ax.fill_between(
        x, g["min"], g["max"], color=MODEL_COLOUR, alpha=0.2, lw=0, label="range across folds" if label else None
    )
    ax.plot(x, g["median"], color=MODEL_COLOUR, lw=1.6, label=f"model: median of {n_folds} folds" if label else None)
    return True


def _truth(ax, x, g: pd.DataFrame, label: bool) -> bool:
    if not np.isfinite(g["truth"].to_numpy(dtype=float)).any():
        return False
    ax.plot(x, g["truth"], color=TRUTH_COLOUR, lw=2.2, ls="--", label="truth (twin world)" if label else None)
    return True


def _layout(fig, summary: dict, top: float, bottom: float, hspace: float) -> None:
    """Margins in inches (a fixed layout: drawing is the probe's slowest step), the notes below
    the panels."""
    w, h = fig.get_size_inches()
    notes = summary.get("notes") or []
    extra = 0.18 * sum(1 + len(n) // int(11 * w) for n in notes)
    fig.set_size_inches(w, h + extra)
    h += extra
    fig.subplots_adjust(
        left=0.95 / w, right=1 - 0.15 / w, top=1 - top / h, bottom=(bottom + extra) / h, hspace=hspace, wspace=0.35
    )
    if notes:
        text = "\n".join(textwrap.fill(n, int(11 * w)) for n in notes)
        fig.text(0.1 / w, 0.1 / h, text, ha="left", va="bottom", fontsize=8, color="#555")


def pulse_figure(df: pd.DataFrame, summary: dict):
    """Precipitation and the daily Rb, Rh, NEE, NPP around the rain day, one column per cell."""
    cells = _cells(df)
    keys = [k for k in PULSE_LABELS if k in set(df["variable"])]
    n_folds = len(summary.get("folds", []))
    s = summary["settings"]
    ratios = {int(r["cell"]): r for r in summary["pulse_ratio"]["cells"]}
    fig, axes = plt.subplots(
        len(keys) + 1,
        len(cells),
        figsize=(4.2 * len(cells) + 0.6, 1.9 * (len(keys) + 1) + 0.8),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [0.6] + [1.0] * len(keys)},
    )
    first = True
    for j, (cell, lat, lon) in enumerate(cells):
        at = df[df["cell"] == cell]
        top = at[at["variable"] == keys[0]]
        ax = axes[0, j]
        ax.bar(top["day"], top["prec"], color=PRECIP_COLOUR, width=0.9)
        ax.set_ylabel("P (mm d-1)")
        r = ratios.get(int(cell), {})
        parts = []
        if r.get("ensemble") is not None:
            fv = [v for v in r["folds"].values() if v is not None]
            parts.append(f"model {r['ensemble']:.2f} [{min(fv):.2f}, {max(fv):.2f}]")
        if r.get("truth") is not None:
            parts.append(f"truth {r['truth']:.2f}")
        ax.set_title(f"{latlon(lat, lon)}\nRh days 0-3 / 7 days before\n{', '.join(parts) or 'n/a'}", fontsize=9)
        for i, key in enumerate(keys):
            ax = axes[i + 1, j]
            g = at[at["variable"] == key]
            drew = _band(ax, g["day"], g, n_folds, first)
            drew = _truth(ax, g["day"], g, first) or drew
            if drew and first:
                ax.legend(fontsize=7, loc="upper left")
                first = False
            if not drew:
                ax.text(0.5, 0.5, "not produced by this model", ha="center", va="center", transform=ax.transAxes)
            ax.axvline(0, color="#888", lw=0.8, ls=":")
            ax.set_ylabel(f"{PULSE_LABELS[key]} ({g['units'].iloc[0]})")
        axes[-1, j].set_xlabel(f"days from the rain day ({s['rain_mm']:g} mm)")
    fig.suptitle(
        f"Rain pulse probe: {summary['model_label']}; {s['dry_days']} dry days, then {s['rain_mm']:g} mm of rain",
        fontsize=11,
    )
    _layout(fig, summary, top=1.3, bottom=0.55, hspace=0.15)
    return fig


def curves_figure(df: pd.DataFrame, summary: dict):
    """One row per response curve (WUE, α_T, CUE, Rb), one column per cell."""
    n_folds = len(summary.get("folds", []))
    cells = _cells(df) if len(df) else [(int(c["cell"]), c["lat"], c["lon"]) for c in summary["cells"]]
    fig, axes = plt.subplots(
        len(CURVE_PANELS), len(cells), figsize=(4.2 * len(cells) + 0.6, 2.6 * len(CURVE_PANELS) + 0.6), squeeze=False
    )
    first = True
    settle = summary["settings"]["settle_days"]
    for j, (cell, lat, lon) in enumerate(cells):
        at = df[df["cell"] == cell] if len(df) else df
        for i, (name, label) in enumerate(CURVE_PANELS):
            ax = axes[i, j]
            g = at[at["parameter"] == name] if len(at) else at
            drew = False
            if len(g):
                drew = _band(ax, g["x"], g, n_folds, first)
                drew = _truth(ax, g["x"], g, first) or drew
                ax.set_xlabel(INPUT_LABELS.get(g["input"].iloc[0], g["input"].iloc[0]))
                ax.set_ylabel(f"{label}\n({g['units'].iloc[0]})", fontsize=8)
            if drew and first:
                ax.legend(fontsize=7)
                first = False
            if not drew:
                ax.text(0.5, 0.5, "no parameters to probe", ha="center", va="center", transform=ax.transAxes)
                ax.set_ylabel(label, fontsize=8)
            if i == 0:
                ax.set_title(latlon(lat, lon), fontsize=9)
    fig.suptitle(
        f"Response curves: {summary['model_label']}\nother inputs at the cell's means, parameter after {settle} days",
        fontsize=10,
    )
    _layout(fig, summary, top=0.85, bottom=0.55, hspace=0.45)
    return fig


# --- the report's section --------------------------------------------------------------------------


def report_section(probe_dir: Path, out_dir: Path) -> str:
    """HTML of the report's "Probes of what the networks learned" section ("" without a probe):
    copies the probe's figures into the report folder and tabulates the pulse ratios."""
    probe_dir = Path(probe_dir)
    if not (probe_dir / "summary.json").is_file():
        return ""
    summary = json.loads((probe_dir / "summary.json").read_text())
    figs = []
    captions = {
        "pulse.png": "Rain pulse: daily Rb, Rh, NEE, NPP after a controlled dry spell and one rain day",
        "curves.png": "Response curves of the learned parameters, other inputs held at the cell's means",
    }
    for src, dst in REPORT_FILES.items():
        if (probe_dir / src).is_file():
            shutil.copyfile(probe_dir / src, Path(out_dir) / dst)
            figs.append(
                f'<figure><img src="{dst}" alt="{html.escape(captions[src])}">'
                f"<figcaption>{html.escape(captions[src])}</figcaption></figure>"
            )
    s = summary["settings"]
    rows = []
    for r in [*summary["pulse_ratio"]["cells"], {"lat": None, **summary["pulse_ratio"]["all_cells"]}]:
        fv = [v for v in r["folds"].values() if v is not None]
        rows.append(
            "<tr>"
            f'<td class="l">{html.escape("all cells" if r["lat"] is None else latlon(r["lat"], r["lon"]))}</td>'
            f"<td>{_num(r['ensemble'])}</td>"
            f"<td>{'' if not fv else f'{min(fv):.2f} - {max(fv):.2f}'}</td>"
            f"<td>{_num(r['truth'])}</td></tr>"
        )
    table = (
        '<table><thead><tr><th class="l">cell</th><th>ensemble</th><th>folds (min - max)</th><th>truth</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    notes = "".join(f'<p class="meta">{html.escape(n)}</p>' for n in summary.get("notes", []))
    truth = " and the hidden truth" if summary.get("truth") else ""
    intro = (
        f"<p>Controlled experiments (<code>h2cm probe</code>, docs/cli/probe.md) on every fold's model{truth}. "
        f"Rain pulse: {s['spinup_days']} days of the cell's mean forcing, then {s['dry_days']} days without "
        f"rain under the cell's dry-season weather, one day with {s['rain_mm']:g} mm and {s['after_days']} "
        "more dry days. Response curves: one input swept, the others and the states the networks read held "
        f"at the cell's means, the parameter read after {s['settle_days']} days.</p>"
        "<p>Rh pulse ratio (mean Rh on days 0-3 from the rain / mean over the 7 days before):</p>"
    )
    return intro + table + notes + "".join(figs)


def _num(v) -> str:
    return "" if v is None else f"{v:.2f}"
