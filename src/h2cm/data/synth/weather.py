"""A vectorised daily weather generator for the twin world (numpy over cells x days).

Every formula, constant and noise level is listed in docs/data.md ("Weather"). Arrays are
``(days, cells)``; loops run over days only (never over cells). Spatially coherent weather comes
from anomaly series on a coarse 10-degree grid (:class:`LargeScale`), shared by every block of
a world and interpolated bilinearly to the cells; local noise is added per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

COARSE_DEG = 10.0
SIGMA_SB = 4.903e-9  # MJ K-4 m-2 d-1
MJ_PER_DAY_TO_W = 1e6 / 86400.0
LAPSE_RATE = 0.0065  # K m-1


def ar1(rng: np.random.Generator, n_days: int, n: int, rho: float) -> np.ndarray:
    """Unit-variance AR(1) series ``x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t``, shape (days, n)."""
    e = rng.standard_normal((n_days, n), dtype=np.float32)
    out = np.empty_like(e)
    out[0] = e[0]
    s = np.float32(np.sqrt(1.0 - rho**2))
    rho32 = np.float32(rho)
    for t in range(1, n_days):
        out[t] = rho32 * out[t - 1] + s * e[t]
    return out


def _coarse_axes(step: float = COARSE_DEG) -> tuple[np.ndarray, np.ndarray]:
    lat = 90.0 - step / 2 - step * np.arange(int(180 / step))
    lon = -180.0 + step / 2 + step * np.arange(int(360 / step))
    return lat, lon


def _bilinear(lat: np.ndarray, lon: np.ndarray, step: float = COARSE_DEG):
    """Four coarse-grid neighbours (flat indices) and weights of each point; longitude wraps."""
    clat, clon = _coarse_axes(step)
    nlat, nlon = len(clat), len(clon)
    fi = np.clip((clat[0] - np.asarray(lat)) / step, 0, nlat - 1)
    fj = (np.asarray(lon) - clon[0]) / step
    i0 = np.clip(np.floor(fi).astype(int), 0, nlat - 2)
    wi = fi - i0
    j0 = np.floor(fj).astype(int)
    wj = fj - j0
    j0 %= nlon
    j1 = (j0 + 1) % nlon
    idx = np.stack([i0 * nlon + j0, i0 * nlon + j1, (i0 + 1) * nlon + j0, (i0 + 1) * nlon + j1])
    w = np.stack([(1 - wi) * (1 - wj), (1 - wi) * wj, wi * (1 - wj), wi * wj]).astype(np.float32)
    return idx, w


def smooth_field(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, step: float = COARSE_DEG) -> np.ndarray:
    """A spatially smooth standard-normal-ish random field at points (lat, lon)."""
    clat, clon = _coarse_axes(step)
    coarse = rng.standard_normal(len(clat) * len(clon))
    idx, w = _bilinear(lat, lon, step)
    v = (coarse[idx] * w).sum(0)
    return v / np.sqrt((w**2).sum(0))  # restore unit variance lost by averaging


@dataclass
class LargeScale:
    """Anomaly series (days, coarse points) shared by all blocks of a world (unit variance)."""

    t_fast: np.ndarray  # temperature, synoptic (rho 0.8)
    t_slow: np.ndarray  # temperature, seasonal-interannual (rho 0.99)
    p_fast: np.ndarray  # rain occurrence, synoptic (rho 0.5)
    p_slow: np.ndarray  # rain amount and frequency, interannual (rho 0.995)

    @classmethod
    def generate(cls, n_days: int, seed: int) -> LargeScale:
        rng = np.random.default_rng([seed, 1])
        clat, clon = _coarse_axes()
        n = len(clat) * len(clon)
        return cls(
            ar1(rng, n_days, n, 0.8), ar1(rng, n_days, n, 0.99), ar1(rng, n_days, n, 0.5), ar1(rng, n_days, n, 0.995)
        )

    def at(self, name: str, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Series ``name`` interpolated to the points, (days, points), rescaled to unit variance."""
        field = getattr(self, name)
        idx, w = _bilinear(lat, lon)
        out = field[:, idx[0]] * w[0] + field[:, idx[1]] * w[1] + field[:, idx[2]] * w[2] + field[:, idx[3]] * w[3]
        return out / np.sqrt((w**2).sum(0))


# --- climatology --------------------------------------------------------------------------------


