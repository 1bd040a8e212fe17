"""``results.md`` and figures of the multi-site tower study (:mod:`h2cm.studies.towers`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .towers_scores import PULSE, cell, seed_table, site_records

FLUX_UNITS = {"GPP": "gC m-2 d-1", "NEE": "gC m-2 d-1", "RECO": "gC m-2 d-1", "ET": "mm d-1"}


def _kind_table(table: pd.DataFrame, kinds, split: str, site: str, scale: str) -> list[str]:
    head = "| variable | metric | " + " | ".join(kinds) + " |"
    lines = [head, "|" + "---|" * (2 + len(kinds))]
    for var in ("NEE", "GPP", "RECO", "ET"):
        for metric in ("r", "rmse", "bias"):
            vals = [
                cell(table, split=split, site=site, variable=var, scale=scale, metric=metric, kind=k) for k in kinds
            ]
            if all(v == "-" for v in vals):
                continue
            lines.append(f"| {var} | {metric} | " + " | ".join(vals) + " |")
    return lines


def _site_table(table: pd.DataFrame, kinds, split: str, sites, scale: str, var: str) -> list[str]:
    lines = ["| site | " + " | ".join(kinds) + " |", "|" + "---|" * (1 + len(kinds))]
    for s in sites:
        lines.append(
            f"| {s} | "
            + " | ".join(cell(table, split=split, site=s, variable=var, scale=scale, metric="r", kind=k) for k in kinds)
            + " |"
        )
    return lines


def markdown(ds, tasks, table: pd.DataFrame, pulse, figures, kinds) -> str:
    sites = [r[0] for r in site_records(ds)]
    seeds = sorted({t.seed for t in tasks})
    epochs = {t.kind: t.epochs for t in tasks}
    lines = [
        "# Multi-site tower study: leave-one-site-out and temporal split",
        "",
        f"Sites (cell order): {', '.join(sites)}. Models: {', '.join(f'{k} ({epochs[k]} epochs)' for k in kinds)}; "
        f"seeds {', '.join(map(str, seeds))}. Loss: ET and GPP monthly mean seasonal cycle, NEE monthly values; "
        "RECO is never trained on. Every cell is `median [min, max]` over seeds.",
        "",
        "## Leave-one-site-out: pooled over the held-out sites",
        "",
    ]
    for scale in ("monthly", "daily", "msc", "anomaly"):
        lines += [f"### {scale}", "", *_kind_table(table, kinds, "loso", "pooled", scale), ""]
    for var in ("NEE", "GPP", "RECO", "ET"):
        lines += [
            f"### Held-out site, monthly r of {var}",
            "",
            *_site_table(table, kinds, "loso", sites, "monthly", var),
            "",
        ]
    lines += ["## Temporal split: each site's last year, pooled", ""]
    for scale in ("monthly", "daily"):
        lines += [f"### {scale}", "", *_kind_table(table, kinds, "temporal", "pooled", scale), ""]
    for var in ("NEE", "GPP"):
        lines += [f"### Last year per site, monthly r of {var}", "",
                  *_site_table(table, kinds, "temporal", sites, "monthly", var), ""]  # fmt: skip
    lines += [
        "## Rain pulse at the dry sites (held-out models)",
        "",
        f"Mean over events of mean(day 0..{PULSE.after - 1}) - mean(day -{PULSE.before}..-1), gC m-2 d-1 "
        "(positive: more release after the rain). Tower RECO is partitioned from NEE.",
        "",
    ]
    if pulse:
        cols = ["site", "events", "tower_dNEE", "tower_dRECO"] + [f"{k}_{v}" for k in kinds for v in ("dNEE", "dRh")]
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in pulse:
            lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |")
    for fig in figures:
        lines += ["", f"![{fig}]({fig})"]
    return "\n".join(lines) + "\n"


def _fmt(x) -> str:
    if isinstance(x, float):
        return "-" if not np.isfinite(x) else f"{x:+.2f}"
    return str(x)


def figures(out: Path, ds, scores: dict) -> list[str]:
    """towers_msc.png (held-out mean seasonal cycles of NEE and GPP) and towers_pulse.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = site_records(ds)
    months = pd.DatetimeIndex(ds["month"].values)
    sims, obs = scores["loso_sims"], scores["obs"]
    fig, axes = plt.subplots(len(records), 2, figsize=(9, 2.2 * len(records)), sharex=True, squeeze=False)
    for j, (site, start, end) in enumerate(records):
        sel = np.asarray((months >= start.to_period("M").start_time) & (months <= end))
        for ax, var in zip(axes[j], ("nee", "gpp"), strict=True):
            o = pd.Series(obs[var][sel, j], index=months[sel])
            ax.plot(range(1, 13), o.groupby(o.index.month).mean().reindex(range(1, 13)), "k.-", label="tower")
            for kind, per_site in sims.items():
                curves = []
                for s in per_site.get(site, []):
                    d = pd.Series(s[var][:, 0], index=pd.DatetimeIndex(ds["time"].values))
                    d = d[(d.index >= start) & (d.index <= end)]
                    curves.append(d.groupby(d.index.month).mean().reindex(range(1, 13)).to_numpy())
                if curves:
                    ax.plot(range(1, 13), np.median(curves, axis=0), lw=1.3, label=kind)
            ax.set_ylabel(f"{site}\n{var.upper()}", fontsize=8)
    axes[0, 0].legend(fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("month")
    axes[-1, 1].set_xlabel("month")
    fig.tight_layout()
    fig.savefig(out / "towers_msc.png", dpi=80)
    plt.close(fig)
    names = ["towers_msc.png"]
    comps = scores["composites"]
    if comps:
        fig, axes = plt.subplots(1, len(comps), figsize=(4 * len(comps), 3), squeeze=False)
        x = np.arange(-PULSE.before, PULSE.window + 1)
        for ax, (site, comp) in zip(axes[0], comps.items(), strict=True):
            for name, c in comp.items():
                if c is not None:
                    ax.plot(x, c, "k.-" if name == "tower" else "-", label=name)
            ax.axvline(0, color="grey", lw=0.5)
            ax.set_title(f"{site}: NEE around the first rains", fontsize=9)
            ax.set_xlabel("days from the rain")
        axes[0, 0].set_ylabel("NEE (gC m-2 d-1)")
        axes[0, 0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "towers_pulse.png", dpi=80)
        plt.close(fig)
        names.append("towers_pulse.png")
    return names


def write_results(out: Path, ds, tasks, scores: dict, plots: bool = True) -> dict[str, object]:
    """metrics.csv, table_seeds.csv, rain_pulse.csv, the figures and results.md of a towers study."""
    rows = scores["rows"]
    pd.DataFrame(rows).to_csv(out / "metrics.csv", index=False, float_format="%.5g")
    table = seed_table(rows)
    table.to_csv(out / "table_seeds.csv", index=False, float_format="%.5g")
    pd.DataFrame(scores["pulse"]).to_csv(out / "rain_pulse.csv", index=False)
    figure_names: list[str] = []
    if plots:
        figure_names = figures(out, ds, scores)
    kinds = list(dict.fromkeys(t.kind for t in tasks))
    text = markdown(ds, tasks, table, scores["pulse"], figure_names, kinds)
    (out / "results.md").write_text(text)
    return {"sites": ds.attrs["h2cm_sites"], "kinds": kinds, "tasks": len(tasks), "pulse": scores["pulse"]}
