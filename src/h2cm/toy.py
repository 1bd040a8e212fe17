"""Small generated forcing for benchmarks, smoke runs and tests (no files needed).

Seasonal radiation and temperature from latitude, stochastic rain days, VPD from temperature and
a CO2 trend. Not the twin world (``h2cm synth``), just plausible inputs in physical units.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .schema import FORCING_KEYS


def toy_inputs(days: int, cells: int, n_static: int = 30, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(forcing (days, cells, 5) in the order of FORCING_KEYS, static (cells, n_static))."""
    g = torch.Generator().manual_seed(seed)
    lat = torch.rand(cells, generator=g) * 120.0 - 50.0
    doy = torch.arange(days, dtype=torch.float32).unsqueeze(1)
    season = torch.cos(2 * math.pi * (doy - 172.0) / 365.25) * torch.sign(lat + 1e-3)
    amp = (lat.abs() / 60.0).clamp(max=1.0)
    wet = torch.rand(days, cells, generator=g) < (0.25 + 0.2 * (1 - amp))
    prec = torch.where(wet, torch.distributions.Exponential(0.15).sample((days, cells)), torch.zeros(days, cells))
    cloud = wet.float() * 0.4
    rn = (60.0 + 80.0 * (1 - amp) + 90.0 * amp * season) * (1 - cloud) + 5 * torch.randn(days, cells, generator=g)
    tair = 273.15 + 26.0 - 30.0 * amp + 15.0 * amp * season + 3.0 * torch.randn(days, cells, generator=g)
    esat = 6.11 * torch.exp(17.27 * (tair - 273.15) / (tair - 35.85))
    vpd = esat * (0.2 + 0.5 * torch.rand(days, cells, generator=g)) * (1 - 0.6 * wet.float())
    co2 = 370.0 + 2.0 * doy / 365.25 + 3.0 * torch.sin(2 * math.pi * doy / 365.25)
    values = {"rn": rn, "prec": prec, "tair": tair, "vpd": vpd, "co2": co2.expand(days, cells)}
    forcing = torch.stack([values[k] for k in FORCING_KEYS], dim=-1).float()
    static = torch.randn(cells, n_static, generator=g)
    return forcing, static


def toy_model_statistics(forcing: Tensor, static: Tensor):
    """z-score statistics of toy inputs (for ``H2CM.set_normalization``)."""
    f = forcing.reshape(-1, forcing.shape[-1])
    return f.mean(0), f.std(0), static.mean(0), static.std(0)
