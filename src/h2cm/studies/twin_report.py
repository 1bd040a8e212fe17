"""The twin study's verdict (docs/studies/twin.md): the recovered global constants, the issue's
acceptance criteria, and the tables, ``summary.json`` and ``results.md`` it writes."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.synth import TRUTH_CONSTANTS
from ..evaluation.processes import EVENTS
from ..training.config import RunConfig
from .common import fmt, markdown_table, write_csv

CARBON: tuple[str, ...] = ("gpp", "nee", "ter", "rh", "ra", "npp")
SKILL_COLUMNS = ("variable", "reference", "model", "r", "r_cell", "rmse", "bias", "n")


def write_results(out: Path, summary, rows, const_rows, pulses, acceptance) -> None:
    """The study's tables, ``summary.json`` and ``results.md`` in ``out``."""
    write_csv(out / "skill.csv", rows, SKILL_COLUMNS)
    write_csv(out / "constants.csv", const_rows, ("model", "q10", "beta_co2", "folds"))
    write_csv(out / "pulses.csv", pulses, ("model", "events", "ratio", "r", "rmse"))
    write_csv(out / "acceptance.csv", acceptance, ("criterion", "value", "threshold", "met"))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(results_markdown(summary, rows, const_rows, pulses, acceptance))


def constants_summary(constants: list[dict[str, object]], cfg: RunConfig) -> list[dict[str, object]]:
    """Rows of the constants table: the truth's Q10 and beta_CO2, the prior means of ``cfg``, and
    each model's mean over its folds (``constants``: one row per fold model)."""
    rows: list[dict[str, object]] = [
        {"model": "truth", "q10": TRUTH_CONSTANTS["q10"], "beta_co2": TRUTH_CONSTANTS["beta_co2"], "folds": ""},
        {"model": "prior (mean)", "q10": cfg.loss.q10.mean, "beta_co2": cfg.loss.beta_co2.mean, "folds": ""},
    ]
    for name in dict.fromkeys(c["model"] for c in constants):
        mine = [c for c in constants if c["model"] == name]
        rows.append(
            {
                "model": name,
                "q10": float(np.mean([c["q10"] for c in mine])),
                "beta_co2": float(np.mean([c["beta_co2"] for c in mine])),
                "folds": len(mine),
            }
        )
    return rows


def _r(rows, var: str, model: str, reference: str = "truth") -> float:
    """Pooled monthly r of ``model`` on ``var`` (its first skill row naming the variable)."""
    for row in rows:
        if row["reference"] == reference and row["model"] == model and str(row["variable"]).split(" ")[0] == var:
            return float(row["r"])
    return math.nan


def acceptance_rows(rows, variants: Sequence[str]) -> list[dict[str, object]]:
    """The issue's acceptance criteria (monthly r on test cells against the truth)."""
    out: list[dict[str, object]] = []

    def add(criterion: str, value: float, threshold: float | str, met: bool) -> None:
        out.append({"criterion": criterion, "value": value, "threshold": threshold, "met": "yes" if met else "NO"})

    if "hybrid" in variants:
        for var, thr in (("gpp", 0.95), ("nee", 0.95), ("ter", 0.9)):
            r = _r(rows, var, "hybrid")
            add(f"hybrid monthly r {var.upper()} vs truth", r, thr, r >= thr)
        for other, vars_ in (("constant", CARBON), ("lstm", ("ter", "rh", "ra", "npp"))):
            if other not in variants:
                continue
            for var in vars_:
                rh, ro = _r(rows, var, "hybrid"), _r(rows, var, other)
                if math.isfinite(ro):
                    add(f"hybrid beats {other} on {var.upper()} (r vs truth)", rh, f"> {fmt(ro)}", rh > ro)
    return out


def results_markdown(summary, rows, const_rows, pulses, acceptance) -> str:
    """``results.md``: the setup in one paragraph, then acceptance, skill, constants and rain pulses."""
    ep = ", ".join(f"{k} {v}" for k, v in summary["epochs"].items())
    lines = [
        f"# Twin-world study ({summary['size']})",
        "",
        f"Twin world `{summary['cube']}`, period {summary['period'][0]} .. {summary['period'][1]}; "
        f"{summary['test_cells']} held-out test cells. Folds trained per variant: {summary['folds_trained']} "
        f"of {summary['n_folds']} (ensemble mean over them). Epochs: {ep}. Wall seconds of training in this call: "
        + ", ".join(f"{k} {v}" for k, v in summary["train_seconds"].items())
        + "; training seconds of all folds (summed from their results): "
        + ", ".join(f"{k} {v}" for k, v in summary.get("fold_seconds", {}).items())
        + f"; total {summary['seconds']} s.",
        "",
        "Skill is on monthly means at the test cells: `r` pooled over every (month, cell) pair, `r_cell` the "
        "median over cells of each cell's temporal r. TWS is compared as anomalies (each cell's mean removed). "
        "`t_et` is monthly transpiration / monthly ET. The pure LSTM predicts GPP, NEE, NPP, ET, TWS, SWE, "
        "runoff, fAPAR; its TER, Ra and Rh are derived from those. `(seasonal cycle)` rows compare each cell's mean "
        "seasonal cycle, `(anomaly)` rows the departures from it.",
        "",
        "## Acceptance (monthly, test cells, against the truth)",
        "",
        markdown_table(acceptance, ("criterion", "value", "threshold", "met")),
        "",
        "## Skill against the observations",
        "",
        markdown_table([r for r in rows if r["reference"] == "obs"], SKILL_COLUMNS),
        "",
        "## Skill against the hidden truth",
        "",
        markdown_table([r for r in rows if r["reference"] == "truth"], SKILL_COLUMNS),
        "",
        "## Recovered global constants",
        "",
        markdown_table(const_rows, ("model", "q10", "beta_co2", "folds")),
        "",
        "## Rh after the first rains that end a dry season",
        "",
        f"Events: a day with >= {EVENTS.rain_mm} mm rain after {EVENTS.dry_days} days with < {EVENTS.dry_mm} mm "
        f"in total (above freezing), at test cells. `ratio`: mean Rh on days 0..{EVENTS.after - 1} after the rain / "
        f"mean Rh of the {EVENTS.before} days before; `r`, `rmse`: daily Rh on days -{EVENTS.before}..+"
        f"{EVENTS.window} against the truth.",
        "",
        markdown_table(pulses, ("model", "events", "ratio", "r", "rmse")) if pulses else "No event at the test cells.",
        "",
    ]
    return "\n".join(lines)
