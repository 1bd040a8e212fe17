"""``h2cm probe RUN``: controlled experiments on a trained run — what did the networks learn?

Two experiments at a few cells (:mod:`.probe_cells`), run through every fold's model and, on a
twin world, through the hidden truth's own functions (:mod:`.probe_truth`): the rain pulse
(:mod:`.probe_pulse`) and the response curves of the learned parameters (:mod:`.probe_curves`).
Exact definitions: docs/cli/probe.md.

:func:`probe` runs both and writes the tables ``pulse.csv``, ``curves.csv`` (:mod:`.probe_tables`)
and ``summary.json`` (:mod:`.probe_summary`) to ``RUN/probe/`` (or ``out``), the folder replaced
as one atomic unit. The figures ``pulse.png`` and ``curves.png`` are drawn one floor up, from the
tables it returns (:mod:`h2cm.cli.probe`, :mod:`h2cm.report.probe_figures`); ``h2cm report``
shows them.
"""

from __future__ import annotations

import time as _time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import atomic, layout, runtime
from ..baselines import ConstantModel
from ..kinds import kind_label
from ..schema import FORCING_KEYS
from . import io
from .predict import resolve_cube
from .probe_cells import N_CELLS, ProbeCell, choose_cells, load_probe_cells
from .probe_curves import CURVE_POINTS, CURVES, SETTLE_DAYS, CurveBatch, curve_batch, model_curves, truth_curves
from .probe_pulse import (
    AFTER_DAYS,
    CONTEXT_DAYS,
    PULSE_KEYS,
    SPINUP_DAYS,
    PulseForcing,
    dry_season_months,
    model_pulse,
    pulse_forcing,
    truth_pulse,
)
from .probe_summary import summary, summary_lines
from .probe_tables import curves_table, pulse_table
from .probe_truth import truth_static
from .processes import EVENTS
from .rundir import RunDir

# names used beside probe() (the CLI, tests, docs)
__all__ = [
    "CURVES",
    "PROBE_FILES",
    "TABLES",
    "ProbeResult",
    "dry_season_months",
    "probe",
    "pulse_forcing",
    "summary_lines",
]

TABLES = ("pulse.csv", "curves.csv", "summary.json")  # what probe() writes
FIGURES = ("pulse.png", "curves.png")  # what the CLI draws beside them
PROBE_FILES = (*TABLES, *FIGURES)  # a probe folder holds these and nothing else


@dataclass
class ProbeResult:
    """The output folder, its summary and notes, and the two tables as written (figures are
    drawn from these: the CSV files hold them rounded)."""

    out: Path
    summary: dict
    notes: list[str] = field(default_factory=list)
    pulse: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None


@dataclass(frozen=True)
class ProbeSettings:
    """The experiments' settings, checked (:func:`probe_settings`); recorded in ``summary.json``."""

    dry_days: int
    rain_mm: float
    spinup_days: int
    settle_days: int
    points: int


@dataclass
class Experiments:
    """The inputs of both experiments at the probed cells."""

    cells: list[ProbeCell]
    pulse: list[PulseForcing]  # per cell
    series: np.ndarray  # (days, cells, 5): the rain pulse's forcing
    first: int  # first day of ``series`` kept (CONTEXT_DAYS before the dry spell)
    days: np.ndarray  # the kept days as offsets from the rain day
    batch: CurveBatch  # every (cell, curve, value) of the response curves
    static: np.ndarray  # (cells, features)


def _check(name: str, value, low, integer: bool = False, strict: bool = False, why: str = ""):
    """``value`` as an int or float if it is at least (``strict``: above) ``low``; else a ValueError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    ok = np.isfinite(v) and (v > low if strict else v >= low) and (not integer or v.is_integer())
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind} {'>' if strict else '>='} {low:g}{why}, got {value!r}")
    return int(v) if integer else v


def probe_settings(dry_days, rain_mm, spinup_days, settle_days, points) -> ProbeSettings:
    """The settings as numbers; a one-line ValueError naming the first one out of range."""
    why = f" (the pulse ratio compares with the {EVENTS.before} days before the rain)"
    return ProbeSettings(
        dry_days=_check("--dry-days", dry_days, EVENTS.before, integer=True, why=why),
        rain_mm=_check("--rain-mm", rain_mm, 0.0, strict=True),
        spinup_days=_check("spinup_days", spinup_days, 1, integer=True),
        settle_days=_check("settle_days", settle_days, 1, integer=True),
        points=_check("points", points, 2, integer=True),
    )


def require_probe_folder(out: Path) -> None:
    """A ValueError unless ``out`` is absent or a folder of a probe's files only (it is replaced whole)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; expected a folder (it is replaced by the probe's files)")
    other = sorted(p.name for p in out.iterdir() if p.name not in PROBE_FILES) if out.is_dir() else []
    if other:
        raise ValueError(
            f"--out {out} holds other files than a probe's ({', '.join(other[:3])}); expected an empty or new "
            "folder or a previous probe's (it is replaced as a whole)"
        )


def experiments(cells: list[ProbeCell], s: ProbeSettings) -> Experiments:
    """The controlled forcings of the rain pulse and the elements of the response curves."""
    pf = [pulse_forcing(c.forcing, c.time, s.dry_days, s.rain_mm, s.spinup_days, AFTER_DAYS) for c in cells]
    series = np.stack([p.series for p in pf], axis=1)  # (days, cells, 5)
    rain = pf[0].rain_day
    first = pf[0].dry_start - min(CONTEXT_DAYS, s.spinup_days)
    days = np.arange(first, series.shape[0]) - rain  # offsets from the rain day
    static = np.stack([c.static for c in cells])
    return Experiments(cells, pf, series, first, days, curve_batch(cells, s.points), static)


