"""``h2cm probe RUN``: controlled experiments on a trained run — what did the networks learn?

Two experiments at a few cells, run through every fold's model and, on a twin world, through the
hidden truth's own functions (:mod:`.probe_truth`). Exact definitions: docs/cli/probe.md.

**Rain pulse.** A controlled forcing (:func:`pulse_forcing`): ``spinup_days`` days of the
cell's mean forcing over the run's period (all five variables), then ``dry_days`` days without
precipitation, one day with ``rain_mm`` of rain, and ``after_days`` more dry days; from the dry
spell on, net radiation, air temperature, VPD and CO2 are the cell's means over its driest
months (:func:`dry_season_months`). Each model runs the whole series as its ``forward`` does
(spin-up: the series once, then again from the final state; the truth the same way) and the
daily Rb, Rh, NEE and NPP are kept from ``context_days`` before the dry spell to the end. The
pulse ratio is :func:`~h2cm.evaluation.processes.pulse_ratio`: mean Rh on days 0..3 from the
rain over the mean of the 7 days before it, per fold, for the ensemble (the median Rh of the
folds) and for the truth.

**Response curves.** Each learned daily parameter against one of its inputs, the others held:
alpha_WUE against VPD, alpha_T against relative soil moisture SM/SMmax, CUE against air
temperature, Rb against precipitation. Each model first runs the cell's real forcing over the
run's period (with spin-up); the time means of its states the networks read (SM/SMmax, SWE, GW,
fAPAR, NPP of the previous day) are the held states, its final state (stores and LSTM memory)
is the start. Then, for every value of the swept input, ``settle_days`` days of constant forcing
at the cell's means over the run's period, the swept input at its value, the states reset to the
held values before every day; the parameter of the last day is the curve's value. The swept
forcing covers the 1st to 99th percentile of the cell's daily values (precipitation from 0),
SM/SMmax 0 to 1. WUE = alpha_WUE * CO2 * beta_CO2 (gC per kg of water at the cell's mean CO2,
with each model's own beta_CO2) is recorded too: alpha_WUE alone is not comparable between
models, which can trade it against beta_CO2.

Writes ``pulse.csv``, ``curves.csv``, ``pulse.png``, ``curves.png`` and ``summary.json`` to
``RUN/probe/`` (or ``out``), each atomically; ``h2cm report`` shows the figures.
"""

from __future__ import annotations

import io as _io
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import __version__, runtime
from ..baselines import ConstantModel
from ..kinds import kind_label
from ..model import H2CM, DayWeights, ModelState, hybrid_day
from ..physics import DayForcing, ForcingTerms, forcing_terms
from ..schema import FORCING_KEYS, cf_attrs
from ..training.checkpoint import atomic_write_bytes, atomic_write_json, atomic_write_text
from . import io
from .predict import resolve_cube
from .probe_truth import HOLD_KEYS, select_static, truth_run, truth_static
from .processes import EVENTS, pulse_ratio
from .rundir import RunDir

PULSE_KEYS: tuple[str, ...] = ("rb", "rh", "nee", "npp")
SPINUP_DAYS = 365  # days of the cell's mean forcing before the dry spell
AFTER_DAYS = 20  # dry days after the rain
CONTEXT_DAYS = 10  # days of the mean-forcing segment kept before the dry spell
DRY_MONTHS = 3  # calendar months whose means make the dry-season forcing
DRY_SEASON_MIN_TC = 5.0  # degC: only months warmer than this count as a dry season
SETTLE_DAYS = 60  # days of constant inputs before a response-curve parameter is read
CURVE_POINTS = 21  # values of each swept input
N_CELLS = 3  # default number of cells
DRY_DAY_MM = 1.0  # mm d-1: a day with less precipitation (and above 0 degC) is dry
MIN_MEAN_PREC = 0.8  # mm d-1 (about 300 mm a year): default cells need at least this
STATE_OUTPUTS: tuple[str, ...] = ("sm", "swe", "gw", "fapar", "npp")  # outputs whose means are held
_F = {k: i for i, k in enumerate(FORCING_KEYS)}


@dataclass(frozen=True)
class Curve:
    """One response curve: ``parameter`` against ``input`` (a forcing key or ``sm_rel``)."""

    parameter: str
    input: str
    label: str  # the input in words
    units: str  # units of the input as recorded (tair in degC)


