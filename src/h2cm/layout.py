"""The run directory on disk: every file name, in one table (docs/architecture.md, "Runs").

Training writes, evaluation and the report read, and studies walk run directories; each asks
this module for a name instead of spelling it. The evaluation's files are also its contract with
the report: :data:`EVAL_FILES` says what each holds, ``h2cm evaluate`` writes exactly these
(:mod:`h2cm.evaluation.write`), ``h2cm report`` reads only these.

```
RUN/
  config.yaml          resolved configuration
  split.json           test cells and the folds (cell indices, lat/lon, seed)
  manifest.json        versions, seed, timings
  fold_K/best.pt       best-validation checkpoint (model weights + normalisation buffers)
  fold_K/last.pt       last checkpoint (optimiser, scheduler, RNG state) for --resume
  fold_K/log.csv       per-epoch loss terms
  fold_K/result.json   fold summary (best epoch and loss, timings)
  evaluation/          h2cm evaluate (EVAL_FILES)
  report/              h2cm report (index.html and figures)
```
"""

from __future__ import annotations

import re
from pathlib import Path

CONFIG = "config.yaml"
SPLIT = "split.json"
MANIFEST = "manifest.json"
BEST = "best.pt"
LAST = "last.pt"
LOG = "log.csv"
RESULT = "result.json"
EVALUATION = "evaluation"
REPORT = "report"
PROBE = "probe"
FOLD_PATTERN = re.compile(r"^fold_(\d+)$")

# what `h2cm evaluate` writes to RUN/evaluation and `h2cm report` reads (docs/evaluation.md)
EVAL_FILES: dict[str, str] = {
    "metrics_folds.csv": "reference, target, view, metric, fold, value, source (area-weighted mean over test cells)",
    "metrics_summary.csv": "median, min, max across folds (Figure 3, Table C1), per source",
    "metrics.md": "the summary as Markdown",
    "constants.csv": "learned global constants per fold, median, [min, max], truth if known",
    "skill_cells.nc": "per-cell metrics of the ensemble median (maps)",
    "monthly_test.nc": "monthly model (per fold), observations and truth at the test cells",
    "maps.nc": "per-cell time means, derived diagnostics (PUE, WUE, CUE, LUE), model and truth",
    "regional.nc": "monthly area-weighted GPP, TER, NEE per TransCom region (model, obs, truth, products)",
    "daily_cell.nc": "daily NEE, NPP, Rh, GPP, TER and precipitation at one cell (Fig. 7)",
    "summary.json": "what was evaluated (cells, folds, period, cube, model, timings), headline metrics, omissions",
}


def fold_dir(run: str | Path, fold: int) -> Path:
    return Path(run) / f"fold_{int(fold)}"


def fold_of(path: str | Path) -> int | None:
    """The fold number of a ``fold_K`` folder, or None."""
    m = FOLD_PATTERN.match(Path(path).name)
    return int(m.group(1)) if m else None


def checkpoint(run: str | Path, fold: int, which: str = BEST) -> Path:
    return fold_dir(run, fold) / which
