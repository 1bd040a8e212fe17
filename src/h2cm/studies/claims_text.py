"""``results.md`` of the claims study: the "paper says / we find" table, the acceptance criteria
per seed and one section per claim with its table."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from ..data.regions import REGION_NAMES
from ..evaluation.processes import EVENTS
from .common import fmt, markdown_table

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _get(rows, value: str = "r", **match) -> float:
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return float(row[value])
    return math.nan


def _hybrid(seed: int) -> str:
    return f"hybrid (seed {seed})"


def _carbon_fluxes(t: Mapping[str, list], seed: int) -> dict[str, str]:
    """GPP and NEE at the test cells against the truth: monthly, seasonal cycle, anomalies."""
    sk = t["test_skill.csv"]

    def r(var, view, how, period="oco2"):
        return fmt(
            _get(sk, model=_hybrid(seed), variable=var, reference="truth", period=period, view=view, aggregation=how)
        )

    return {
        "claim": "carbon fluxes: seasonal and interannual dynamics (Fig. 3, Table C1)",
        "paper says": "H2CM reproduces the seasonal and interannual dynamics of GPP and NEE well",
        "we find": f"test cells vs truth, 2015-2019, area-weighted mean: GPP r {r('gpp', 'monthly', 'global')} "
        f"(seasonal cycle {r('gpp', 'msc', 'global')}, anomalies {r('gpp', 'anomaly', 'global')}); NEE r "
        f"{r('nee', 'monthly', 'global')} ({r('nee', 'msc', 'global')}, {r('nee', 'anomaly', 'global')}). "
        f"Per cell (pooled): GPP {r('gpp', 'monthly', 'pooled')}, NEE {r('nee', 'monthly', 'pooled')}; "
        f"NEE anomalies 2001-2019 {r('nee', 'anomaly', 'global', period='carboscope')}",
    }


def _nee_seasonality(t: Mapping[str, list], seed: int) -> dict[str, str]:
    """R2 of the regional NEE seasonal cycles in the two regions of Fig. 6, models and products."""
    rg = t["regional.csv"]
    parts = []
    products = sorted(
        {str(x["source"]) for x in rg if "(seed" not in str(x["source"]) and x["source"] != "observations"}
    )
    for code in ("SATr", "SAfr"):
        vals = {
            m: _get(rg, "r2", region=code, source=f"{m} (seed {seed})", variable="nee", reference="truth")
            for m in ("hybrid", "lstm", "constant")
        }
        vals.update({p: _get(rg, "r2", region=code, source=p, variable="nee", reference="truth") for p in products})
        parts.append(f"{REGION_NAMES[code]} NEE R2 " + ", ".join(f"{m} {fmt(v)}" for m, v in vals.items()))
    return {
        "claim": "NEE seasonality, especially South American tropics and Southern Africa (Fig. 6)",
        "paper says": "H2CM captures NEE seasonality better than purely data-driven models and process-model ensembles",
        "we find": "; ".join(parts),
    }


def _rain_pulse(t: Mapping[str, list], seed: int) -> dict[str, str]:
    """The Rh ratio after the first rains at the test cells, and how visible the pulse is at all."""
    h = _hybrid(seed)
    ratio = {
        m: _get(t["pulses.csv"], "rh_ratio", cells="test", source=m)
        for m in ("truth", h, f"constant (seed {seed})", f"lstm (seed {seed})")
    }
    return {
        "claim": "rain pulse of respiration in dry regions (Fig. 7)",
        "paper says": "H2CM learns the rain-pulse (Birch) effect on Rh, which global models often miss",
        "we find": "Rh on days 0-3 after the first rains / the week before, test cells: "
        + ", ".join(f"{k.split(' (')[0]} {fmt(v)}" for k, v in ratio.items())
        + _pulse_signal_text(t.get("pulse_signal.csv", [])),
    }


def _efficiencies(t: Mapping[str, list], seed: int) -> dict[str, str]:
    """Spatial r of the hybrid's efficiency maps against the truth's."""
    eff = t["efficiency.csv"]
    return {
        "claim": "emergent efficiencies PUE, WUE, CUE, LUE (Fig. 5)",
        "paper says": "spatial patterns of precipitation- and light-use efficiency and water-carbon coupling "
        "consistent with ecological understanding",
        "we find": "spatial r against the truth's maps: "
        + ", ".join(
            f"{k.upper()} {fmt(_get(eff, source=_hybrid(seed), diagnostic=k))}" for k in ("pue", "wue", "cue", "lue")
        ),
    }


def _constants(t: Mapping[str, list], seed: int) -> dict[str, str]:
    """The hybrid's Q10 across folds (and with priors) beside the truth's."""
    cons = {c["model"]: c for c in t["constants.csv"]}
    q = cons.get(_hybrid(seed), {})
    qp = cons.get(f"hybrid_priors (seed {seed})", {})
    return {
        "claim": "Q10 and beta_CO2 (Sect. 3.1.5, Appendix E)",
        "paper says": "the global constants are poorly identified from the data; priors keep them plausible",
        "we find": f"truth Q10 {fmt(cons.get('truth', {}).get('q10', math.nan))}; hybrid Q10 "
        f"{fmt(q.get('q10', math.nan))} [{fmt(q.get('q10_min', math.nan))}, {fmt(q.get('q10_max', math.nan))}]"
        + (f", with priors {fmt(qp.get('q10', math.nan))}" if qp else ""),
    }


def _release(t: Mapping[str, list], seed: int) -> dict[str, str] | None:
    """The month of Southern Africa's NEE peak (None without Southern African cells)."""
    rel = {x["source"]: x for x in t["release.csv"]}
    if not rel:
        return None
    return {
        "claim": "Southern Africa: NEE release at the end of the dry season",
        "paper says": "NEE peaks (a release) as the first rains wake respiration before the canopy greens up",
        "we find": ", ".join(
            f"{k.split(' (')[0]} peak {MONTHS[v['peak_month'] - 1]} ({fmt(v['peak'])})"
            for k, v in rel.items()
            if k in ("truth", _hybrid(seed), "observations")
        ),
    }