def annual_mean_temperature(lat, elevation, continentality) -> np.ndarray:
    """degC: warm tropics, cold poles, colder continental interiors, lapse rate 6.5 K/km."""
    s = np.abs(np.sin(np.radians(lat)))
    return 29.0 - 36.0 * s**2.5 - 10.0 * np.asarray(continentality) ** 3 * s**2 - LAPSE_RATE * np.asarray(elevation)


def temperature_amplitude(lat, continentality) -> np.ndarray:
    """Half the annual range (K): grows with latitude and continentality."""
    s = np.abs(np.sin(np.radians(lat)))
    return 1.0 + 24.0 * s**1.5 * (0.15 + np.asarray(continentality) ** 1.5)


def rain_belt_latitude(doy: np.ndarray) -> np.ndarray:
    """Latitude of the migrating tropical rain belt: about 12N in July, 15S in January."""
    return -1.5 + 13.5 * np.sin(2 * np.pi * (doy - 105.0) / 365.25)


def precipitation_climatology(lat, doy, continentality, elevation_std, wetness) -> np.ndarray:
    """Mean precipitation (mm d-1) of each day of year, (days, cells).

    Tropical rain belt (8.5 mm d-1 peak, 7.5 degrees wide) + a permanent equatorial part + a
    mid-latitude storm track, all damped in the dry subtropics (about 26 degrees) and the
    storm track also in continental interiors; ``wetness`` is a smooth regional multiplier.
    """
    lat = np.asarray(lat)[None, :]
    doy = np.asarray(doy, dtype=np.float64)[:, None]
    cont = np.asarray(continentality)[None, :]
    belt = 8.5 * np.exp(-((lat - rain_belt_latitude(doy)) ** 2) / (2 * 7.5**2))
    equatorial = 3.0 * np.exp(-(lat**2) / (2 * 6.0**2))
    winter_doy = np.where(lat >= 0, 15.0, 197.0)
    seasonal = 1.0 + 0.3 * (1.0 - 2.0 * cont) * np.cos(2 * np.pi * (doy - winter_doy) / 365.25)
    storm = 3.0 * np.exp(-((np.abs(lat) - 50.0) ** 2) / (2 * 14.0**2)) * (1.0 - 0.45 * cont) * seasonal
    subtropics = 1.0 - 0.85 * np.exp(-((np.abs(lat) - 26.0) ** 2) / (2 * 4.5**2))
    orography = 1.0 + 0.0004 * np.asarray(elevation_std)[None, :]
    return (belt + equatorial + storm) * subtropics * orography * np.asarray(wetness)[None, :]


def extraterrestrial_radiation(lat, doy) -> np.ndarray:
    """Daily top-of-atmosphere shortwave (MJ m-2 d-1), FAO-56 eq. 21, (days, cells)."""
    phi = np.radians(np.asarray(lat))[None, :]
    doy = np.asarray(doy, dtype=np.float64)[:, None]
    decl = 0.409 * np.sin(2 * np.pi * doy / 365.0 - 1.39)
    dr = 1.0 + 0.033 * np.cos(2 * np.pi * doy / 365.0)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(decl), -1.0, 1.0))
    ra = 37.586 * dr * (ws * np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.sin(ws))
    return np.clip(ra, 0.0, None)


def saturation_vapour_pressure(tc: np.ndarray) -> np.ndarray:
    """kPa (FAO-56 eq. 11)."""
    return 0.6108 * np.exp(17.27 * tc / (tc + 237.3))


def co2_series(time: pd.DatetimeIndex, lat: np.ndarray) -> np.ndarray:
    """ppm: 371 in 2001, rising about 2 ppm per year (slightly accelerating), with a seasonal
    cycle peaking in May whose amplitude grows northwards (1 ppm in the south, 7 ppm in the
    north)."""
    years = np.asarray((time - pd.Timestamp("2001-01-01")).days, dtype=np.float64)[:, None] / 365.25
    doy = np.asarray(time.day_of_year, dtype=np.float64)[:, None]
    amp = 1.0 + 6.0 * np.clip(np.sin(np.radians(np.asarray(lat))), 0.0, None)[None, :]
    return 371.0 + 1.9 * years + 0.012 * years**2 + amp * np.cos(2 * np.pi * (doy - 135.0) / 365.25)


# --- the generator ------------------------------------------------------------------------------


