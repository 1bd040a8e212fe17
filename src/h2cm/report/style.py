"""The report's look, shared by every figure module: colours, resolution, units, and the small
helpers that save a figure and summarise folds."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..evaluation.probe_cells import latlon  # noqa: E402,F401  (positions as every figure writes them)
from ..schema import cf_attrs  # noqa: E402

DPI = 90
MODEL_COLOUR = "#1f5fa8"
OBS_COLOUR = "#222222"
TRUTH_COLOUR = "#d9480f"
PRODUCT_COLOURS = ("#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#5c940d", "#a61e4d")  # --compare products
VIEW_COLOURS = {"monthly": "#1f5fa8", "msc": "#5fa83a", "anomaly": "#c2410c", "spatial": "#7c3aed"}
MONTH_LETTERS = list("JFMAMJJASOND")
DAYS_PER_YEAR = 365.25


def unit(key: str, role: str = "output") -> str:
    u = str(cf_attrs(key, role)["units"])
    return u.replace("g m-2 d-1", "gC m-2 d-1")


def save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def fold_range(a: np.ndarray, axis: int = 0):
    """median, min, max across ``axis`` (folds), NaN-safe."""
    a = np.asarray(a, dtype=np.float64)
    ok = np.isfinite(a).any(axis=axis)
    filled = np.where(np.isfinite(a), a, np.nan)
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(filled, axis=axis)
            lo = np.nanmin(filled, axis=axis)
            hi = np.nanmax(filled, axis=axis)
    return np.where(ok, med, np.nan), np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)
