"""The H2CM process model: pure, differentiable tensor functions (docs/model.md).

Nothing here knows about networks, files or normalisation. Every function takes tensors in
physical units, broadcasts over any batch shape (typically ``(cells,)``) and returns tensors.
Units: storages mm, water fluxes mm d-1, carbon fluxes gC m-2 d-1, temperature K (air) or degC
(``tc``), radiation W m-2, CO2 ppm.

The daily water balance closes exactly (up to float rounding):
``snowfall + rainfall = et + runoff + d(swe + sm + gw)``; and ``nee = ra + rh - gpp``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

T_FREEZE = 273.15  # K
LATENT_HEAT = 2.45  # MJ kg-1
W_TO_MJ_PER_DAY = 0.0864  # (W m-2) -> (MJ m-2 d-1)
RH_REFERENCE_TC = 15.0  # degC
W_GUARD = 1e-8  # mm d-1, guards the soil recharge ratio


class WaterState(NamedTuple):
    """Water storages carried from one day to the next (mm)."""

    swe: Tensor
    sm: Tensor
    gw: Tensor


class DayForcing(NamedTuple):
    """The forcing the process model uses on one day (physical units)."""

    rn: Tensor  # W m-2
    prec: Tensor  # mm d-1
    tair: Tensor  # K
    co2: Tensor  # ppm


class DailyParams(NamedTuple):
    """Parameters that the dynamic networks predict for one day."""

    alpha_smelt: Tensor  # mm degC-1 d-1
    alpha_rsoil: Tensor  # 1
    alpha_rgw: Tensor  # 1
    alpha_t: Tensor  # 1
    alpha_es: Tensor  # 1
    alpha_wue: Tensor  # gC kgH2O-1 ppm-1 (times beta_co2)
    cue: Tensor  # 1
    rb: Tensor  # gC m-2 d-1
    fapar: Tensor  # 1


class StaticParams(NamedTuple):
    smmax: Tensor  # mm
    alpha_ei: Tensor  # mm


class Constants(NamedTuple):
    q10: Tensor  # 1
    beta_co2: Tensor  # ppm-1
    beta_baseflow: Tensor  # d-1
    beta_snow: Tensor  # 1


# --- water cycle ----------------------------------------------------------------------------


def celsius(tair: Tensor) -> Tensor:
    return tair - T_FREEZE


def snowfall_rate(prec: Tensor, tc: Tensor, beta_snow: Tensor) -> Tensor:
    """Precipitation falling as snow (Tc <= 0 degC), corrected by beta_snow, mm d-1."""
    return torch.where(tc <= 0.0, beta_snow * prec, torch.zeros_like(prec))


def snowmelt(swe_prev: Tensor, tc_pos: Tensor, alpha_smelt: Tensor) -> Tensor:
    """Degree-day melt limited by the pack; ``tc_pos = max(Tc, 0)``, mm d-1."""
    return torch.minimum(swe_prev, alpha_smelt * tc_pos)


def snow_pack(swe_prev: Tensor, snowfall: Tensor, melt: Tensor) -> Tensor:
    """SWE after accumulation and melt (never negative), mm."""
    return torch.clamp(swe_prev + snowfall - melt, min=0.0)


def snow(swe_prev: Tensor, prec: Tensor, tc: Tensor, alpha_smelt: Tensor, beta_snow: Tensor):
    """Snow accumulation and degree-day melt. Returns (snowfall, melt, swe)."""
    snowfall = snowfall_rate(prec, tc, beta_snow)
    melt = snowmelt(swe_prev, torch.clamp(tc, min=0.0), alpha_smelt)
    return snowfall, melt, snow_pack(swe_prev, snowfall, melt)


def available_energy(rn: Tensor) -> Tensor:
    """Net radiation as an evaporable water depth, mm d-1 (never negative)."""
    return torch.clamp(rn * (W_TO_MJ_PER_DAY / LATENT_HEAT), min=0.0)


def rain(prec: Tensor, tc: Tensor) -> Tensor:
    return torch.where(tc > 0.0, prec, torch.zeros_like(prec))


def interception(rainfall: Tensor, fapar: Tensor, alpha_ei: Tensor, rn_mm: Tensor):
    """Interception evaporation. Returns (ei, remaining energy e1)."""
    ei = torch.minimum(torch.minimum(rainfall, fapar * alpha_ei), rn_mm)
    return ei, rn_mm - ei


def soil_evaporation(e1: Tensor, sm_prev: Tensor, fapar: Tensor, alpha_es: Tensor):
    """Bare-soil evaporation. Returns (es, remaining energy e2, soil moisture sm1)."""
    es = (1.0 - fapar) * torch.minimum(e1, sm_prev) * alpha_es
    return es, e1 - es, sm_prev - es


def transpiration(e2: Tensor, sm1: Tensor, fapar: Tensor, alpha_t: Tensor):
    """Transpiration (paper Eq. 1 with ETpot = min(E2, SM1)). Returns (tr, sm2)."""
    tr = fapar * torch.minimum(e2, sm1) * alpha_t
    return tr, sm1 - tr


def recharge(water_input: Tensor, sm2: Tensor, smmax: Tensor, alpha_rsoil: Tensor, alpha_rgw: Tensor):
    """Split water reaching the ground into soil recharge, groundwater recharge and fast runoff.

    ``f_soil = alpha_rsoil * min(1, (smmax - sm2) / max(W, 1e-8))``; the free capacity is clamped
    at zero so a state above capacity can never produce negative recharge.
    Returns (r_soil, r_gw, q_fast); the three add up to ``water_input``.
    """
    room = torch.clamp(smmax - sm2, min=0.0)
    f_soil = alpha_rsoil * torch.clamp(room / torch.clamp(water_input, min=W_GUARD), max=1.0)
    r_soil = f_soil * water_input
    rest = (1.0 - f_soil) * water_input
    r_gw = alpha_rgw * rest
    q_fast = rest - r_gw
    return r_soil, r_gw, q_fast


def baseflow(gw_prev: Tensor, r_gw: Tensor, beta_baseflow: Tensor):
    """Linear-reservoir baseflow. Returns (q_base, gw)."""
    q_base = beta_baseflow * gw_prev
    return q_base, gw_prev - q_base + r_gw


# --- carbon cycle ---------------------------------------------------------------------------


def co2_gain(co2: Tensor, beta_co2: Tensor) -> Tensor:
    """CO2 * beta_CO2: the CO2 part of water-use efficiency (dimensionless)."""
    return co2 * beta_co2


def gross_primary_productivity(tr: Tensor, alpha_wue: Tensor, gain: Tensor) -> Tensor:
    """GPP = T * alpha_WUE * CO2 * beta_CO2 (paper Eq. 2) with ``gain = co2_gain(CO2, beta_CO2)``,
    gC m-2 d-1."""
    return tr * alpha_wue * gain


def autotrophic(gpp: Tensor, cue: Tensor):
    """Returns (npp, ra) with npp = gpp * cue."""
    npp = gpp * cue
    return npp, gpp - npp


def respiration_temperature_factor(tc: Tensor, q10: Tensor) -> Tensor:
    """Q10 ** ((Tc - 15) / 10): the temperature scaling of heterotrophic respiration."""
    return torch.pow(q10, (tc - RH_REFERENCE_TC) / 10.0)


def heterotrophic_respiration(tc: Tensor, rb: Tensor, q10: Tensor) -> Tensor:
    """Rh = Q10 ** ((Tc - 15) / 10) * Rb (paper Eq. 4)."""
    return respiration_temperature_factor(tc, q10) * rb


# --- forcing-only terms -----------------------------------------------------------------------


class ForcingTerms(NamedTuple):
    """The parts of a day's process model that depend only on forcing and global constants.

    They broadcast over any shape, so a caller may compute them for many days at once
    (``(days, cells)``) and hand :func:`day_step_terms` one day at a time.
    """

    tc_pos: Tensor  # max(Tc, 0), degC (drives melt)
    snowfall: Tensor  # beta_snow * P where Tc <= 0, mm d-1
    rainfall: Tensor  # P where Tc > 0, mm d-1
    rn_mm: Tensor  # available energy, mm d-1
    rh_factor: Tensor  # Q10 ** ((Tc - 15) / 10), 1
    co2_gain: Tensor  # CO2 * beta_CO2, 1


def forcing_terms(forcing: DayForcing, constants: Constants) -> ForcingTerms:
    tc = celsius(forcing.tair)
    return ForcingTerms(
        tc_pos=torch.clamp(tc, min=0.0),
        snowfall=snowfall_rate(forcing.prec, tc, constants.beta_snow),
        rainfall=rain(forcing.prec, tc),
        rn_mm=available_energy(forcing.rn),
        rh_factor=respiration_temperature_factor(tc, constants.q10),
        co2_gain=co2_gain(forcing.co2, constants.beta_co2),
    )


# --- one day ----------------------------------------------------------------------------------


def day_step(
    state: WaterState,
    forcing: DayForcing,
    params: DailyParams,
    static: StaticParams,
    constants: Constants,
) -> tuple[WaterState, dict[str, Tensor]]:
    """Advance the water and carbon cycle of every cell by one day.

    Returns the new water state and every flux and state of docs/cli/predict.md (except the
    learned parameters, which the caller already has).
    """
    return day_step_terms(state, forcing_terms(forcing, constants), params, static, constants)


def day_step_terms(
    state: WaterState,
    terms: ForcingTerms,
    params: DailyParams,
    static: StaticParams,
    constants: Constants,
) -> tuple[WaterState, dict[str, Tensor]]:
    """:func:`day_step` with the forcing-only terms already computed (see :class:`ForcingTerms`)."""
    melt = snowmelt(state.swe, terms.tc_pos, params.alpha_smelt)
    swe = snow_pack(state.swe, terms.snowfall, melt)
    rainfall = terms.rainfall
    ei, e1 = interception(rainfall, params.fapar, static.alpha_ei, terms.rn_mm)
    es, e2, sm1 = soil_evaporation(e1, state.sm, params.fapar, params.alpha_es)
    tr, sm2 = transpiration(e2, sm1, params.fapar, params.alpha_t)
    et = ei + es + tr
    water_input = rainfall + melt - ei
    r_soil, r_gw, q_fast = recharge(water_input, sm2, static.smmax, params.alpha_rsoil, params.alpha_rgw)
    sm = sm2 + r_soil
    q_base, gw = baseflow(state.gw, r_gw, constants.beta_baseflow)

    gpp = gross_primary_productivity(tr, params.alpha_wue, terms.co2_gain)
    npp, ra = autotrophic(gpp, params.cue)
    rh = terms.rh_factor * params.rb  # = Q10 ** ((Tc - 15) / 10) * Rb
    ter = ra + rh

    fluxes = {
        "swe": swe,
        "sm": sm,
        "gw": gw,
        "tws": swe + sm + gw,
        "snowfall": terms.snowfall,
        "rainfall": rainfall,
        "snowmelt": melt,
        "ei": ei,
        "es": es,
        "tr": tr,
        "et": et,
        "water_input": water_input,
        "r_soil": r_soil,
        "r_gw": r_gw,
        "q_fast": q_fast,
        "q_base": q_base,
        "runoff": q_fast + q_base,
        "gpp": gpp,
        "npp": npp,
        "ra": ra,
        "rh": rh,
        "ter": ter,
        "nep": gpp - ter,
        "nee": ter - gpp,
        "fapar": params.fapar,
    }
    return WaterState(swe, sm, gw), fluxes