@dataclass
class CellClimate:
    """What the generator needs to know about each cell, (cells,) arrays."""

    lat: np.ndarray
    lon: np.ndarray
    elevation: np.ndarray  # m
    elevation_std: np.ndarray  # m
    continentality: np.ndarray  # 1
    wetness: np.ndarray  # 1, smooth multiplier of mean precipitation
    bare: np.ndarray  # 1, barren + sparse fraction (raises albedo)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return torch.special.ndtr(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()


def generate_weather(
    time: pd.DatetimeIndex, cells: CellClimate, large: LargeScale, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Daily rn (W m-2), prec (mm d-1), tair (K), vpd (hPa), co2 (ppm) for every cell,
    plus the diagnostic cloud fraction. All (days, cells) float32."""
    n_days, n = len(time), len(cells.lat)
    doy = np.asarray(time.day_of_year, dtype=np.float64)
    lat, lon = cells.lat, cells.lon

    # precipitation: occurrence from a latent Gaussian (large-scale + local), gamma amounts
    p_clim = precipitation_climatology(lat, doy, cells.continentality, cells.elevation_std, cells.wetness)
    slow = large.at("p_slow", lat, lon)
    p_mean = p_clim * np.exp(0.35 * slow - 0.35**2 / 2)
    p_wet = np.clip(1.0 - np.exp(-p_mean / 3.5), 0.005, 0.85)
    latent = 0.6 * large.at("p_fast", lat, lon) + 0.8 * ar1(rng, n_days, n, 0.4)
    wet = _normal_cdf(latent) < p_wet
    shape = 0.75
    amount = rng.gamma(shape, 1.0, size=(n_days, n)) * (p_mean / p_wet / shape)
    prec = np.where(wet, amount, 0.0)

    # temperature: climatology + lapse rate + persistent anomalies, wet days cooler
    amp = temperature_amplitude(lat, cells.continentality)[None, :]
    phase = np.where(lat >= 0, 200.0, 17.0)[None, :]
    t_clim = annual_mean_temperature(lat, cells.elevation, cells.continentality)[None, :] + amp * np.cos(
        2 * np.pi * (doy[:, None] - phase) / 365.25
    )
    sigma = 1.0 + 3.0 * np.abs(np.sin(np.radians(lat)))[None, :]
    anomaly = sigma * (
        0.7 * large.at("t_fast", lat, lon) + 0.5 * large.at("t_slow", lat, lon) + 0.5 * ar1(rng, n_days, n, 0.6)
    )
    tc = t_clim + anomaly - 1.0 * wet

    # clouds, humidity, radiation (FAO-56 net radiation with an albedo that brightens with snow)
    wet_climate = 1.0 - np.exp(-p_mean / 4.0)
    cloud = np.clip(0.1 + 0.45 * wet + 0.35 * wet_climate + 0.08 * rng.standard_normal((n_days, n)), 0.0, 1.0)
    rh = np.clip(
        0.3 + 0.45 * (1.0 - np.exp(-p_mean / 2.5)) + 0.2 * wet + 0.05 * rng.standard_normal((n_days, n)), 0.08, 0.98
    )
    es = saturation_vapour_pressure(tc)
    ea = rh * es
    vpd = (es - ea) * 10.0
    ra = extraterrestrial_radiation(lat, doy)
    rso = (0.75 + 2e-5 * cells.elevation[None, :]) * ra
    rs = rso * (1.0 - 0.65 * cloud)
    base_albedo = 0.17 + 0.15 * cells.bare[None, :]
    snowy = 1.0 / (1.0 + np.exp((tc + 1.0) / 1.5))
    albedo = base_albedo + (0.65 - base_albedo) * snowy
    rns = (1.0 - albedo) * rs
    ratio = np.where(rso > 0.1, np.clip(rs / np.maximum(rso, 1e-6), 0.25, 1.0), 0.5)
    tk = tc + 273.15
    rnl = SIGMA_SB * tk**4 * (0.34 - 0.14 * np.sqrt(ea)) * (1.35 * ratio - 0.35)
    rn = (rns - rnl) * MJ_PER_DAY_TO_W

    co2 = co2_series(time, lat)
    out = {"rn": rn, "prec": prec, "tair": tk, "vpd": vpd, "co2": co2, "cloud": cloud}
    return {k: np.ascontiguousarray(np.broadcast_to(v, (n_days, n)), dtype=np.float32) for k, v in out.items()}
