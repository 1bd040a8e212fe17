"""``h2cm evaluate``: skill of a run's fold ensemble (docs/evaluation.md) and the diagnostics
the report draws, in four named stages:

1. :func:`~.plan.plan_evaluation`: run, cube, period, cells, models, products (nothing runs yet);
2. :func:`~.gather.gather`: one pass of every fold's model over the planned cells, reduced as it streams;
3. :func:`~.score.score`: skill against observations, the hidden truth and ``--compare`` products;
4. :func:`~.write.write_evaluation`: the files of :data:`h2cm.layout.EVAL_FILES` to ``RUN/evaluation/``,
   as one atomic unit (the previous evaluation or the new one, never a mix).

``reference`` is ``obs`` (the cube's constraints, scored as :mod:`h2cm.constraints` says) or
``truth`` (the twin world's hidden truth, for every output, including the ones no observation
constrains). ``source`` is ``model`` (the run's fold ensemble) or the name of another simulation
product given with ``--compare NAME=PATH`` (:mod:`.compare`), scored on the same test cells, months
and views as a one-member ensemble (its ``fold`` is empty); the products' regional cycles go to
``regional.nc``.

Every model kind is evaluated on what it produces (:mod:`.coverage`): a pure LSTM baseline has
only the variables it predicts, so the analyses needing others (skill of unpredicted outputs
against the truth, parameters, constants, maps of TER/Rh/Ra/T, WUE, ...) are left out and listed
in ``summary.json`` (``not_evaluated``) and ``metrics.md``; ``constants.csv`` then has no rows.
A cube with a truth group that gives no score says so (``truth_unused`` in ``summary.json``, a
line printed and a note in ``metrics.md``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .. import runtime
from ..constraints import HEADLINE_VIEW
from ..layout import EVALUATION
from .coverage import no_constants_text, not_evaluated_text
from .gather import gather
from .plan import plan_evaluation
from .score import score
from .skill import MODEL_SOURCE, model_rows
from .write import summary_info, write_evaluation

TRUTH_SUMMARY_KEYS: tuple[str, ...] = ("gpp", "ter", "rh", "ra", "tr", "sm", "nee", "et")  # the printed truth line


def evaluate(
    run,
    cube=None,
    out=None,
    period=None,
    maps_cells: str = "all",
    cell=None,
    batch_cells: int = 256,
    threads: int | None = None,
    progress: bool = True,
    simulations=None,
    compare=None,
    device: str = "cpu",
    compile: bool = False,
) -> Path:
    """Evaluate every fold of ``run``; write :data:`h2cm.layout.EVAL_FILES` to ``out`` (default
    ``RUN/evaluation``) and return that folder. ``simulations``: a daily ``h2cm predict`` store with
    per-fold values covering the cells and period; its outputs are read instead of simulated again
    (the models are still loaded for their constants). ``compare``: name -> path (``PATH#GROUP`` for
    a group) of other simulation products to score beside the models; each is checked before
    anything is simulated (ValueError naming the product). ``cell``: (lat, lon) of the daily
    figure's cell (default: a savanna test cell). ``device``, ``compile``: where and how the models
    simulate when they do (as ``h2cm predict``)."""
    runtime.configure(threads=threads)
    dev = runtime.device(device)
    t0 = time.perf_counter()
    plan = plan_evaluation(run, cube, period, maps_cells, cell, compare)
    got = gather(plan, simulations, batch_cells, progress, dev, compile)
    scores = score(plan, got)
    if scores.truth.unused:
        print(f"h2cm evaluate: warning: no skill against the hidden truth: {scores.truth.unused}", file=sys.stderr)
    for skipped in scores.truth.skipped:
        print(f"h2cm evaluate: warning: not scored against the truth: {skipped}", file=sys.stderr)
    info = summary_info(plan, got, scores, time.perf_counter() - t0)
    out = Path(out) if out else plan.rd.path / EVALUATION
    write_evaluation(out, plan, got, scores, info)
    if progress:
        print(summary_text(scores.summary, scores.constants, info))
    return out


def summary_text(summary: pd.DataFrame, constants: pd.DataFrame, info: dict) -> str:
    """What ``h2cm evaluate`` prints."""
    products = summary[summary["source"] != MODEL_SOURCE] if "source" in summary else summary.iloc[:0]
    summary = model_rows(summary)
    lines = [
        f"evaluated {len(info['folds'])} folds on {info['n_test_cells']} test cells, "
        f"{info['period'][0]}..{info['period'][1]} (area-weighted mean over test cells; median across folds)",
        f"{'constraint':<12} {'view':<8} {'r':>7} {'RMSE':>9} {'SDR':>7} {'bias':>9}",
    ]
    for key, m in info["headline"].items():
        lines.append(f"{key:<12} {m['view']:<8} {m['r']:7.3f} {m['rmse']:9.3g} {m['sdr']:7.3f} {m['bias']:9.3g}")
    tr = summary[(summary["reference"] == "truth") & (summary["view"] == "monthly") & (summary["metric"] == "r")]
    if not tr.empty:
        keys = TRUTH_SUMMARY_KEYS
        parts = [f"{k}={tr[tr['target'] == k]['median'].iloc[0]:.2f}" for k in keys if (tr["target"] == k).any()]
        lines.append("against the hidden truth (monthly r): " + " ".join(parts))
    ens = info.get("ensemble_truth") or {}
    if ens:
        parts = [f"{k}={ens[k]['msc']:.3f}" for k in TRUTH_SUMMARY_KEYS if k in ens]
        lines.append("fold ensemble (mean of folds) against the hidden truth (seasonal-cycle r): " + " ".join(parts))
    c = constants.set_index("constant")
    parts = []
    for k in c.index:
        s = f"{k}={c.loc[k, 'median']:.4g} [{c.loc[k, 'min']:.4g}, {c.loc[k, 'max']:.4g}]"
        if "truth" in c.columns and np.isfinite(c.loc[k, "truth"]):
            s += f" (truth {c.loc[k, 'truth']:.4g})"
        parts.append(s)
    lines.append("constants: " + ("; ".join(parts) or f"none; {no_constants_text(info)}"))
    for name in dict.fromkeys(products["source"]):
        p = products[(products["source"] == name) & (products["metric"] == "r")]
        parts = []
        for ref, view, label in (("obs", None, "against observations (headline view) r"), ("truth", "monthly", None)):
            sub = p[p["reference"] == ref]
            if view is None:
                got = [
                    f"{k}={sub[(sub.target == k) & (sub.view == v)]['median'].iloc[0]:.2f}"
                    for k, v in HEADLINE_VIEW.items()
                    if ((sub.target == k) & (sub.view == v)).any()
                ]
            else:
                label = "against the hidden truth (monthly r)"
                tr = sub[sub.view == view].set_index("target")["median"]
                got = [f"{k}={tr[k]:.2f}" for k in TRUTH_SUMMARY_KEYS if k in tr.index]
            if got:
                parts.append(f"{label}: {' '.join(got)}")
        lines.append(f"--compare {name}: " + ("; ".join(parts) or "no variable to score"))
    intro, skipped = not_evaluated_text(info)
    if skipped:
        lines += [intro, *(f"  - {s}" for s in skipped)]
    return "\n".join(lines)