def _twin_truth(cube_path, ds, data, notes: list[str]):
    """The truth's static parameters of the probed cells, or None (with a note) when the cube
    is not a twin world made by the truth's functions."""
    truth = io.open_truth(cube_path)
    if truth is None:
        notes.append(f"{cube_path} has no hidden truth: only the models are shown")
        return None
    st = truth_static(data.features, data.static.numpy())
    ok = st is not None
    if ok and "smmax" in truth:
        ii, jj = io.land_grid_index(ds)
        stored = np.asarray(truth["smmax"].values, dtype=np.float64)[ii[data.cell_index], jj[data.cell_index]]
        ok = bool(np.allclose(stored, st.smmax.numpy(), rtol=1e-3))
    if not ok:
        notes.append(
            f"{cube_path} has a truth group, but not one made by the twin world's truth functions "
            "from its static features: the truth is not drawn"
        )
        return None
    return st


def run_truth(tstatic, ex: Experiments, settle_days: int):
    """The truth's pulse outputs (kept days) and response curves; (None, None) without a truth."""
    if tstatic is None:
        return None, None
    truth_p = {k: v[ex.first :] for k, v in truth_pulse(ex.series, tstatic).items()}
    return truth_p, truth_curves(ex.cells, tstatic, ex.batch, settle_days)


def run_folds(rd: RunDir, ex: Experiments, settle_days: int, progress: bool):
    """Every fold's model through both experiments: (kind, pulses, curves, notes on the kind)."""
    models = rd.load_models()
    pulses, curves = [], []
    for fold, model in zip(rd.folds, models, strict=True):
        t1 = _time.perf_counter()
        pulses.append({k: v[ex.first :] for k, v in model_pulse(model, ex.series, ex.static).items()})
        curves.append(model_curves(model, ex.cells, ex.batch, settle_days))
        if progress:
            print(f"fold {fold}: probed {len(ex.cells)} cells in {_time.perf_counter() - t1:.1f} s")
    kind, notes = models[0].kind, []
    if not models[0].has_process_model:
        have = " and ".join(k.upper() for k in PULSE_KEYS if k in models[0].outputs)
        notes.append(
            f"{kind_label(kind)} has no process-model parameters: no response curves "
            f"(the rain pulse shows only the {have} it predicts)"
        )
    elif kind == ConstantModel.kind:
        notes.append(f"{kind_label(kind)}: its parameters depend on no input, so its response curves are flat")
    return kind, pulses, curves, notes


def write_tables(out: Path, pulse_df: pd.DataFrame, curves_df: pd.DataFrame, summ: dict) -> None:
    """``pulse.csv``, ``curves.csv`` and ``summary.json`` in ``out``, the folder replaced atomically."""
    with atomic.atomic_path(out, mkdir=True) as tmp:
        atomic.write_text(tmp / "pulse.csv", pulse_df.to_csv(index=False, float_format="%.6g"))
        atomic.write_text(tmp / "curves.csv", curves_df.to_csv(index=False, float_format="%.6g"))
        atomic.write_json(tmp / "summary.json", summ)


def probe(
    run,
    cube=None,
    cells=None,
    dry_days: int = 60,
    rain_mm: float = 20.0,
    out=None,
    threads: int | None = None,
    progress: bool = True,
    n_cells: int = N_CELLS,
    spinup_days: int = SPINUP_DAYS,
    settle_days: int = SETTLE_DAYS,
    points: int = CURVE_POINTS,
) -> ProbeResult:
    """Run the rain-pulse and response-curve experiments (module docstring) on every fold of
    ``run`` at ``cells`` (``[(lat, lon), ...]``; default: the test cells of
    :func:`~.probe_cells.default_cells`) and write the tables to ``out`` (default ``RUN/probe``).
    ``progress``: print a line per fold."""
    s = probe_settings(dry_days, rain_mm, spinup_days, settle_days, points)
    n_cells = _check("n_cells", n_cells, 1, integer=True)
    if threads is not None:
        _check("--threads", threads, 1, integer=True)
    runtime.configure(threads=threads)
    t0 = _time.perf_counter()
    rd = RunDir.open(run)
    cube_path = resolve_cube(rd, cube)
    out = Path(out) if out else rd.path / layout.PROBE
    require_probe_folder(out)
    ds = io.open_cube(cube_path, dask=False)
    period = None if rd.period is None else tuple(pd.Timestamp(p) if p else None for p in rd.period)
    chosen = choose_cells(ds, rd.test_cells, cells, period, n_cells)
    probe_cells, data = load_probe_cells(ds, chosen, period, cube_path, rd.period)
    ex = experiments(probe_cells, s)
    notes: list[str] = []
    truth_p, truth_c = run_truth(_twin_truth(cube_path, ds, data, notes), ex, s.settle_days)
    kind, pulses, curves, kind_notes = run_folds(rd, ex, s.settle_days, progress)
    notes += kind_notes
    pulse_df = pulse_table(
        probe_cells, rd.folds, ex.days, ex.series[ex.first :, :, FORCING_KEYS.index("prec")], pulses, truth_p
    )
    curves_df = curves_table(probe_cells, rd.folds, ex.batch, curves, truth_c)
    summ = summary(rd, cube_path, kind, probe_cells, ex.pulse, ex.days, pulses, truth_p, curves_df, notes, asdict(s))
    summ["seconds"] = round(_time.perf_counter() - t0, 2)
    write_tables(out, pulse_df, curves_df, summ)
    return ProbeResult(out, summ, notes, pulse_df, curves_df)
