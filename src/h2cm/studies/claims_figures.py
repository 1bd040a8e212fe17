"""Figures of the claims study (matplotlib, Agg): each draws one PNG and returns its path, or
None when it has nothing to draw."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..data.regions import REGION_NAMES  # noqa: E402
from ..evaluation.diagnostics import DIAGNOSTICS  # noqa: E402
from ..evaluation.metrics import area_weighted_mean  # noqa: E402
from ..evaluation.processes import EVENTS  # noqa: E402
from ..report.style import DPI, MONTH_LETTERS, OBS_COLOUR, TRUTH_COLOUR  # noqa: E402

COLOURS = {"hybrid": "#1f5fa8", "hybrid_priors": "#6c9bd2", "constant": "#7c3aed", "lstm": "#5fa83a"}
FLUX_LABELS = {"nee": "NEE", "gpp": "GPP", "ter": "TER", "rh": "Rh"}
UNIT = "gC m-2 d-1"


def _style(source: str) -> dict:
    """Line style of a source: truth thick orange, observations black dashed, models by kind
    (second seeds dotted), other products grey."""
    if source == "truth":
        return {"color": TRUTH_COLOUR, "lw": 2.4, "zorder": 5}
    if source == "observations":
        return {"color": OBS_COLOUR, "lw": 1.2, "ls": "--", "zorder": 4}
    kind = source.split(" (")[0]
    if kind in COLOURS:
        first = "(seed 0)" in source or "(" not in source
        return {"color": COLOURS[kind], "lw": 1.5, "ls": "-" if first else ":"}
    return {"color": "#888888", "lw": 1.2, "ls": "-."}


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def regional_cycles(cycles: Mapping, regions, path: Path, variables=("nee", "gpp", "ter")) -> Path | None:
    """Fig. 6: mean seasonal cycles of the regional means, a row per region, a column per flux."""
    regions = [r for r in regions if r in cycles] or list(cycles)[:4]
    if not regions:
        return None
    fig, axes = plt.subplots(
        len(regions), len(variables), figsize=(4.2 * len(variables), 2.6 * len(regions)), squeeze=False, sharex=True
    )
    for i, code in enumerate(regions):
        for j, var in enumerate(variables):
            ax = axes[i, j]
            for src, by_var in cycles[code].items():
                if var in by_var and np.isfinite(by_var[var]).any():
                    ax.plot(np.arange(12), by_var[var], label=src, **_style(src))
            ax.axhline(0, color="#bbbbbb", lw=0.6)
            ax.set_title(f"{REGION_NAMES.get(code, code)}: {FLUX_LABELS[var]}", fontsize=9)
            ax.set_xticks(range(12), MONTH_LETTERS)
            if j == 0:
                ax.set_ylabel(UNIT)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    fig.suptitle("Mean seasonal cycles of TransCom regional means (out-of-sample, OCO-2-like period)")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return _save(fig, path)


def pulse_composite(composites: Mapping[str, Mapping[str, np.ndarray]], path: Path) -> Path | None:
    """Fig. 7 as a composite: mean daily Rh around the first rains that end a dry season."""
    panels = {k: v for k, v in composites.items() if v}
    if not panels:
        return None
    days = np.arange(-EVENTS.before, EVENTS.window + 1)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.4), squeeze=False)
    for ax, (title, comp) in zip(axes[0], panels.items(), strict=True):
        for src, w in comp.items():
            ax.plot(days, w, label=src, **_style(src))
        ax.axvline(0, color="#999999", lw=0.8, ls="--")
        ax.set_xlabel("days from the first rain (>= 5 mm after 60 dry days)")
        ax.set_ylabel(f"Rh ({UNIT})")
        ax.set_title(title)
    axes[0, -1].legend(fontsize=7, frameon=False)
    fig.suptitle("Rain pulse of heterotrophic respiration: mean over events")
    fig.tight_layout()
    return _save(fig, path)


def efficiency_scatter(maps: Mapping[str, Mapping[str, np.ndarray]], path: Path, models=()) -> Path | None:
    """Fig. 5 as scatter plots: each cell's PUE, WUE, CUE, LUE of the models against the truth's."""
    truth = maps.get("truth")
    if not truth:
        return None
    keys = [k for k in DIAGNOSTICS if k in truth]
    sources = [m for m in models if m in maps] + [
        s for s in maps if s.startswith(("constant", "lstm")) and "seed 0" in s
    ]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.5), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        t = truth[key]
        for src in sources:
            if key in maps[src]:
                ax.scatter(t, maps[src][key], s=4, alpha=0.5, label=src, color=_style(src)["color"])
        lim = np.nanpercentile(np.concatenate([t[np.isfinite(t)]]), [1, 99]) if np.isfinite(t).any() else (0, 1)
        ax.plot(lim, lim, color="#999999", lw=0.8)
        name, unit = DIAGNOSTICS[key]
        ax.set_title(f"{key.upper()} ({unit})", fontsize=9)
        ax.set_xlabel("truth")
        ax.set_ylabel("model")
    axes[0, 0].legend(fontsize=7, frameon=False, markerscale=3)
    fig.suptitle("Emergent efficiencies per cell (2015-2019 means, out-of-sample) against the truth")
    fig.tight_layout()
    return _save(fig, path)


def constants_strip(models: Mapping, truth: Mapping[str, float], prior: Mapping[str, float], path: Path) -> Path | None:
    """Q10 and beta_CO2 of every fold model, per run, with the truth and the prior mean."""
    runs = {k: v for k, v in models.items() if "q10" in v.constants}
    if not runs:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(runs) + 1.6))
    for ax, key, scale, unit in ((axes[0], "q10", 1.0, "1"), (axes[1], "beta_co2", 1e4, "% per 100 ppm")):
        for i, (name, sims) in enumerate(runs.items()):
            v = sims.constants[key] * scale
            ax.scatter(v, np.full(len(v), i), s=18, color=_style(name)["color"])
        ax.axvline(truth[key] * scale, color=TRUTH_COLOUR, lw=2, label="truth")
        ax.axvline(prior[key] * scale, color="#999999", lw=1, ls="--", label="prior mean / initial")
        ax.set_yticks(range(len(runs)), list(runs))
        ax.set_xlabel(f"{key} ({unit})")
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle("Learned global constants of the fold models")
    fig.tight_layout()
    return _save(fig, path)


def test_series(models: Mapping, truth, obs, area: np.ndarray, path: Path) -> Path | None:
    """Monthly NEE of the test cells' area-weighted mean over the whole period: truth, the
    OCO-2-like observations and each seed-0 model's fold ensemble (median and range)."""
    if "nee" not in truth.test_monthly:
        return None
    t = truth.months
    fig, ax = plt.subplots(figsize=(11, 3.6))
    for name, sims in models.items():
        if "(seed 0)" not in name or "nee" not in sims.test_monthly:
            continue
        per_fold = area_weighted_mean(sims.test_monthly["nee"], area, axis=-1)  # (folds, months)
        st = _style(name)
        ax.plot(t, per_fold.mean(axis=0), label=name, color=st["color"], lw=1.2)
        ax.fill_between(t, per_fold.min(axis=0), per_fold.max(axis=0), color=st["color"], alpha=0.15, lw=0)
    ax.plot(t, area_weighted_mean(truth.test_monthly["nee"][0], area, axis=-1), label="truth", **_style("truth"))
    if "nee" in obs.test:
        from ..evaluation.views import joint_mask

        o, _ = joint_mask(obs.test["nee"], obs.test["nee"])
        ax.plot(t, area_weighted_mean(o, area, axis=-1), label="OCO-2-like observations", **_style("observations"))
    ax.axvspan(
        np.datetime64("2015-01-01"), np.datetime64("2017-12-31"), color="#eeeeee", zorder=0, label="training years"
    )
    ax.set_ylabel(f"NEE ({UNIT})")
    ax.set_title("NEE at the held-out test cells (area-weighted mean; band: range of the fold models)")
    ax.legend(fontsize=7, ncol=4, frameon=False)
    fig.tight_layout()
    return _save(fig, path)