CURVES: tuple[Curve, ...] = (
    Curve("alpha_wue", "vpd", "vapour pressure deficit", "hPa"),
    Curve("alpha_t", "sm_rel", "relative soil moisture SM/SMmax", "1"),
    Curve("cue", "tair", "air temperature", "degC"),
    Curve("rb", "prec", "precipitation", "mm d-1"),
)
CURVE_PARAMETERS: tuple[str, ...] = tuple(c.parameter for c in CURVES)
WUE_UNITS = "gC (kg H2O)-1"  # gC per kg of transpired water


@dataclass
class ProbeCell:
    """A probed cell: its position, why it was chosen, its real forcing and static inputs."""

    index: int
    lat: float
    lon: float
    why: str
    forcing: np.ndarray  # (days, 5) over the run's period, physical units
    static: np.ndarray  # (features,)
    time: pd.DatetimeIndex


@dataclass
class PulseForcing:
    """The controlled forcing of the rain-pulse experiment at one cell (:func:`pulse_forcing`)."""

    series: np.ndarray  # (days, 5) in the order of FORCING_KEYS
    rain_day: int  # index of the rain day in ``series``
    dry_start: int  # index of the first dry day
    dry_months: list[int]  # calendar months of the dry-season forcing
    mean: dict[str, float]  # the cell's mean forcing (spin-up segment)
    dry_season: dict[str, float]  # rn, tair, vpd, co2 from the dry spell on


@dataclass
class ProbeResult:
    out: Path
    summary: dict
    notes: list[str] = field(default_factory=list)


# --- the experiments' inputs (pure) --------------------------------------------------------------


def dry_season_months(prec: np.ndarray, tair: np.ndarray, time, n: int = DRY_MONTHS) -> list[int]:
    """The ``n`` calendar months (1..12) with the lowest mean daily precipitation among the
    months whose mean air temperature is above :data:`DRY_SEASON_MIN_TC`; the ``n`` warmest
    months where fewer are that warm. Sorted."""
    moy = pd.DatetimeIndex(time).month.to_numpy()
    present = [m for m in range(1, 13) if (moy == m).any()]
    p = np.array([np.nanmean(prec[moy == m]) for m in present])
    t = np.array([np.nanmean(tair[moy == m]) for m in present]) - 273.15
    n = min(n, len(present))
    warm = np.flatnonzero(t > DRY_SEASON_MIN_TC)
    if len(warm) >= n:
        pick = warm[np.argsort(p[warm], kind="stable")[:n]]
    else:
        pick = np.argsort(-t, kind="stable")[:n]
    return sorted(int(present[i]) for i in pick)


def pulse_forcing(
    forcing: np.ndarray,
    time,
    dry_days: int = 60,
    rain_mm: float = 20.0,
    spinup_days: int = SPINUP_DAYS,
    after_days: int = AFTER_DAYS,
) -> PulseForcing:
    """The controlled forcing of the rain-pulse experiment from a cell's real daily forcing
    ``(days, 5)`` over ``time``: ``spinup_days`` days of the mean forcing (every variable,
    precipitation included), then ``dry_days`` days with precipitation 0, one day with
    ``rain_mm``, ``after_days`` days with 0; from the dry spell on, rn, tair, vpd and co2 are
    their means over the days of :func:`dry_season_months`."""
    forcing = np.asarray(forcing, dtype=np.float64)
    time = pd.DatetimeIndex(time)
    months = dry_season_months(forcing[:, _F["prec"]], forcing[:, _F["tair"]], time)
    in_dry = np.isin(time.month.to_numpy(), months)
    mean = np.nanmean(forcing, axis=0)
    dry = np.nanmean(forcing[in_dry], axis=0)
    dry[_F["prec"]] = 0.0
    n = spinup_days + dry_days + 1 + after_days
    series = np.empty((n, len(FORCING_KEYS)))
    series[:spinup_days] = mean
    series[spinup_days:] = dry
    rain = spinup_days + dry_days
    series[rain, _F["prec"]] = rain_mm
    return PulseForcing(
        series=series,
        rain_day=rain,
        dry_start=spinup_days,
        dry_months=months,
        mean={k: float(mean[i]) for i, k in enumerate(FORCING_KEYS)},
        dry_season={k: float(dry[i]) for i, k in enumerate(FORCING_KEYS) if k != "prec"},
    )


