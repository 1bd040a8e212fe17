"""``h2cm report``: a self-contained HTML page (figures as PNG files beside it) for a run.

Reads what ``h2cm evaluate`` wrote to ``RUN/evaluation`` (running it first when missing), draws
the figures of :mod:`h2cm.report.figures` and writes ``OUT/index.html`` with the skill tables,
learned constants, derived efficiencies, regional r / R2 and, on a twin world, the truth
comparisons. Figures and panels of variables the run's model does not produce (a pure LSTM
baseline predicts only some outputs and has no parameters or constants) are left out with a note,
and a section lists what the evaluation left out. The report folder is built under a temporary
name and renamed at the end.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__
from ..baselines import kind_label
from ..constraints import HEADLINE_VIEW
from ..evaluation.coverage import no_constants_text, not_evaluated_text
from ..evaluation.diagnostics import DIAGNOSTICS, diagnostic_outputs
from ..evaluation.metrics import METRIC_LABELS, METRICS
from ..evaluation.rundir import RunDir
from ..evaluation.skill import comparison_frame, fmt, model_rows
from ..evaluation.views import VIEW_LABELS
from . import figures, probe_figures

EVAL_FILES = (
    "skill_cells.nc",
    "metrics_summary.csv",
    "constants.csv",
    "monthly_test.nc",
    "maps.nc",
    "regional.nc",
    "daily_cell.nc",
    "summary.json",
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#1b1b1b;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em}th,td{border:1px solid #ccc;padding:.25em .5em;
text-align:right}th{background:#f1f3f5}td.l,th.l{text-align:left}figure{margin:1em 0}img{max-width:100%;
border:1px solid #eee}figcaption{font-size:.85em;color:#555}.meta{color:#555;font-size:.9em}nav a{margin-right:1em}
code{background:#f1f3f5;padding:0 .2em}
"""


