"""The twin world's hidden truth under controlled experiments (``h2cm probe``, part (c)).

The same loop as :func:`h2cm.data.synth.truth.run_truth` (the truth's own
:func:`~h2cm.data.synth.truth.daily_parameters` with its :class:`~h2cm.data.synth.truth.Memory`,
fed through :func:`h2cm.physics.day_step`, the same initial state, memory and spin-up rule), with
three additions the probes need: it can start from a given state, it returns its final state,
and it can *hold* the states the truth parameters read (yesterday's relative soil moisture,
snow, groundwater, fAPAR and NPP) at fixed values every day, as ``h2cm probe`` holds the states
the networks read. Pure functions of arrays, no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..data.synth.truth import TRUTH_CONSTANTS, Memory, TruthStatic, daily_parameters, truth_constants
from ..model import INITIAL_NPP
from ..physics import DayForcing, StaticParams, WaterState, day_step
from ..schema import FORCING_KEYS, OUTPUT_KEYS

# states the truth parameters (and the networks) read from the previous day, in physical units:
# SM / SMmax (1), SWE (mm), GW (mm), fAPAR (1), NPP (gC m-2 d-1)
HOLD_KEYS: tuple[str, ...] = ("sm_rel", "swe", "gw", "fapar", "npp")
# static features TruthStatic.from_features reads
TRUTH_FEATURES: tuple[str, ...] = (
    "tree_cover",
    "water_holding_capacity",
    "sand",
    "clay",
    "lc_gra",
    "lc_cro",
    "lc_sav",
    "lc_wsa",
    "lc_cvm",
    "lc_wet",
    "lc_bar",
    "lc_snow",
)


class TruthState(NamedTuple):
    """Everything the truth carries from one day to the next, (cells,) tensors."""

    water: WaterState  # mm
    fapar: Tensor  # previous day's fAPAR
    npp: Tensor  # previous day's NPP, gC m-2 d-1
    mem: Memory  # running means, dry-day counter, rain pulse

    def select(self, index) -> TruthState:
        """The state of some cells (``index``: positions, may repeat)."""
        idx = torch.as_tensor(np.asarray(index), dtype=torch.long)
        return TruthState(
            WaterState(*(t[idx] for t in self.water)),
            self.fapar[idx],
            self.npp[idx],
            Memory(*(t[idx] for t in self.mem)),
        )


def truth_static(features: Sequence[str], static: np.ndarray, dtype=torch.float64) -> TruthStatic | None:
    """The truth's static parameters of cells from their static features ``(cells, F)`` named by
    ``features``; None when a feature the truth is built from is missing (not a twin world)."""
    names = [str(f) for f in features]
    if any(f not in names for f in TRUTH_FEATURES):
        return None
    static = np.asarray(static, dtype=np.float64)
    return TruthStatic.from_features({f: static[:, names.index(f)] for f in TRUTH_FEATURES}, dtype=dtype)


def select_static(static: TruthStatic, index) -> TruthStatic:
    """The static truth of some cells (``index``: positions, may repeat)."""
    idx = torch.as_tensor(np.asarray(index), dtype=torch.long)
    return TruthStatic(**{f.name: getattr(static, f.name)[idx] for f in dataclasses.fields(static)})


def initial_truth_state(forcing: Mapping[str, Tensor], n: int, dtype=torch.float64) -> TruthState:
    """The state :func:`~h2cm.data.synth.truth.run_truth` starts from: empty stores, no fAPAR,
    NPP ``INITIAL_NPP`` (1.1738), memory from the first day's temperature and the period's mean
    rain and radiation."""
    zeros = torch.zeros(n, dtype=dtype)
    npp = torch.full((n,), INITIAL_NPP, dtype=dtype)
    mem = Memory(
        t_smooth=forcing["tair"][0] - 273.15,
        sm_smooth=zeros.clone(),
        dry_days=zeros.clone(),
        p_smooth=forcing["prec"].mean(0),
        pulse=zeros.clone(),
        npp_mean=npp.clone(),
        rn_mean=forcing["rn"].mean(0),
        moisture_mean=torch.ones_like(zeros),
    )
    return TruthState(WaterState(zeros, zeros.clone(), zeros.clone()), zeros.clone(), npp, mem)


def truth_run(
    forcing: Mapping[str, np.ndarray],
    static: TruthStatic,
    state: TruthState | None = None,
    spinup: bool = True,
    hold: Mapping[str, np.ndarray | float] | None = None,
    keys: Sequence[str] = OUTPUT_KEYS,
    dtype=torch.float64,
) -> tuple[dict[str, np.ndarray], TruthState]:
    """Run the truth day by day for all cells at once (no gradients).

    forcing: ``rn prec tair vpd co2`` as ``(days, cells)`` in physical units. state: where to
    start (default: :func:`initial_truth_state`, as ``run_truth``). spinup: first run the whole
    period once and start the recorded run from its final state (``run_truth``'s rule).
    hold: states set every day before the parameters are computed, by name of :data:`HOLD_KEYS`
    (each a value or ``(cells,)`` values; SM is set to ``sm_rel * smmax``). Returns ``keys`` (of
    ``schema.OUTPUT_KEYS``) as ``(days, cells)`` float64 arrays and the final state. With no
    ``state`` and no ``hold`` the outputs are ``run_truth``'s.
    """
    f = {k: torch.as_tensor(np.asarray(forcing[k]), dtype=dtype) for k in FORCING_KEYS}
    n_days, n = f["tair"].shape
    unknown = [k for k in (hold or {}) if k not in HOLD_KEYS]
    if unknown:
        raise ValueError(f"hold: unknown state(s) {unknown}; known: {', '.join(HOLD_KEYS)}")
    held = {k: torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype).expand(n) for k, v in (hold or {}).items()}
    unknown = [k for k in keys if k not in OUTPUT_KEYS]
    if unknown:
        raise ValueError(f"unknown output(s) {unknown}")
    const = truth_constants(dtype)
    beta_co2 = TRUTH_CONSTANTS["beta_co2"]
    sp = StaticParams(static.smmax, static.alpha_ei)
    st = initial_truth_state(f, n, dtype) if state is None else state
    water, fapar, npp, mem = st
    out = np.empty((n_days, len(keys), n), dtype=np.float64)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-day ops are small: extra threads only add synchronisation cost
    try:
        with torch.no_grad():
            for record in [False, True] if spinup else [True]:
                for t in range(n_days):
                    if held:
                        water, fapar, npp = _hold(held, water, fapar, npp, static.smmax)
                    day = DayForcing(f["rn"][t], f["prec"][t], f["tair"][t], f["co2"][t])
                    params, mem = daily_parameters(day, f["vpd"][t], water, fapar, npp, mem, static, beta_co2)
                    water, fluxes = day_step(water, day, params, sp, const)
                    fapar, npp = params.fapar, fluxes["npp"]
                    if record and keys:
                        values = {**params._asdict(), **fluxes}
                        out[t] = torch.stack([values[k] for k in keys]).numpy()
    finally:
        torch.set_num_threads(threads)
    return {k: out[:, i, :] for i, k in enumerate(keys)}, TruthState(water, fapar, npp, mem)


def _hold(held: dict[str, Tensor], water: WaterState, fapar: Tensor, npp: Tensor, smmax: Tensor):
    sm = held["sm_rel"] * smmax if "sm_rel" in held else water.sm
    water = WaterState(held.get("swe", water.swe), sm, held.get("gw", water.gw))
    return water, held.get("fapar", fapar), held.get("npp", npp)