def sweep(cell_forcing: np.ndarray, curve: Curve, points: int = CURVE_POINTS) -> np.ndarray:
    """Values of ``curve.input`` in the forcing's units (tair in K): SM/SMmax from 0 to 1;
    precipitation from 0 to its 99th percentile (at least 1 mm d-1); other forcing from the 1st
    to the 99th percentile of the cell's daily values."""
    if curve.input == "sm_rel":
        return np.linspace(0.0, 1.0, points)
    x = np.asarray(cell_forcing[:, _F[curve.input]], dtype=np.float64)
    x = x[np.isfinite(x)]
    lo, hi = (0.0, max(float(np.percentile(x, 99)), 1.0)) if curve.input == "prec" else np.percentile(x, [1, 99])
    if not hi > lo:
        hi = lo + 1.0
    return np.linspace(float(lo), float(hi), points)


@dataclass
class CurveBatch:
    """Every (cell, curve, value) of the response-curve experiment as one batch of elements."""

    forcing: np.ndarray  # (E, 5): the cell's mean forcing, the swept input at its value
    cell: np.ndarray  # (E,) position of the element's cell in the probed cells
    curve: np.ndarray  # (E,) position in CURVES
    x: np.ndarray  # (E,) value of the swept input in the forcing's units (tair in K)


def curve_batch(cells: list[ProbeCell], points: int = CURVE_POINTS) -> CurveBatch:
    forcing, cell, curve, xs = [], [], [], []
    for j, c in enumerate(cells):
        mean = np.nanmean(np.asarray(c.forcing, dtype=np.float64), axis=0)
        for i, cv in enumerate(CURVES):
            x = sweep(c.forcing, cv, points)
            f = np.repeat(mean[None], len(x), axis=0)
            if cv.input in _F:
                f[:, _F[cv.input]] = x
            forcing.append(f)
            cell += [j] * len(x)
            curve += [i] * len(x)
            xs.append(x)
    return CurveBatch(np.concatenate(forcing), np.asarray(cell), np.asarray(curve), np.concatenate(xs))


