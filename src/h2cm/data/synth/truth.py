"""Hidden truth of the twin world: parameters as smooth functions of static features, weather
and states, fed through the model's own process equations (:func:`h2cm.physics.day_step`).

Every truth parameter depends only on what the corresponding network of docs/model.md
can see (its inputs, its LSTM memory and the static ``code``), so the networks can in principle
learn it. Formulas: docs/data.md ("Truth parameters").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ...model import INITIAL_NPP
from ...physics import Constants, DailyParams, DayForcing, StaticParams, WaterState, day_step
from ...schema import FORCING_KEYS, OUTPUT_KEYS

# Truth constants: deliberately different from the networks' initial values and the priors.
TRUTH_CONSTANTS: dict[str, float] = {"q10": 1.9, "beta_co2": 0.0011, "beta_baseflow": 0.004, "beta_snow": 0.9}
WUE_REFERENCE_CO2 = 380.0  # ppm: alpha_WUE is defined so that WUE(VPD) holds at this CO2
FAPAR_MIN = 0.02
WUE_LIGHT_RN = 80.0  # W m-2: net radiation at which WUE reaches 63 % of its light-saturated value
PULSE_KICK = 0.8  # rain-pulse jump of basal respiration after a 30-day dry spell, per (0.2 + NPP365)
RB_DRY = 0.4  # basal respiration of a dry topsoil, as a fraction of a wet one's
RB_WET_MM = 1.5  # mm d-1: 10-day mean rain at which 63 % of the wet-soil respiration is reached
RB_RN_SCALE = 50.0  # W m-2: basal respiration falls e-fold per this much mean net radiation


@dataclass
class TruthStatic:
    """Per-cell static truth, (cells,) tensors."""

    smmax: Tensor  # mm
    alpha_ei: Tensor  # mm
    tree_cover: Tensor
    sand: Tensor
    clay: Tensor
    fapar_max: Tensor

    @classmethod
    def from_features(cls, f: dict[str, np.ndarray], dtype=torch.float64) -> TruthStatic:
        """Static truth from the static features (names of ``schema.STATIC_FEATURE_KEYS``)."""
        tree = np.asarray(f["tree_cover"])
        herb = f["lc_gra"] + f["lc_cro"] + f["lc_sav"] + f["lc_wsa"] + f["lc_cvm"] + f["lc_wet"]
        smmax = 30.0 + 0.9 * f["water_holding_capacity"] * (0.6 + 0.6 * tree)
        alpha_ei = 0.3 + 2.2 * tree + 0.4 * herb
        fmax = np.clip(0.2 + 0.6 * tree + 0.35 * herb - 0.2 * f["lc_bar"] - 0.2 * f["lc_snow"], 0.1, 0.92)

        def t(x):
            return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)

        return cls(t(smmax), t(alpha_ei), t(tree), t(f["sand"]), t(f["clay"]), t(fmax))


class Memory(NamedTuple):
    """Slow variables of the truth (what an LSTM has to learn to remember)."""

    t_smooth: Tensor  # degC, 15-day running mean of air temperature
    sm_smooth: Tensor  # 1, 10-day running mean of relative soil moisture
    dry_days: Tensor  # days since the last day with more than 2 mm of precipitation
    p_smooth: Tensor  # mm d-1, 10-day running mean of precipitation (topsoil wetness)
    pulse: Tensor  # gC m-2 d-1, rain-pulse (Birch effect) part of basal respiration
    npp_mean: Tensor  # gC m-2 d-1, 365-day running mean of NPP
    rn_mean: Tensor  # W m-2, 365-day running mean of net radiation (a climate proxy)
    moisture_mean: Tensor  # 1, 365-day running mean of the topsoil moisture factor of respiration


def truth_constants(dtype=torch.float64) -> Constants:
    return Constants(*(torch.tensor(TRUTH_CONSTANTS[k], dtype=dtype) for k in Constants._fields))


def daily_parameters(
    f: DayForcing,
    vpd: Tensor,
    state: WaterState,
    fapar_prev: Tensor,
    npp_prev: Tensor,
    mem: Memory,
    st: TruthStatic,
    beta_co2: float,
    pulse_kick: float = PULSE_KICK,
) -> tuple[DailyParams, Memory]:
    """Today's truth parameters from today's forcing and yesterday's states."""
    tc = f.tair - 273.15
    sm_rel = torch.clamp(state.sm / st.smmax, 0.0, 1.0)
    # memory (running means, dry-spell counter, rain pulse)
    t_smooth = mem.t_smooth + (tc - mem.t_smooth) / 15.0
    sm_smooth = mem.sm_smooth + (sm_rel - mem.sm_smooth) / 10.0
    npp_mean = mem.npp_mean + (npp_prev - mem.npp_mean) / 365.0
    rn_mean = mem.rn_mean + (f.rn - mem.rn_mean) / 365.0
    p_smooth = mem.p_smooth + (f.prec - mem.p_smooth) / 10.0
    trigger = (f.prec > 5.0) & (mem.dry_days >= 10.0)
    kick = pulse_kick * torch.clamp(mem.dry_days / 30.0, max=1.0) * (0.2 + npp_mean)
    pulse = mem.pulse * float(np.exp(-0.25)) + torch.where(trigger, kick, torch.zeros_like(kick))
    dry_days = torch.where(f.prec > 2.0, torch.zeros_like(mem.dry_days), mem.dry_days + 1.0)

    # hydrology
    alpha_smelt = 1.5 + 2.5 * (1.0 - st.tree_cover) + 0.012 * torch.clamp(f.rn, min=0.0)
    alpha_rsoil = torch.clamp(0.97 - 0.4 * st.clay - 0.35 * sm_rel**4, 0.05, 0.99)
    alpha_rgw = 0.15 + 0.55 * st.sand
    # coupling: transpiration falls with soil dryness and VPD; WUE falls with VPD and, under
    # clouds, with light (photosynthesis is light-limited before transpiration is)
    alpha_t = 0.92 * (1.0 - torch.exp(-4.5 * sm_rel)) * torch.exp(-vpd / 80.0)
    light = 1.0 - torch.exp(-torch.clamp(f.rn, min=0.0) / WUE_LIGHT_RN)
    wue = (1.5 + 3.0 / (1.0 + vpd / 10.0)) * light  # gC per kg H2O at the reference CO2
    alpha_wue = wue / (WUE_REFERENCE_CO2 * beta_co2)
    # vegetation: CUE falls with temperature; fAPAR relaxes towards a temperature x moisture target
    cue = 0.25 + 0.45 * torch.sigmoid(-(tc - 12.0) / 7.0)
    target = FAPAR_MIN + (st.fapar_max - FAPAR_MIN) * torch.sigmoid((t_smooth - 6.0) / 2.5) * torch.sigmoid(
        (sm_smooth - 0.2) / 0.06
    )
    fapar = fapar_prev + (target - fapar_prev) / 8.0
    # soil: basal respiration follows productivity, lower in warm (high-radiation) climates so
    # that Rh roughly balances NPP, limited by a dry topsoil (recent rain), plus the rain pulse;
    # soil evaporation is high after rain
    # (relative to its own annual mean: moisture moves respiration within the year, not its total)
    moisture = RB_DRY + (1.0 - RB_DRY) * (1.0 - torch.exp(-p_smooth / RB_WET_MM))
    moisture_mean = mem.moisture_mean + (moisture - mem.moisture_mean) / 365.0
    rb = (0.1 + npp_mean) * torch.exp(-(rn_mean - 90.0) / RB_RN_SCALE) * moisture / moisture_mean + pulse
    alpha_es = torch.clamp((0.12 + 0.45 * torch.exp(-dry_days / 4.0)) * (1.0 - 0.4 * st.sand), 0.02, 0.9)

    params = DailyParams(alpha_smelt, alpha_rsoil, alpha_rgw, alpha_t, alpha_es, alpha_wue, cue, rb, fapar)
    return params, Memory(t_smooth, sm_smooth, dry_days, p_smooth, pulse, npp_mean, rn_mean, moisture_mean)