# marks <body data-images-loaded="OK/TOTAL"> once the page has loaded (checked by the browser test)
IMAGE_CHECK = (
    "window.addEventListener('load',function(){var im=document.images,ok=0;"
    "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0){ok++;}}"
    "document.body.setAttribute('data-images-loaded',ok+'/'+im.length);});"
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


def ensure_evaluation(rd: RunDir, evaluation: Path | None, cube=None, cell=None, progress: bool = True) -> Path:
    """The evaluation folder, running ``h2cm evaluate`` when a file is missing or another cell is asked."""
    from ..evaluation.evaluate import evaluate

    folder = Path(evaluation) if evaluation else rd.path / "evaluation"
    missing = [f for f in EVAL_FILES if not (folder / f).exists()]
    if cell is not None and not missing:
        info = json.loads((folder / "summary.json").read_text())
        d = info["daily_cell"]
        if abs(d["lat"] - cell[0]) > 0.5 or abs(d["lon"] - cell[1]) > 0.5:
            missing = ["daily_cell.nc (another cell)"]
    if missing:
        if progress:
            print(f"evaluation incomplete ({', '.join(missing)}): running h2cm evaluate")
        evaluate(rd.path, cube=cube, out=folder, cell=cell, progress=progress)
    return folder


def build_report(run, out=None, evaluation=None, cube=None, cell=None, progress: bool = True) -> Path:
    """Write the report of ``run`` to ``out`` (default ``RUN/report``); return the index.html path."""
    t0 = time.perf_counter()
    rd = RunDir.open(run)
    folder = ensure_evaluation(rd, evaluation, cube, cell, progress)
    out = Path(out) if out else rd.path / "report"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        page = _build(rd, folder, tmp)
        (tmp / "index.html").write_text(page)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        print(f"report written in {time.perf_counter() - t0:.1f} s: {(out / 'index.html').resolve()}")
    return out / "index.html"


def _build(rd: RunDir, folder: Path, out: Path) -> str:
    info = json.loads((folder / "summary.json").read_text())
    summary = pd.read_csv(folder / "metrics_summary.csv")
    comparison = comparison_frame(summary)  # --compare products beside the model
    summary = model_rows(summary)
    constants = pd.read_csv(folder / "constants.csv")
    with (
        xr.open_dataset(folder / "monthly_test.nc") as monthly,
        xr.open_dataset(folder / "maps.nc") as maps,
        xr.open_dataset(folder / "regional.nc") as regional,
        xr.open_dataset(folder / "daily_cell.nc") as daily,
    ):
        monthly, maps, regional, daily = monthly.load(), maps.load(), regional.load(), daily.load()
    twin = bool(info.get("twin_world"))
    sec: list[str] = []
    nav: list[tuple[str, str]] = []

    def section(anchor: str, title: str, body: str) -> None:
        nav.append((anchor, title))
        sec.append(f'<h2 id="{anchor}">{html.escape(title)}</h2>{body}')

    # skill
    bars = figures.skill_bars(summary, out)
    with xr.open_dataset(folder / "skill_cells.nc") as skill_cells:
        smap = figures.skill_maps(skill_cells.load(), out)
    head = []
    for key, v in HEADLINE_VIEW.items():
        r = summary[(summary.reference == "obs") & (summary.target == key) & (summary.view == v)]
        if not r.empty:
            get = r.set_index("metric")
            head.append(
                {
                    "constraint": key,
                    "view (as in the loss)": VIEW_LABELS.get(v, "across cells"),
                    **{m: get.loc[m, "median"] for m in METRICS},
                }
            )
    body = (
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
    section("skill", "Skill against observations", body)

    # series
    figs = [figures.constraint_series(monthly, k, out) for k in figures.constraint_keys(monthly)]
    section(
        "series",
        "Model and data: monthly, seasonal and anomalies (C1-C8)",
        "".join(
            _figure(p, f"{p.stem.removeprefix('series_')}: monthly / mean seasonal cycle / anomalies")
            for p in figs
            if p
        ),
    )

    # maps
    m1 = figures.annual_maps(maps, out)
    m2 = figures.efficiency_maps(maps, out)
    eff = figures.efficiency_table(maps)
    section(
        "maps",
        "Mean annual GPP and NEE (Fig. 4)",
        _figure(m1, "Mean annual GPP and NEE, ensemble median") + _note(info, "Maps", ("gpp", "nee")),
    )
    section(
        "efficiency",
        "Derived efficiencies PUE, WUE, CUE, LUE (Fig. 5, Table 3)",
        _figure(m2, "Efficiencies from mean annual fluxes")
        + "".join(_note(info, k.upper(), diagnostic_outputs(k)) for k in DIAGNOSTICS)
        + "<p>Global values: ratio of area-weighted mean fluxes over the mapped cells, median [min, max] across "
        "folds. PAR from net radiation: PAR = 0.5 x SW, SW = max(Rn, 0) / 0.6 (docs/evaluation.md).</p>"
        + _table(eff, left=("diagnostic", "definition", "units")),
    )

    # constants
    cf = figures.constants_figure(constants, out)
    section(
        "constants",
        "Learned global constants",
        _figure(cf, "Q10 and beta_CO2 across folds") + _table(constants, left=("constant",))
        if not constants.empty
        else f"<p>None: {html.escape(no_constants_text(info))}.</p>",
    )

    # regions
    rf, rtab = figures.regional_cycles(regional, out)
    body = _figure(rf, "Mean seasonal cycles of GPP, TER and NEE per TransCom region (Fig. 6)")
    body += _note(info, "Regional cycles", ("gpp", "ter", "nee"))
    if not rtab.empty:
        body += (
            "<p>Agreement of the model's median seasonal cycle (and each other product's) with the reference, "
            "per region:</p>"
        )
        body += _table(rtab, left=("region", "name", "flux", "source", "reference"))
    if not comparison.empty:
        body += (
            "<h3>Other products (--compare)</h3><p>"
            + html.escape(", ".join(f"{n} = {p}" for n, p in info.get("compare", {}).items()))
            + ": scored on the same test cells, months and views as the model (a product has one value; the "
            "model's entry is the median [min, max] across folds).</p>"
            + _table(comparison, left=("reference", "target", "view", "source"))
        )
    counts = pd.DataFrame(
        {
            "region": regional["region"].values,
            "name": regional["region_name"].values,
            "cells": regional["n_cells"].values,
        }
    )
    body += "<details><summary>cells per region</summary>" + _table(counts, left=("region", "name")) + "</details>"
    section("regions", "TransCom regions: mean seasonal cycles (Fig. 6)", body)

    # daily
    dc = figures.daily_cell(daily, out)
    section(
        "daily",
        "Daily NEE, NPP and Rh against precipitation (Fig. 7)",
        _figure(dc, "Rain pulses at one cell")
        + _note(info, "Daily series", ("nee", "npp", "rh"))
        + f"<p>Cell {info['daily_cell']['cell']} at "
        f"{figures.latlon(info['daily_cell']['lat'], info['daily_cell']['lon'])}; choose another with "
        "<code>h2cm report --run RUN --cell LAT,LON</code>.</p>",
    )

    # truth
    if twin:
        ts = figures.truth_scatter(monthly, out)
        tm = figures.truth_maps(maps, out)
        tb = figures.skill_bars(summary, out, reference="truth", name="skill_bars_truth.png")
        body = (
            _figure(ts, "Monthly model vs hidden truth at test cells")
            + _note(info, "Truth comparison", figures.TRUTH_PANEL_KEYS)
            + _figure(tm, "Truth vs model maps")
            + _figure(tb, "Skill against the truth across folds")
            + _table(skill_table(summary, "truth"), left=("target", "view"))
        )
        section("truth", "Twin world: model against the hidden truth", body)

    # controlled experiments of ``h2cm probe`` (when RUN/probe exists)
    probes = probe_figures.report_section(rd.path / "probe", out)
    if probes:
        section("probes", "Probes of what the networks learned", probes)

    intro, skipped = not_evaluated_text(info)
    if skipped:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in skipped)
        section("omitted", "Not evaluated", f"<p>{html.escape(intro)}</p><ul>{items}</ul>")
    section("used", "What this run used", _used(rd, info))
    links = "".join(f'<a href="#{a}">{html.escape(t.split(" (")[0])}</a>' for a, t in nav)
    title = f"H2CM report: {rd.path.name}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f'<p class="meta">h2cm {__version__}; run <code>{html.escape(str(rd.path.resolve()))}</code>; '
        f"{len(info['folds'])} folds, {info['n_test_cells']} test cells, {info['period'][0]} to "
        f"{info['period'][1]}{'; twin world' if twin else ''}.</p><nav>{links}</nav>{''.join(sec)}"
        f"<script>{IMAGE_CHECK}</script></body></html>"
    )


def run(args) -> int:
    from ..evaluation.evaluate import parse_cell

    build_report(
        args.run,
        out=args.out,
        evaluation=args.evaluation,
        cube=args.cube,
        cell=parse_cell(args.cell),
        progress=not args.quiet,
    )
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="self-contained HTML report (figures as PNG beside it) of a run")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--out", default=None, help="report folder (default: RUN/report)")
    p.add_argument("--evaluation", default=None, help="evaluation folder (default: RUN/evaluation; made if missing)")
    p.add_argument("--cube", default=None, help="cube (default: the run's cube)")
    p.add_argument("--cell", default=None, help="LAT,LON of the cell for the daily rain-pulse figure")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)