def held_states(batch: CurveBatch, means: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The states held in each element: the cell's mean (``means[key]``: (cells,)), SM/SMmax
    replaced by the swept value on its curve."""
    hold = {k: np.asarray(means[k], dtype=np.float64)[batch.cell] for k in HOLD_KEYS}
    on_sm = np.array([CURVES[i].input == "sm_rel" for i in batch.curve])
    hold["sm_rel"] = np.where(on_sm, batch.x, hold["sm_rel"])
    return hold


# --- running the models --------------------------------------------------------------------------


@torch.no_grad()
def model_pulse(model, series: np.ndarray, static: np.ndarray) -> dict[str, np.ndarray]:
    """The model's daily Rb, Rh, NEE, NPP (those it produces) over ``series`` ``(days, cells, 5)``,
    run as its ``forward`` does (spin-up)."""
    keys = [k for k in PULSE_KEYS if k in model.outputs]
    f = torch.as_tensor(series, dtype=torch.float32)
    s = torch.as_tensor(static, dtype=torch.float32)
    sim = model(f, s, spinup=True, outputs=keys)
    return {k: sim.outputs[k].double().numpy() for k in keys}


@torch.no_grad()
def model_curves(model, cells: list[ProbeCell], batch: CurveBatch, settle_days: int) -> dict[str, np.ndarray] | None:
    """Each element's parameter (of its curve) and WUE on the last of ``settle_days`` days
    (module docstring); None for a model without parameters (the pure LSTM)."""
    curves = _CURVES.get(model.kind)
    return None if curves is None else curves(model, cells, batch, settle_days)


def _constant_curves(model: ConstantModel, cells: list[ProbeCell], batch: CurveBatch, settle_days: int):
    """The constant model's curves: its parameters, the same for every element."""
    p = model.daily_parameters()
    k = model.constants()
    vals = {name: np.full(len(batch.x), float(getattr(p, name))) for name in CURVE_PARAMETERS}
    return _with_wue(vals, batch, float(k.beta_co2))


def _hybrid_curves(model: H2CM, cells: list[ProbeCell], batch: CurveBatch, settle_days: int):
    """The hybrid model's curves: its networks settled at held states (:func:`hybrid_settle`)."""
    forcing = torch.as_tensor(np.stack([c.forcing for c in cells], axis=1), dtype=torch.float32)
    static = torch.as_tensor(np.stack([c.static for c in cells]), dtype=torch.float32)
    sim = model(forcing, static, spinup=True, outputs=STATE_OUTPUTS)
    means = {k: sim.outputs[k].double().mean(0).numpy() for k in STATE_OUTPUTS}
    means["sm_rel"] = means.pop("sm") / sim.static.smmax.double().numpy()
    hold = held_states(batch, means)
    idx = torch.as_tensor(batch.cell, dtype=torch.long)
    values = hybrid_settle(model, batch.forcing, static[idx], sim.state.select(idx), hold, settle_days)
    return _with_wue(values, batch, float(model.constants().beta_co2))


# how each kind's response curves are read (the pure LSTM has no parameters: none)
_CURVES = {ConstantModel.kind: _constant_curves, H2CM.kind: _hybrid_curves}


@torch.no_grad()
def hybrid_settle(
    model: H2CM, forcing: np.ndarray, static, state: ModelState, hold, days: int
) -> dict[str, np.ndarray]:
    """Run ``days`` days of constant ``forcing`` ``(E, 5)`` from ``state``, setting the states
    the networks read to ``hold`` (SM/SMmax, SWE, GW, fAPAR, NPP; ``(E,)`` each) before every
    day (the day loop of :func:`h2cm.model.hybrid_day`); the curve parameters of the last day."""
    f = torch.as_tensor(forcing, dtype=torch.float32)
    sp, code = model.static_parameters(torch.as_tensor(static, dtype=torch.float32))
    k = model.constants()
    exo = model.zscore_forcing(f)
    terms = forcing_terms(DayForcing(*(f[:, _F[n]] for n in ("rn", "prec", "tair", "co2"))), k)
    weights = DayWeights(*model.lstms.fused_weights(code), *model.coupling.fused_weights(code))
    h = {key: torch.as_tensor(v, dtype=torch.float32) for key, v in hold.items()}
    carry = tuple(state)
    values = None
    for _ in range(days):
        carry = (h["swe"], h["sm_rel"] * sp.smmax, h["gw"], h["fapar"], h["npp"], carry[5], carry[6])
        carry, values = hybrid_day(carry, exo, ForcingTerms(*terms), weights, sp, k, CURVE_PARAMETERS)
    return {name: values[i].double().numpy() for i, name in enumerate(CURVE_PARAMETERS)}


def _with_wue(values: dict[str, np.ndarray], batch: CurveBatch, beta_co2: float) -> dict[str, np.ndarray]:
    values = dict(values)
    values["wue"] = values["alpha_wue"] * batch.forcing[:, _F["co2"]] * beta_co2
    return values


def truth_pulse(series: np.ndarray, static) -> dict[str, np.ndarray]:
    """The truth's daily Rb, Rh, NEE, NPP over ``series`` ``(days, cells, 5)`` (spin-up as the truth's)."""
    forcing = {k: series[..., i] for i, k in enumerate(FORCING_KEYS)}
    out, _ = truth_run(forcing, static, spinup=True, keys=PULSE_KEYS)
    return out


def truth_curves(cells: list[ProbeCell], static, batch: CurveBatch, settle_days: int) -> dict[str, np.ndarray]:
    """The truth's response curves, the same experiment as :func:`model_curves`."""
    from ..data.synth.truth import TRUTH_CONSTANTS

    real = np.stack([c.forcing for c in cells], axis=1).astype(np.float64)
    out, final = truth_run({k: real[..., i] for i, k in enumerate(FORCING_KEYS)}, static, keys=STATE_OUTPUTS)
    means = {k: out[k].mean(0) for k in STATE_OUTPUTS}
    means["sm_rel"] = means.pop("sm") / static.smmax.numpy()
    hold = held_states(batch, means)
    days = np.repeat(batch.forcing[None], settle_days, axis=0)
    res, _ = truth_run(
        {k: days[..., i] for i, k in enumerate(FORCING_KEYS)},
        select_static(static, batch.cell),
        state=final.select(batch.cell),
        spinup=False,
        hold=hold,
        keys=CURVE_PARAMETERS,
    )
    return _with_wue({k: v[-1] for k, v in res.items()}, batch, TRUTH_CONSTANTS["beta_co2"])


# --- cells ---------------------------------------------------------------------------------------


def longest_dry_spell(prec: np.ndarray, tair: np.ndarray) -> np.ndarray:
    """Per cell, the most consecutive days with precipitation below :data:`DRY_DAY_MM` and air
    temperature above 0 degC; ``prec``, ``tair``: ``(days, cells)``."""
    run = np.zeros(prec.shape[1], dtype=np.int64)
    best = run.copy()
    dry = (np.nan_to_num(prec, nan=np.inf) < DRY_DAY_MM) & (tair > 273.15)
    for d in dry:
        run = np.where(d, run + 1, 0)
        best = np.maximum(best, run)
    return best


def default_cells(ds, candidates: np.ndarray, period, n: int = N_CELLS) -> list[tuple[int, str]]:
    """The ``n`` candidates with the longest dry spells (:func:`longest_dry_spell`) among those
    with a mean precipitation of at least :data:`MIN_MEAN_PREC` (all candidates when none has):
    cells with a dry season, savannas first. Ties: the wetter cell first."""
    spells, wet = [], []
    for start in range(0, len(candidates), 256):
        d = io.load_cells(ds, candidates[start : start + 256], period)
        prec = d.forcing[..., _F["prec"]].numpy()
        spells.append(longest_dry_spell(prec, d.forcing[..., _F["tair"]].numpy()))
        wet.append(np.nanmean(prec, axis=0))
    spell, mean_p = np.concatenate(spells), np.concatenate(wet)
    ok = mean_p >= MIN_MEAN_PREC
    if not ok.any():
        ok[:] = True
    pos = np.flatnonzero(ok)
    order = pos[np.lexsort((-mean_p[pos], -spell[pos]))][:n]
    return [
        (
            int(candidates[i]),
            f"test cell with a dry spell of {int(spell[i])} days (mean precipitation {mean_p[i]:.2f} mm d-1)",
        )
        for i in order
    ]


def cell_at(ds, lat: float, lon: float) -> int:
    """The land cell whose grid box holds (lat, lon); a clear error when none does."""
    ii, jj = io.land_grid_index(ds)
    lats = np.asarray(ds["lat"].values, dtype=np.float64)
    lons = np.asarray(ds["lon"].values, dtype=np.float64)
    dlat = float(np.median(np.abs(np.diff(lats)))) if len(lats) > 1 else 1.0
    dlon = float(np.median(np.abs(np.diff(lons)))) if len(lons) > 1 else 1.0
    clat, clon = lats[ii], lons[jj]
    dl = np.abs(clat - lat)
    do = np.abs(((clon - lon) + 180.0) % 360.0 - 180.0)
    best = int(np.argmin((dl / dlat) ** 2 + (do / dlon) ** 2))
    if dl[best] > dlat / 2 + 1e-6 or do[best] > dlon / 2 + 1e-6:
        from ..report.figures import latlon

        raise ValueError(
            f"--cell {lat:g},{lon:g} is not in a land cell of the cube "
            f"(nearest land cell: {latlon(clat[best], clon[best])})"
        )
    return best


# --- the verb's library function -----------------------------------------------------------------


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
    ``run`` at ``cells`` (``[(lat, lon), ...]``; default: :func:`default_cells` among the test
    cells) and write the files to ``out`` (default ``RUN/probe``)."""
    why = f" (the pulse ratio compares with the {EVENTS.before} days before the rain)"
    dry_days = _check("--dry-days", dry_days, EVENTS.before, integer=True, why=why)
    rain_mm = _check("--rain-mm", rain_mm, 0.0, strict=True)
    spinup_days = _check("spinup_days", spinup_days, 1, integer=True)
    settle_days = _check("settle_days", settle_days, 1, integer=True)
    points = _check("points", points, 2, integer=True)
    n_cells = _check("n_cells", n_cells, 1, integer=True)
    if threads is not None:
        _check("--threads", threads, 1, integer=True)
    runtime.configure(threads=threads)
    t0 = _time.perf_counter()
    rd = RunDir.open(run)
    cube_path = resolve_cube(rd, cube)
    ds = io.open_cube(cube_path, dask=False)
    per = rd.period
    period = None if per is None else tuple(pd.Timestamp(p) if p else None for p in per)
    notes: list[str] = []

    if cells:
        chosen = [(cell_at(ds, float(a), float(b)), f"--cell {float(a):g},{float(b):g}") for a, b in cells]
    else:
        chosen = default_cells(ds, rd.test_cells, period, n_cells)
    data = io.load_cells(ds, [c for c, _ in chosen], period)
    if len(data.time) < 2:
        raise ValueError(f"the run's period {per} has fewer than two days in {cube_path}")
    probe_cells = [
        ProbeCell(
            c,
            float(data.lat[j]),
            float(data.lon[j]),
            why,
            data.forcing[:, j].double().numpy(),
            data.static[j].numpy(),
            data.time,
        )
        for j, (c, why) in enumerate(chosen)
    ]

    # inputs of the experiments
    pf = [pulse_forcing(c.forcing, c.time, dry_days, rain_mm, spinup_days, AFTER_DAYS) for c in probe_cells]
    series = np.stack([p.series for p in pf], axis=1)  # (days, cells, 5)
    rain = pf[0].rain_day
    first = pf[0].dry_start - min(CONTEXT_DAYS, spinup_days)
    days = np.arange(first, series.shape[0]) - rain  # offsets from the rain day
    batch = curve_batch(probe_cells, points)
    static = np.stack([c.static for c in probe_cells])

    # the truth (twin world)
    tstatic = _twin_truth(cube_path, ds, data, notes)
    truth_p = truth_c = None
    if tstatic is not None:
        truth_p = {k: v[first:] for k, v in truth_pulse(series, tstatic).items()}
        truth_c = truth_curves(probe_cells, tstatic, batch, settle_days)

    # every fold
    models = rd.load_models()
    kind = models[0].kind
    pulses: list[dict[str, np.ndarray]] = []
    curves: list[dict[str, np.ndarray] | None] = []
    for fold, model in zip(rd.folds, models, strict=True):
        t1 = _time.perf_counter()
        pulses.append({k: v[first:] for k, v in model_pulse(model, series, static).items()})
        curves.append(model_curves(model, probe_cells, batch, settle_days))
        if progress:
            print(f"fold {fold}: probed {len(probe_cells)} cells in {_time.perf_counter() - t1:.1f} s")
    if not models[0].has_process_model:
        have = " and ".join(k.upper() for k in PULSE_KEYS if k in models[0].outputs)
        notes.append(
            f"{kind_label(kind)} has no process-model parameters: no response curves "
            f"(the rain pulse shows only the {have} it predicts)"
        )
    elif kind == ConstantModel.kind:
        notes.append(f"{kind_label(kind)}: its parameters depend on no input, so its response curves are flat")

    out = Path(out) if out else rd.path / "probe"
    out.mkdir(parents=True, exist_ok=True)
    pulse_df = _pulse_table(probe_cells, rd.folds, days, series[first:, :, _F["prec"]], pulses, truth_p)
    curves_df = _curves_table(probe_cells, rd.folds, batch, curves, truth_c)
    summary = _summary(
        rd,
        cube_path,
        kind,
        probe_cells,
        pf,
        days,
        pulses,
        truth_p,
        curves_df,
        notes,
        dict(dry_days=dry_days, rain_mm=rain_mm, spinup_days=spinup_days, settle_days=settle_days, points=points),
    )
    from ..report.probe_figures import curves_figure, pulse_figure

    atomic_write_text(out / "pulse.csv", pulse_df.to_csv(index=False, float_format="%.6g"))
    atomic_write_text(out / "curves.csv", curves_df.to_csv(index=False, float_format="%.6g"))
    atomic_write_bytes(out / "pulse.png", _png(pulse_figure(pulse_df, summary)))
    atomic_write_bytes(out / "curves.png", _png(curves_figure(curves_df, summary)))
    summary["seconds"] = round(_time.perf_counter() - t0, 2)
    atomic_write_json(out / "summary.json", summary)
    if progress:
        for line in summary_lines(summary):
            print(line)
        print(f"probe written to {out}")
    return ProbeResult(out, summary, notes)


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


def _fold_stats(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """median, min, max over axis 0 (folds), NaN where every fold is NaN."""
    if not np.isfinite(a).any():
        nan = np.full(a.shape[1:], np.nan)
        return nan, nan, nan
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=0), np.nanmin(a, axis=0), np.nanmax(a, axis=0)


def _pulse_table(cells, folds, days, prec, pulses, truth) -> pd.DataFrame:
    frames = []
    for key in PULSE_KEYS:
        per_fold = np.stack([p.get(key, np.full(prec.shape, np.nan)) for p in pulses])  # (folds, days, cells)
        med, lo, hi = _fold_stats(per_fold)
        for j, c in enumerate(cells):
            df = pd.DataFrame(
                {
                    "cell": c.index,
                    "lat": c.lat,
                    "lon": c.lon,
                    "variable": key,
                    "units": _units(key),
                    "day": days,
                    "prec": prec[:, j],
                    "median": med[:, j],
                    "min": lo[:, j],
                    "max": hi[:, j],
                    "truth": truth[key][:, j] if truth is not None else np.nan,
                }
            )
            for f, p in zip(folds, per_fold, strict=True):
                df[f"fold_{f}"] = p[:, j]
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _curves_table(cells, folds, batch: CurveBatch, curves, truth) -> pd.DataFrame:
    have = [c for c in curves if c is not None]
    cols = ["cell", "lat", "lon", "parameter", "units", "input", "input_units", "x", "median", "min", "max", "truth"]
    cols += [f"fold_{f}" for f in folds]
    if not have and truth is None:
        return pd.DataFrame(columns=cols)
    frames = []
    for name in (*CURVE_PARAMETERS, "wue"):
        i = CURVE_PARAMETERS.index(name) if name != "wue" else 0
        cv = CURVES[i]
        sel = batch.curve == i
        per_fold = np.stack([c[name][sel] if c is not None else np.full(sel.sum(), np.nan) for c in curves])
        med, lo, hi = _fold_stats(per_fold)
        x = batch.x[sel] - (273.15 if cv.input == "tair" else 0.0)
        df = pd.DataFrame(
            {
                "cell": [cells[j].index for j in batch.cell[sel]],
                "lat": [cells[j].lat for j in batch.cell[sel]],
                "lon": [cells[j].lon for j in batch.cell[sel]],
                "parameter": name,
                "units": WUE_UNITS if name == "wue" else _units(name),
                "input": cv.input,
                "input_units": cv.units,
                "x": x,
                "median": med,
                "min": lo,
                "max": hi,
                "truth": truth[name][sel] if truth is not None else np.nan,
            }
        )
        for f, p in zip(folds, per_fold, strict=True):
            df[f"fold_{f}"] = p
        frames.append(df)
    return pd.concat(frames, ignore_index=True)[cols]


def _units(key: str) -> str:
    return str(cf_attrs(key)["units"]).replace("g m-2 d-1", "gC m-2 d-1")


def _ratio(rh: np.ndarray, rain_index: int) -> float | None:
    """Pulse ratio of ``rh`` ``(days, cells)`` with the rain on ``rain_index`` at every cell."""
    if rh is None or not np.isfinite(rh).all():
        return None
    r = pulse_ratio(rh, [(rain_index, j) for j in range(rh.shape[1])])
    return None if not np.isfinite(r) else round(float(r), 4)


def _summary(rd, cube_path, kind, cells, pf, days, pulses, truth_p, curves_df, notes, settings) -> dict:
    rain_index = int(np.flatnonzero(days == 0)[0])
    ratios = []
    have_rh = all("rh" in p for p in pulses)
    for j, c in enumerate(cells):
        one = slice(j, j + 1)
        folds = {
            str(f): _ratio(p["rh"][:, one], rain_index) if have_rh else None
            for f, p in zip(rd.folds, pulses, strict=True)
        }
        ens = _ratio(np.median(np.stack([p["rh"][:, one] for p in pulses]), axis=0), rain_index) if have_rh else None
        tr = _ratio(truth_p["rh"][:, one], rain_index) if truth_p is not None else None
        ratios.append({"cell": c.index, "lat": c.lat, "lon": c.lon, "folds": folds, "ensemble": ens, "truth": tr})
    all_cells = {
        "folds": {
            str(f): _ratio(p["rh"], rain_index) if have_rh else None for f, p in zip(rd.folds, pulses, strict=True)
        },
        "ensemble": _ratio(np.median(np.stack([p["rh"] for p in pulses]), axis=0), rain_index) if have_rh else None,
        "truth": _ratio(truth_p["rh"], rain_index) if truth_p is not None else None,
    }
    for p in pf:
        if p.dry_season["tair"] <= 273.15:
            notes.append("the dry-season air temperature of a cell is at or below 0 degC: its rain falls as snow")
            break
    trends = []
    if len(curves_df):
        for (cell, name), g in curves_df.groupby(["cell", "parameter"], sort=False):
            trends.append(
                {
                    "cell": int(cell),
                    "parameter": name,
                    "input": g["input"].iloc[0],
                    "x": [float(g["x"].iloc[0]), float(g["x"].iloc[-1])],
                    "median": _pair(g["median"]),
                    "truth": _pair(g["truth"]),
                }
            )
    return {
        "h2cm": __version__,
        "run": str(rd.path),
        "cube": str(cube_path),
        "model": kind,
        "model_label": kind_label(kind),
        "folds": rd.folds,
        "period": [str(cells[0].time[0].date()), str(cells[0].time[-1].date())],
        "truth": truth_p is not None,
        "settings": {**settings, "after_days": AFTER_DAYS, "context_days": CONTEXT_DAYS, "dry_months": DRY_MONTHS},
        "cells": [
            {
                "cell": c.index,
                "lat": c.lat,
                "lon": c.lon,
                "why": c.why,
                "dry_months": p.dry_months,
                "mean_forcing": _rounded(p.mean),
                "dry_season_forcing": _rounded(p.dry_season),
            }
            for c, p in zip(cells, pf, strict=True)
        ],
        "pulse_ratio": {
            "definition": (
                f"mean Rh on days 0..{EVENTS.after - 1} from the rain / mean Rh over the {EVENTS.before} days "
                "before it; ensemble: of the folds' median Rh; all cells: mean over the cells"
            ),
            "cells": ratios,
            "all_cells": all_cells,
        },
        "curves": trends,
        "notes": notes,
    }


def _pair(s: pd.Series):
    v = s.to_numpy(dtype=np.float64)
    return None if not np.isfinite(v[[0, -1]]).all() else [round(float(v[0]), 6), round(float(v[-1]), 6)]


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in d.items()}


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    from ..report.figures import DPI

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def summary_lines(summary: dict) -> list[str]:
    """What ``h2cm probe`` prints: the pulse ratios and the notes."""
    s = summary["settings"]
    pr = summary["pulse_ratio"]
    lines = [
        f"{summary['model_label']}, {len(summary['folds'])} folds, {len(summary['cells'])} cells: "
        f"{s['rain_mm']:g} mm of rain after {s['dry_days']} dry days"
    ]
    for c in [*pr["cells"], {"lat": None, **pr["all_cells"]}]:
        where = "all cells" if c["lat"] is None else _where(c["lat"], c["lon"])
        folds = [v for v in c["folds"].values() if v is not None]
        fold_txt = f" [folds {min(folds):.2f}-{max(folds):.2f}]" if folds else ""
        ens = "n/a" if c["ensemble"] is None else f"{c['ensemble']:.2f}"
        tr = "" if c["truth"] is None else f", truth {c['truth']:.2f}"
        lines.append(f"  Rh pulse ratio at {where}: ensemble {ens}{fold_txt}{tr}")
    lines += summary["notes"]
    return lines


def _where(lat: float, lon: float) -> str:
    from ..report.figures import latlon

    return latlon(lat, lon)


# --- command line --------------------------------------------------------------------------------


def run(args) -> int:
    from ..cli.options import parse_cell

    probe(
        args.run,
        cube=args.cube,
        cells=[parse_cell(c) for c in args.cell] if args.cell else None,
        dry_days=args.dry_days,
        rain_mm=args.rain_mm,
        out=args.out,
        threads=args.threads,
        progress=not args.quiet,
    )
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "probe",
        help="controlled experiments on a trained run: rain pulse and parameter response curves (with the truth)",
    )
    p.add_argument("run", help="run directory (config.yaml, split.json, fold_K/best.pt)")
    p.add_argument("--cube", default=None, help="cube (default: the run's cube)")
    p.add_argument(
        "--cell",
        action="append",
        default=None,
        help="LAT,LON of a cell to probe (repeat for more; default: the test cells with the longest dry spells)",
    )
    p.add_argument("--dry-days", type=int, default=60, help="days without rain before the rain day (default 60)")
    p.add_argument("--rain-mm", type=float, default=20.0, help="precipitation of the rain day, mm (default 20)")
    p.add_argument("--out", default=None, help="output folder (default: RUN/probe)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)
