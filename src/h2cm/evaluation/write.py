"""Stage 4 of ``h2cm evaluate``: the evaluation folder, written as one atomic unit.

Writes exactly the files of :data:`h2cm.layout.EVAL_FILES` (the contract the report reads) into a
temporary folder beside the target and swaps it in (:mod:`h2cm.atomic`): a crash or ``kill -9``
leaves the previous complete evaluation or none, never a mix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import __version__, atomic
from .coverage import no_constants_text, not_evaluated_text
from .datasets import daily_dataset, maps_dataset, monthly_dataset, regional_dataset, skill_cells_dataset
from .gather import Gathered
from .outputs import global_attrs
from .plan import EvalPlan
from .score import Scores
from .skill import comparison_frame, fmt, markdown_table

NETCDF_BUILDERS = {
    "skill_cells.nc": lambda p, g, s, a: skill_cells_dataset(p, s, a),
    "monthly_test.nc": monthly_dataset,
    "maps.nc": maps_dataset,
    "regional.nc": regional_dataset,
    "daily_cell.nc": daily_dataset,
}


def summary_info(plan: EvalPlan, got: Gathered, scores: Scores, seconds_total: float) -> dict:
    """The content of ``summary.json``."""
    c = plan.fig_cell
    return {
        "h2cm": __version__,
        "run": str(plan.rd.path.resolve()),
        "cube": str(plan.cube_path.resolve()),
        "twin_world": scores.truth.present,
        "truth_unused": scores.truth.unused or None,
        "truth_skipped": scores.truth.skipped,
        "folds": plan.folds,
        "n_test_cells": int(len(plan.test)),
        "n_map_cells": int(len(plan.map_cells)),
        "map_cells": plan.maps_cells,
        "period": [str(plan.days[0].date()), str(plan.days[-1].date())],
        "daily_cell": {"cell": int(c), "lat": float(plan.lat[c]), "lon": float(plan.lon[c])},
        "seconds_simulation": round(got.seconds, 1),
        "seconds_total": round(seconds_total, 1),
        "headline": scores.headline,
        "ensemble_truth": scores.ensemble_truth,
        "compare": plan.compare,
        "config_name": plan.rd.config.get("name"),
        **plan.cov.summary(),
    }


def write_evaluation(out: Path, plan: EvalPlan, got: Gathered, scores: Scores, info: dict) -> Path:
    """Write every file of :data:`h2cm.layout.EVAL_FILES` to ``out`` at once (see the module doc)."""
    attrs = global_attrs(title="H2CM evaluation", h2cm_run=str(plan.rd.path.resolve()), h2cm_cube=str(plan.cube_path))
    texts = {
        "metrics_folds.csv": scores.long.to_csv(index=False),
        "metrics_summary.csv": scores.summary.to_csv(index=False),
        "metrics.md": markdown(plan, scores, info),
        "constants.csv": scores.constants.to_csv(index=False),
        "summary.json": json.dumps(info, indent=1) + "\n",
    }
    with atomic.atomic_path(out, mkdir=True) as tmp:
        for name, text in texts.items():
            (tmp / name).write_text(text)
        for name, build in NETCDF_BUILDERS.items():
            build(plan, got, scores, attrs).to_netcdf(tmp / name, engine="netcdf4")
    return out


def markdown(plan: EvalPlan, scores: Scores, info: dict) -> str:
    """``metrics.md``: observations, truth, products, constants, what was not evaluated."""
    days, summary = plan.days, scores.summary
    parts = [
        f"# Evaluation of `{plan.rd.path}`\n",
        f"{len(plan.folds)} folds, {len(plan.test)} test cells, {days[0].date()} to {days[-1].date()}. Metrics of "
        "the area-weighted mean over test cells; each entry is the median [min, max] across folds.\n",
        "## Against observations\n",
        markdown_table(summary, "obs") or "(no observations in the cube)\n",
    ]
    truth_md = markdown_table(summary, "truth")
    if truth_md:
        parts += ["## Against the hidden truth (twin world)\n", truth_md]
    elif scores.truth.unused:
        parts += ["## Against the hidden truth (twin world)\n", f"Not scored: {scores.truth.unused}.\n"]
    if scores.truth.skipped:
        parts += ["Truth variables not scored (off the layout of docs/data.md):\n"]
        parts += ["\n".join(f"- {s}" for s in scores.truth.skipped) + "\n"]
    comparison = comparison_frame(summary)
    if not comparison.empty:
        listed = ", ".join(f"`{n}` = `{p}`" for n, p in plan.compare.items())
        parts += [
            "## Other products (`--compare`)\n",
            f"{listed}. Scored on the same test cells, months and views as the model (a product has one "
            "value; the model's entry is the median [min, max] across folds).\n",
            frame_markdown(comparison),
        ]
    const_df = scores.constants
    parts += [
        "## Learned global constants\n",
        constants_markdown(const_df) if not const_df.empty else f"None: {no_constants_text(info)}.\n",
    ]
    intro, skipped = not_evaluated_text(info)
    if skipped:
        parts += ["## Not evaluated\n", intro + "\n", "\n".join(f"- {s}" for s in skipped) + "\n"]
    return "\n".join(parts)


def frame_markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    return head + "\n".join("| " + " | ".join(str(r[c]) for c in cols) + " |" for _, r in df.iterrows()) + "\n"


def constants_markdown(const_df: pd.DataFrame) -> str:
    """The constants table as Markdown: per fold, median [min, max], truth."""
    cols = list(const_df.columns)
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    body = []
    for _, r in const_df.iterrows():
        body.append("| " + " | ".join(str(r[c]) if c == "constant" else fmt(float(r[c])) for c in cols) + " |")
    return head + "\n".join(body) + "\n"