def _light(t: Mapping[str, list], seed: int) -> dict[str, str] | None:
    """GPP against light in the Miombo's wet season (None without Southern African cells)."""
    lig = {x["source"]: x for x in t["light.csv"]}
    if not lig:
        return None
    return {
        "claim": "light limitation of GPP in the wet season (Miombo)",
        "paper says": "in the wet season, GPP in the Miombo follows light rather than water",
        "we find": "r of daily GPP and net-radiation anomalies, Dec-Feb, Southern Africa: "
        + ", ".join(f"{k.split(' (')[0]} {fmt(v['r'])}" for k, v in lig.items() if "seed 1" not in k),
    }


def _unseen_years(t: Mapping[str, list], seed: int) -> dict[str, str]:
    """Pooled monthly r in the years never trained on beside the training years."""
    fl, h = t["fluxes.csv"], _hybrid(seed)
    return {
        "claim": "unseen years (Appendix D: train to 2017, test 2018-2019)",
        "paper says": "skill holds in years never trained on",
        "we find": "pooled monthly r, test cells, 2018-2019 (2015-2017): "
        + ", ".join(
            f"{v.upper()} {fmt(_get(fl, model=h, variable=v, period='test years', aggregation='pooled'))} "
            f"({fmt(_get(fl, model=h, variable=v, period='train years', aggregation='pooled'))})"
            for v in ("gpp", "nee", "ter")
        ),
    }


# the claims in the order of the page: each (tables, seed) -> its row, or None where it has no data
CLAIMS: tuple[Callable[[Mapping[str, list], int], dict[str, str] | None], ...] = (
    _carbon_fluxes,
    _nee_seasonality,
    _rain_pulse,
    _efficiencies,
    _constants,
    _release,
    _light,
    _unseen_years,
)


