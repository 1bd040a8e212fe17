"""The process-model ensemble of the twin world (TRENDY-like), the ``process_ensemble`` product.

The world's own process equations (:func:`h2cm.physics.day_step`, as the truth runs them) with
globally constant daily parameters: :data:`N_MEMBERS` members, each constant drawn uniformly from
:data:`MEMBER_RANGES` (randomness ``numpy.random.default_rng([seed, 7])``); the product is the
ensemble median of the members' monthly means (:mod:`.products` writes it). Formulas and known
weaknesses: docs/data.md ("Products").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import torch

from ...physics import Constants, DailyParams, DayForcing, StaticParams, WaterState, day_step
from .observe import monthly_means
from .truth import WUE_REFERENCE_CO2

N_MEMBERS = 5
SPINUP_YEARS = 5  # the first five years (or the whole period if shorter) once, from empty storages
FAPAR_CAP = 0.95
# uniform ranges of each member's constants (order = order of the draws)
MEMBER_RANGES: dict[str, tuple[float, float]] = {
    "alpha_smelt": (2.0, 4.0),  # mm degC-1 d-1
    "alpha_rsoil": (0.6, 0.9),
    "alpha_rgw": (0.3, 0.6),
    "alpha_t": (0.5, 0.9),
    "alpha_es": (0.1, 0.3),
    "wue": (2.0, 4.0),  # gC per kg H2O at 380 ppm: alpha_wue = wue / (380 beta_co2)
    "cue": (0.35, 0.55),
    "q10": (1.4, 2.2),
    "beta_co2": (0.0008, 0.0016),  # ppm-1
    "beta_baseflow": (0.002, 0.008),  # d-1
    "beta_snow": (0.8, 1.0),
    "fapar_scale": (0.85, 1.15),  # x the truth's monthly fAPAR climatology of the cell
    "smmax_scale": (0.7, 1.3),  # x the truth's soil capacity of the cell
    "rb_balance": (0.9, 1.1),  # Rb = rb_balance x mean NPP / mean Q10 factor (steady-state soil)
}


@dataclass(frozen=True)
class Member:
    """The constants of one ensemble member (names and ranges: :data:`MEMBER_RANGES`)."""

    alpha_smelt: float
    alpha_rsoil: float
    alpha_rgw: float
    alpha_t: float
    alpha_es: float
    wue: float
    cue: float
    q10: float
    beta_co2: float
    beta_baseflow: float
    beta_snow: float
    fapar_scale: float
    smmax_scale: float
    rb_balance: float

    @property
    def alpha_wue(self) -> float:
        """gC kgH2O-1 ppm-1 per beta_CO2: WUE at the reference CO2 is ``wue``."""
        return self.wue / (WUE_REFERENCE_CO2 * self.beta_co2)


def draw_members(seed: int, n: int = N_MEMBERS) -> list[Member]:
    """``n`` members, each constant drawn uniformly from :data:`MEMBER_RANGES` (``[seed, 7]``)."""
    rng = np.random.default_rng([seed, 7])
    names = [f.name for f in fields(Member)]
    return [Member(**{k: float(rng.uniform(*MEMBER_RANGES[k])) for k in names}) for _ in range(n)]


def fapar_climatology(fapar_daily: np.ndarray, time: pd.DatetimeIndex) -> np.ndarray:
    """Mean fAPAR of each calendar month over all years, (12, cells), from daily (days, cells)."""
    months = pd.date_range(time[0], time[-1], freq="MS")
    mon = monthly_means(fapar_daily, time, months).astype(np.float64)
    moy = months.month.to_numpy() - 1
    return np.stack([np.nanmean(mon[moy == m], axis=0) for m in range(12)])


def run_members(
    forcing: Mapping[str, np.ndarray],
    smmax: np.ndarray,
    alpha_ei: np.ndarray,
    fapar_clim: np.ndarray,
    time: pd.DatetimeIndex,
    members: list[Member],
    period: np.ndarray | None = None,
    spinup_days: int | None = None,
) -> dict[str, np.ndarray]:
    """Run every member with :func:`h2cm.physics.day_step` for all cells at once (float64).

    forcing: ``rn prec tair co2`` as (days, cells); ``smmax``, ``alpha_ei`` (cells,) the truth's
    static parameters; ``fapar_clim`` (12, cells). Each member's daily parameters are its
    constants (fAPAR: ``min(fapar_scale x fapar_clim[calendar month], 0.95)``, soil capacity
    ``smmax_scale x smmax``). The first ``spinup_days`` (default :data:`SPINUP_YEARS` years, at
    most the period) are run once from empty storages, then the whole period from that state.

    ``period`` (days,) gives each day's output row (default: calendar months in order); returns
    the mean over each row's days of ``gpp npp ra rh ter nee`` as (rows, members, cells) and
    ``rb`` (members, cells): Rh = Q10^((T - 15) / 10) Rb with each cell's steady-state Rb,
    ``rb_balance`` x the mean NPP over the mean temperature factor of the whole period (Rb does
    not feed back on water or GPP, so it is set after the run).
    """
    t = pd.DatetimeIndex(time)
    n_days = len(t)
    if period is None:
        key = t.year.to_numpy() * 12 + t.month.to_numpy()
        period = np.unique(key, return_inverse=True)[1]
    period = np.asarray(period, dtype=np.int64)
    n_rows = int(period.max()) + 1
    spinup = min(n_days, SPINUP_YEARS * 365) if spinup_days is None else min(int(spinup_days), n_days)
    f = {k: torch.as_tensor(np.asarray(forcing[k]), dtype=torch.float64) for k in ("rn", "prec", "tair", "co2")}
    n = f["tair"].shape[1]

    def col(name: str) -> torch.Tensor:  # (members, 1)
        return torch.tensor([[getattr(m, name)] for m in members], dtype=torch.float64)

    const = Constants(col("q10"), col("beta_co2"), col("beta_baseflow"), col("beta_snow"))
    smmax_t = torch.as_tensor(np.asarray(smmax), dtype=torch.float64)
    sp = StaticParams(col("smmax_scale") * smmax_t, torch.as_tensor(np.asarray(alpha_ei), dtype=torch.float64))
    clim = torch.as_tensor(np.asarray(fapar_clim), dtype=torch.float64)  # (12, n)
    fapar_by_month = torch.clamp(col("fapar_scale")[None] * clim[:, None, :], 0.0, FAPAR_CAP)  # (12, K, n)
    moy = torch.as_tensor(t.month.to_numpy() - 1)
    fixed = {k: col(k) for k in ("alpha_smelt", "alpha_rsoil", "alpha_rgw", "alpha_t", "alpha_es", "cue")}
    fixed["alpha_wue"] = torch.tensor([[m.alpha_wue] for m in members], dtype=torch.float64)
    ones = torch.ones((len(members), 1), dtype=torch.float64)  # Rb = 1: the day's Rh is its Q10 factor
    zeros = torch.zeros((len(members), n), dtype=torch.float64)
    state = WaterState(zeros, zeros.clone(), zeros.clone())
    sums = {k: torch.zeros((n_rows, len(members), n), dtype=torch.float64) for k in ("gpp", "npp", "factor")}
    counts = torch.as_tensor(np.bincount(period, minlength=n_rows), dtype=torch.float64)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-day ops are small
    try:
        with torch.no_grad():
            for record, days in ((False, range(spinup)), (True, range(n_days))):
                for d in days:
                    day = DayForcing(f["rn"][d], f["prec"][d], f["tair"][d], f["co2"][d])
                    params = DailyParams(rb=ones, fapar=fapar_by_month[moy[d]], **fixed)
                    state, fl = day_step(state, day, params, sp, const)
                    if record:
                        p = int(period[d])
                        sums["gpp"][p] += fl["gpp"]
                        sums["npp"][p] += fl["npp"]
                        sums["factor"][p] += fl["rh"]
    finally:
        torch.set_num_threads(threads)
    total_npp, total_factor = sums["npp"].sum(0), sums["factor"].sum(0)
    rb = col("rb_balance") * total_npp / torch.clamp(total_factor, min=1e-12)
    mean = {k: (v / counts[:, None, None]) for k, v in sums.items()}
    out = {"gpp": mean["gpp"], "npp": mean["npp"], "ra": mean["gpp"] - mean["npp"], "rh": rb[None] * mean["factor"]}
    out["ter"] = out["ra"] + out["rh"]
    out["nee"] = out["ter"] - out["gpp"]
    res = {k: v.numpy() for k, v in out.items()}
    res["rb"] = rb.numpy()
    return res
