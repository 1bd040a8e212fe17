"""The response-curve experiment of ``h2cm probe`` (docs/cli/probe.md).

Each learned daily parameter against one of its inputs, the others held (:data:`CURVES`):
alpha_WUE against VPD, alpha_T against relative soil moisture SM/SMmax, CUE against air
temperature, Rb against precipitation. Each model first runs the cell's real forcing over the
run's period (with spin-up); the time means of its states the networks read (SM/SMmax, SWE, GW,
fAPAR, NPP of the previous day) are the held states, its final state (stores and LSTM memory) is
the start. Then, for every value of the swept input (:func:`sweep`), ``settle_days`` days of
constant forcing at the cell's means over the run's period, the swept input at its value, the
states reset to the held values before every day; the parameter of the last day is the curve's
value. The swept forcing covers the 1st to 99th percentile of the cell's daily values
(precipitation from 0), SM/SMmax 0 to 1. WUE = alpha_WUE * CO2 * beta_CO2 (gC per kg of water at
the cell's mean CO2, with each model's own beta_CO2) is recorded too: alpha_WUE alone is not
comparable between models, which can trade it against beta_CO2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..baselines import ConstantModel
from ..model import H2CM, DayWeights, ModelState, hybrid_day
from ..physics import DayForcing, ForcingTerms, forcing_terms
from ..schema import FORCING_KEYS
from .probe_cells import ProbeCell
from .probe_truth import HOLD_KEYS, select_static, truth_run

SETTLE_DAYS = 60  # days of constant inputs before a response-curve parameter is read
CURVE_POINTS = 21  # values of each swept input
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