def _claims(t: Mapping[str, list], seed: int) -> list[dict[str, str]]:
    """One row per claim: what the paper says, what this run finds (seed ``seed``)."""
    rows = (claim(t, seed) for claim in CLAIMS)
    return [row for row in rows if row is not None]


def _pulse_signal_text(rows) -> str:
    by = {r["truth"]: r for r in rows}
    if "with the pulse" not in by or "without the pulse" not in by:
        return ""
    w, wo = by["with the pulse"], by["without the pulse"]
    return (
        f" (the truth without its pulse, moisture-limited respiration only: {fmt(wo['rh_ratio'])}; the pulse adds "
        f"{fmt(w['pulse_nee_event_months'])} gC m-2 d-1 to monthly NEE in the months of the events, 90th percentile "
        f"{fmt(w['pulse_nee_p90'])}, against an error of {fmt(w['oco2_error_sd'])} of one OCO-2-like cell-month)"
    )


def results_markdown(summary, tables, regions, n_test: int, seeds: Sequence[int]) -> str:
    """The whole page (Markdown)."""
    lines = _setup(summary, regions, n_test, seeds)
    for s in seeds:
        lines += [
            f"## Paper says / we find (seed {s})",
            "",
            markdown_table(_claims(tables, s), ("claim", "paper says", "we find")),
            "",
        ]
    lines += _skill_sections(tables)
    lines += _process_sections(tables)
    return "\n".join(lines)


def _setup(summary, regions, n_test: int, seeds: Sequence[int]) -> list[str]:
    """The page's title and setup: world, periods, seeds, wall time, every run's training, cells per region."""
    tr = summary.get("training", {})
    first = next(iter(tr.values()), {})
    secs = summary.get("seconds", {})
    n_reg = {REGION_NAMES.get(c, c): int((regions == i + 1).sum()) for i, c in enumerate(REGION_NAMES)}
    lines = [
        "# Claims study: the paper's carbon results on a twin world",
        "",
        f"World `{summary['cube']}`: {summary['cells']} cells, {n_test} held-out test cells. Training period "
        f"{summary['train_period'][0]} .. {summary['train_period'][1]}; out-of-sample analyses over "
        f"{summary['window'][0]} .. {summary['window'][1]} (every cell simulated by models that never trained on it) "
        f"and, at the test cells, the whole period. Seeds {', '.join(map(str, seeds))}; "
        f"{first.get('folds', '?')} folds per run; {first.get('max_train_cells') or 'all'} training cells per fold.",
        "",
    ]
    if secs:
        lines += ["Wall time (s): " + ", ".join(f"{k} {v}" for k, v in secs.items()) + ".", ""]
    budget = [{"run": k, **v} for k, v in tr.items()]
    lines += [
        "Training of every run (the baselines get what they need to converge; the hybrid is the one limited "
        "by the budget):",
        "",
        markdown_table(
            budget, ("run", "model", "priors", "epochs", "lr", "scheduler", "batch_size", "max_train_cells")
        ),
        "",
    ]
    lines += ["Cells per TransCom region: " + ", ".join(f"{k} {v}" for k, v in n_reg.items() if v) + ".", ""]
    return lines


