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
import time
from pathlib import Path

from .. import __version__, atomic
from ..evaluation.rundir import RunDir
from ..layout import EVAL_FILES, EVALUATION, REPORT
from .sections import SECTIONS, ReportInputs

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


def ensure_evaluation(rd: RunDir, evaluation: Path | None, cube=None, cell=None, progress: bool = True) -> Path:
    """The evaluation folder, running ``h2cm evaluate`` when a file is missing or another cell is asked."""
    from ..evaluation.evaluate import evaluate

    folder = Path(evaluation) if evaluation else rd.path / EVALUATION
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
    out = Path(out) if out else rd.path / REPORT
    with atomic.atomic_path(out, mkdir=True) as tmp:  # the previous report or the new one, never a mix
        page = _build(rd, folder, tmp)
        (tmp / "index.html").write_text(page)
    if progress:
        print(f"report written in {time.perf_counter() - t0:.1f} s: {(out / 'index.html').resolve()}")
    return out / "index.html"


def _build(rd: RunDir, folder: Path, out: Path) -> str:
    """The page: every section of :data:`h2cm.report.sections.SECTIONS` that has something to show."""
    inputs = ReportInputs.read(rd, folder, out)
    info, twin = inputs.info, inputs.twin
    parts = [(anchor, title, body) for anchor, title, make in SECTIONS if (body := make(inputs))]
    links = "".join(f'<a href="#{a}">{html.escape(t.split(" (")[0])}</a>' for a, t, _ in parts)
    sec = "".join(f'<h2 id="{a}">{html.escape(t)}</h2>{b}' for a, t, b in parts)
    title = f"H2CM report: {rd.path.name}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f'<p class="meta">h2cm {__version__}; run <code>{html.escape(str(rd.path.resolve()))}</code>; '
        f"{len(info['folds'])} folds, {info['n_test_cells']} test cells, {info['period'][0]} to "
        f"{info['period'][1]}{'; twin world' if twin else ''}.</p><nav>{links}</nav>{sec}"
        f"<script>{IMAGE_CHECK}</script></body></html>"
    )
