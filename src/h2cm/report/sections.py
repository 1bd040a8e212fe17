"""The sections of the HTML report, one function each, in page order (:data:`SECTIONS`).

Each section reads :class:`ReportInputs` (the files of the evaluation's contract,
:data:`h2cm.layout.EVAL_FILES`, and the run), draws its figures into the report folder with
:mod:`h2cm.report.figures` and returns its HTML body, or '' when it has nothing to show.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..constraints import HEADLINE_VIEW
from ..evaluation.coverage import no_constants_text, not_evaluated_text
from ..evaluation.diagnostics import DIAGNOSTICS, diagnostic_outputs
from ..evaluation.metrics import METRIC_LABELS, METRICS
from ..evaluation.rundir import RunDir
from ..evaluation.skill import comparison_frame, fmt, model_rows
from ..evaluation.views import VIEW_LABELS
from ..kinds import kind_label
from ..layout import PROBE
from . import figures, maps, probe_figures


@dataclass
class ReportInputs:
    rd: RunDir
    out: Path  # the report folder figures are drawn into
    info: dict  # summary.json
    summary: pd.DataFrame  # the model's rows of metrics_summary.csv
    comparison: pd.DataFrame  # --compare products beside the model
    constants: pd.DataFrame
    monthly: xr.Dataset
    maps: xr.Dataset
    regional: xr.Dataset
    daily: xr.Dataset
    skill_cells: xr.Dataset

    @property
    def twin(self) -> bool:
        return bool(self.info.get("twin_world"))

    @classmethod
    def read(cls, rd: RunDir, folder: Path, out: Path) -> ReportInputs:
        summary = pd.read_csv(folder / "metrics_summary.csv")
        nc = {}
        for name in ("monthly_test", "maps", "regional", "daily_cell", "skill_cells"):
            with xr.open_dataset(folder / f"{name}.nc") as ds:
                nc[name] = ds.load()
        return cls(
            rd=rd,
            out=out,
            info=json.loads((folder / "summary.json").read_text()),
            summary=model_rows(summary),
            comparison=comparison_frame(summary),
            constants=pd.read_csv(folder / "constants.csv"),
            monthly=nc["monthly_test"],
            maps=nc["maps"],
            regional=nc["regional"],
            daily=nc["daily_cell"],
            skill_cells=nc["skill_cells"],
        )


def _table(df: pd.DataFrame, left: tuple[str, ...] = ()) -> str:
    head = "".join(f'<th class="{"l" if c in left else ""}">{html.escape(str(c))}</th>' for c in df.columns)
    body = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            text = fmt(float(v)) if isinstance(v, (int, float, np.floating, np.integer)) else str(v)
            cells.append(f'<td class="{"l" if c in left else ""}">{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(path: Path | None, caption: str) -> str:
    if path is None:
        return ""
    return (
        f'<figure><img src="{html.escape(path.name)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _note(info: dict, what: str, keys) -> str:
    """A note that ``what`` is not shown for those of ``keys`` the run's model does not produce
    (per ``summary.json``; evaluations written before it recorded the model have no such note)."""
    if "outputs" not in info:
        return ""
    have = {*info["outputs"], *info.get("parameters", ())}
    absent = [k for k in keys if k not in have]
    if not absent:
        return ""
    return (
        f'<p class="meta">{html.escape(what)}: not shown for {html.escape(", ".join(absent))}, '
        f"which this run's {html.escape(kind_label(info.get('model', '?')))} does not produce.</p>"
    )


def skill_table(summary: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Table C1 layout: target, view, then ``median [min, max]`` per metric."""
    sub = summary[summary["reference"] == reference]
    recs = []
    for (target, v), grp in sub.groupby(["target", "view"], sort=False):
        rec = {"target": target, "view": VIEW_LABELS.get(v, "across cells")}
        for m in METRICS:
            r = grp[grp["metric"] == m]
            rec[m] = "" if r.empty else f"{fmt(r['median'].iloc[0])} [{fmt(r['min'].iloc[0])}, {fmt(r['max'].iloc[0])}]"
        recs.append(rec)
    return pd.DataFrame(recs)