def run_truth(
    forcing: dict[str, np.ndarray],
    static: TruthStatic,
    spinup: bool = True,
    dtype=torch.float64,
    pulse_kick: float = PULSE_KICK,
) -> dict[str, np.ndarray]:
    """Run the truth day by day for all cells at once (no gradients).

    forcing: ``rn prec tair vpd co2`` as (days, cells). Like the model (docs/model.md, spin-up),
    the whole period is run once from the initial state as spin-up and its final states start
    the recorded run. Returns every key of ``schema.OUTPUT_KEYS`` as (days, cells) float32.
    ``pulse_kick``: the rain pulse's size (0: a counterfactual truth without the Birch effect).
    """
    f = {k: torch.as_tensor(forcing[k], dtype=dtype) for k in FORCING_KEYS}
    n_days, n = f["tair"].shape
    const = truth_constants(dtype)
    sp = StaticParams(static.smmax, static.alpha_ei)
    zeros = torch.zeros(n, dtype=dtype)
    state = WaterState(zeros, zeros.clone(), zeros.clone())
    fapar, npp = zeros.clone(), torch.full((n,), INITIAL_NPP, dtype=dtype)
    mem = Memory(
        t_smooth=f["tair"][0] - 273.15,
        sm_smooth=zeros.clone(),
        dry_days=zeros.clone(),
        p_smooth=f["prec"].mean(0),
        pulse=zeros.clone(),
        npp_mean=npp.clone(),
        rn_mean=f["rn"].mean(0),
        moisture_mean=torch.ones_like(zeros),
    )
    out = torch.empty((n_days, len(OUTPUT_KEYS), n), dtype=torch.float32)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-day ops are small: extra threads only add synchronisation cost
    try:
        _loop(f, state, fapar, npp, mem, static, sp, const, out, spinup, pulse_kick)
    finally:
        torch.set_num_threads(threads)
    arr = out.numpy()
    return {k: arr[:, i, :] for i, k in enumerate(OUTPUT_KEYS)}


def _loop(f, state, fapar, npp, mem, static, sp, const, out, spinup, pulse_kick=PULSE_KICK) -> None:
    n_days = out.shape[0]
    beta_co2 = TRUTH_CONSTANTS["beta_co2"]
    with torch.no_grad():
        for record in [False, True] if spinup else [True]:
            for t in range(n_days):
                day = DayForcing(f["rn"][t], f["prec"][t], f["tair"][t], f["co2"][t])
                params, mem = daily_parameters(day, f["vpd"][t], state, fapar, npp, mem, static, beta_co2, pulse_kick)
                state, fluxes = day_step(state, day, params, sp, const)
                fapar, npp = params.fapar, fluxes["npp"]
                if record:
                    values = {**params._asdict(), **fluxes}
                    out[t] = torch.stack([values[k] for k in OUTPUT_KEYS])