def _skill_sections(tables) -> list[str]:
    """Acceptance, GPP and NEE at the test cells, the unconstrained fluxes and the regional cycles."""
    return [
        "## Acceptance (hybrid ensemble at the test cells against the truth, 2015-2019)",
        "",
        "`global`: the area-weighted mean of the test cells, one series (as the paper's Fig. 3); `pooled`: every "
        "(month, cell) pair.",
        "",
        markdown_table(tables["acceptance.csv"], ("seed", "criterion", "aggregation", "value", "threshold", "met")),
        "",
        "## GPP and NEE at the test cells (Fig. 3, Table C1)",
        "",
        "r, SDR and RMSE of each run's fold-ensemble mean; `period`: oco2 = 2015-2019, carboscope = 2001-2019.",
        "",
        markdown_table(
            [r for r in tables["test_skill.csv"] if r["aggregation"] == "global"],
            ("model", "variable", "reference", "period", "view", "r", "sdr", "rmse"),
        ),
        "",
        "Per cell (pooled over every month and test cell):",
        "",
        markdown_table(
            [r for r in tables["test_skill.csv"] if r["aggregation"] == "pooled" and r["reference"] == "truth"],
            ("model", "variable", "period", "view", "r", "sdr", "rmse"),
        ),
        "",
        "## Fluxes no observation constrains, and the unseen years",
        "",
        markdown_table(
            [r for r in tables["fluxes.csv"] if r["aggregation"] == "pooled"],
            ("model", "variable", "period", "r", "sdr", "rmse", "bias"),
        ),
        "",
        "## Regional mean seasonal cycles (Fig. 6)",
        "",
        "![regional cycles](figures/regional_cycles.png)",
        "",
        markdown_table(
            [r for r in tables["regional.csv"] if r["reference"] == "truth"],
            ("region", "source", "variable", "r2", "r", "rmse", "peak_month"),
        ),
        "",
    ]


def _process_sections(tables) -> list[str]:
    """The rain pulse, Southern Africa, the efficiencies, the global constants and the NEE series."""
    return [
        "## The rain pulse (Fig. 7)",
        "",
        f"Events: a day with >= {EVENTS.rain_mm} mm after {EVENTS.dry_days} days with < {EVENTS.dry_mm} mm in total, "
        f"above freezing. `rh_ratio`: mean Rh on days 0..{EVENTS.after - 1} / mean of the {EVENTS.before} days before; "
        f"`nee_rise`: the same days' NEE minus the week before (gC m-2 d-1); `r_window`: daily Rh on days "
        f"-{EVENTS.before}..+{EVENTS.window} against the truth's.",
        "",
        "![rain pulse](figures/rain_pulse.png)",
        "",
        markdown_table(tables["pulses.csv"], ("cells", "source", "events", "rh_ratio", "nee_rise", "r_window")),
        "",
        "Is the pulse visible in the monthly NEE the models are trained on? The truth run again over the same "
        "cells and years without its pulse (`pulse_kick = 0`; moisture-limited respiration kept): its Rh ratio, and "
        "what the pulse adds to monthly NEE in the months of the events (mean, 90th percentile, gC m-2 d-1), against "
        "the error of one cell-month of the OCO-2-like product:",
        "",
        markdown_table(
            tables["pulse_signal.csv"],
            ("truth", "events", "rh_ratio", "pulse_nee_event_months", "pulse_nee_p90", "oco2_error_sd"),
        )
        if tables["pulse_signal.csv"]
        else "(no events)",
        "",
        "## Southern Africa: light limitation and the dry-season-end release",
        "",
        markdown_table(tables["light.csv"], ("source", "r", "slope", "cells")) if tables["light.csv"] else "(no cells)",
        "",
        markdown_table(tables["release.csv"], ("source", "peak_month", "peak")) if tables["release.csv"] else "",
        "",
        "## Efficiencies (Fig. 5)",
        "",
        "![efficiencies](figures/efficiency.png)",
        "",
        markdown_table(tables["efficiency.csv"], ("source", "diagnostic", "r", "rmse", "bias", "truth_sd", "n")),
        "",
        "## Global constants across folds (Sect. 3.1.5)",
        "",
        "![constants](figures/constants.png)",
        "",
        markdown_table(
            tables["constants.csv"],
            ("model", "folds", "q10", "q10_min", "q10_max", "beta_co2", "beta_co2_min", "beta_co2_max"),
        ),
        "",
        "## NEE at the test cells, 2001-2019",
        "",
        "![NEE series](figures/nee_test_series.png)",
        "",
    ]