def _used(rd: RunDir, info: dict) -> str:
    """What the run used (preset, folds, cells, epochs, period)."""
    cfg = rd.config
    train = cfg.get("train", {}) if isinstance(cfg.get("train"), dict) else {}
    data = cfg.get("data", {}) if isinstance(cfg.get("data"), dict) else {}
    split = cfg.get("split", {}) if isinstance(cfg.get("split"), dict) else {}
    net = cfg.get("network", {}) if isinstance(cfg.get("network"), dict) else {}
    items = [
        ("configuration", cfg.get("name", "?")),
        ("model", kind_label(info.get("model", cfg.get("model", "hybrid")))),
        ("folds trained / in the split", f"{len(rd.folds)} / {split.get('n_folds', '?')}"),
        ("epochs (maximum), patience", f"{train.get('epochs', '?')}, {train.get('patience', '?')}"),
        ("training cells per fold (cap)", data.get("max_train_cells") or "all"),
        (
            "network sizes (LSTM hidden, FC hidden, code)",
            f"{net.get('lstm_hidden', '?')}, {net.get('fc_hidden', '?')}, {net.get('code_size', '?')}",
        ),
        ("test cells", info["n_test_cells"]),
        ("cells in maps and regional cycles", f"{info['n_map_cells']} ({info['map_cells']})"),
        ("evaluation period", f"{info['period'][0]} to {info['period'][1]}"),
        ("cube", info["cube"] + (" (twin world with hidden truth)" if info["twin_world"] else "")),
    ]
    rows = "".join(
        f'<tr><td class="l">{html.escape(k)}</td><td class="l">{html.escape(str(v))}</td></tr>' for k, v in items
    )
    return f"<table>{rows}</table>"


def skill_section(r: ReportInputs) -> str:
    summary, out = r.summary, r.out
    bars = figures.skill_bars(summary, out)
    smap = maps.skill_maps(r.skill_cells, out)
    head = []
    for key, v in HEADLINE_VIEW.items():
        rows = summary[(summary.reference == "obs") & (summary.target == key) & (summary.view == v)]
        if not rows.empty:
            get = rows.set_index("metric")
            head.append(
                {
                    "constraint": key,
                    "view (as in the loss)": VIEW_LABELS.get(v, "across cells"),
                    **{m: get.loc[m, "median"] for m in METRICS},
                }
            )
    return (
        "<p>Metrics of the area-weighted mean over the test cells, per fold; bars and table entries are the "
        "median and [min, max] across folds (Figure 3 and Table C1 of the paper). "
        + "; ".join(f"{m}: {html.escape(METRIC_LABELS[m])}" for m in METRICS)
        + ".</p>"
        + _figure(bars, "Skill across folds (Fig. 3, C9)")
        + "<h3>Headline (median across folds, on the view each loss term uses)</h3>"
        + _table(pd.DataFrame(head), left=("constraint", "view (as in the loss)"))
        + "<h3>All views (Table C1)</h3>"
        + _table(skill_table(summary, "obs"), left=("target", "view"))
        + _figure(smap, "Per-cell skill of the ensemble median (maps)")
    )


def series_section(r: ReportInputs) -> str:
    figs = [figures.constraint_series(r.monthly, k, r.out) for k in figures.constraint_keys(r.monthly)]
    return "".join(
        _figure(p, f"{p.stem.removeprefix('series_')}: monthly / mean seasonal cycle / anomalies") for p in figs if p
    )


def maps_section(r: ReportInputs) -> str:
    m1 = maps.annual_maps(r.maps, r.out)
    return _figure(m1, "Mean annual GPP and NEE, ensemble median") + _note(r.info, "Maps", ("gpp", "nee"))


def efficiency_section(r: ReportInputs) -> str:
    m2 = maps.efficiency_maps(r.maps, r.out)
    eff = maps.efficiency_table(r.maps)
    return (
        _figure(m2, "Efficiencies from mean annual fluxes")
        + "".join(_note(r.info, k.upper(), diagnostic_outputs(k)) for k in DIAGNOSTICS)
        + "<p>Global values: ratio of area-weighted mean fluxes over the mapped cells, median [min, max] across "
        "folds. PAR from net radiation: PAR = 0.5 x SW, SW = max(Rn, 0) / 0.6 (docs/evaluation.md).</p>"
        + _table(eff, left=("diagnostic", "definition", "units"))
    )


def constants_section(r: ReportInputs) -> str:
    if r.constants.empty:
        return f"<p>None: {html.escape(no_constants_text(r.info))}.</p>"
    cf = figures.constants_figure(r.constants, r.out, figures.run_priors(r.rd.config))
    return _figure(cf, "Q10 and beta_CO2 across folds") + _table(r.constants, left=("constant",))


def regions_section(r: ReportInputs) -> str:
    regional = r.regional
    rf, rtab = figures.regional_cycles(regional, r.out)
    body = _figure(rf, "Mean seasonal cycles of GPP, TER and NEE per TransCom region (Fig. 6)")
    body += _note(r.info, "Regional cycles", ("gpp", "ter", "nee"))
    if not rtab.empty:
        body += (
            "<p>Agreement of the model's median seasonal cycle (and each other product's) with the reference, "
            "per region:</p>"
        )
        body += _table(rtab, left=("region", "name", "flux", "source", "reference"))
    if not r.comparison.empty:
        body += (
            "<h3>Other products (--compare)</h3><p>"
            + html.escape(", ".join(f"{n} = {p}" for n, p in r.info.get("compare", {}).items()))
            + ": scored on the same test cells, months and views as the model (a product has one value; the "
            "model's entry is the median [min, max] across folds).</p>"
            + _table(r.comparison, left=("reference", "target", "view", "source"))
        )
    counts = pd.DataFrame(
        {
            "region": regional["region"].values,
            "name": regional["region_name"].values,
            "cells": regional["n_cells"].values,
        }
    )
    return (
        body + "<details><summary>cells per region</summary>" + _table(counts, left=("region", "name")) + "</details>"
    )


def daily_section(r: ReportInputs) -> str:
    dc = figures.daily_cell(r.daily, r.out)
    cell = r.info["daily_cell"]
    return (
        _figure(dc, "Rain pulses at one cell")
        + _note(r.info, "Daily series", ("nee", "npp", "rh"))
        + f"<p>Cell {cell['cell']} at {figures.latlon(cell['lat'], cell['lon'])}; choose another with "
        "<code>h2cm report --run RUN --cell LAT,LON</code>.</p>"
    )


def truth_section(r: ReportInputs) -> str:
    if not r.twin:
        return ""
    ts = figures.truth_scatter(r.monthly, r.out)
    tm = maps.truth_maps(r.maps, r.out)
    tb = figures.skill_bars(r.summary, r.out, reference="truth", name="skill_bars_truth.png")
    return (
        _figure(ts, "Monthly model vs hidden truth at test cells")
        + _note(r.info, "Truth comparison", figures.TRUTH_PANEL_KEYS)
        + _figure(tm, "Truth vs model maps")
        + _figure(tb, "Skill against the truth across folds")
        + _table(skill_table(r.summary, "truth"), left=("target", "view"))
        + ensemble_truth_html(r.info)
    )


def ensemble_truth_html(info: dict) -> str:
    """The fold ensemble's r against the truth (``summary.json``'s ``ensemble_truth``): one number
    per output and view; empty for evaluations written before it was recorded."""
    ens = info.get("ensemble_truth") or {}
    if not ens:
        return ""
    df = pd.DataFrame([{"output": k, **{VIEW_LABELS[v]: r for v, r in x.items()}} for k, x in ens.items()])
    return (
        "<h3>The fold ensemble against the truth</h3><p>r of the mean of the folds (area-weighted mean "
        "over the test cells), one number per output and view.</p>" + _table(df, left=("output",))
    )


def probes_section(r: ReportInputs) -> str:
    """The controlled experiments of ``h2cm probe`` (when RUN/probe exists)."""
    return probe_figures.report_section(r.rd.path / PROBE, r.out) or ""


def omitted_section(r: ReportInputs) -> str:
    intro, skipped = not_evaluated_text(r.info)
    if not skipped:
        return ""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in skipped)
    return f"<p>{html.escape(intro)}</p><ul>{items}</ul>"


def used_section(r: ReportInputs) -> str:
    return _used(r.rd, r.info)


# (anchor, title, body function), in page order
SECTIONS: tuple[tuple[str, str, Callable[[ReportInputs], str]], ...] = (
    ("skill", "Skill against observations", skill_section),
    ("series", "Model and data: monthly, seasonal and anomalies (C1-C8)", series_section),
    ("maps", "Mean annual GPP and NEE (Fig. 4)", maps_section),
    ("efficiency", "Derived efficiencies PUE, WUE, CUE, LUE (Fig. 5, Table 3)", efficiency_section),
    ("constants", "Learned global constants", constants_section),
    ("regions", "TransCom regions: mean seasonal cycles (Fig. 6)", regions_section),
    ("daily", "Daily NEE, NPP and Rh against precipitation (Fig. 7)", daily_section),
    ("truth", "Twin world: model against the hidden truth", truth_section),
    ("probes", "Probes of what the networks learned", probes_section),
    ("omitted", "Not evaluated", omitted_section),
    ("used", "What this run used", used_section),
)
