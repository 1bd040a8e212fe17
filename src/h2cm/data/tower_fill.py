"""Forcing of a flux tower: derived variables (VPD, net radiation, CO2) and the gap rules.

**Gap rules** (:func:`fill_gaps`, per forcing variable and site, after the derivations below):

1. a gap of at most ``max_linear_days`` consecutive days (default 5) is filled linearly in time
   between the measured days on either side (precipitation excepted: rain is not interpolated);
2. every other missing day (longer gaps, gaps at the ends, any precipitation gap) gets the site's
   mean seasonal cycle: the mean of that day of year over the site's measured days, smoothed with a
   31-day circular running mean (days of year with no data at all take the nearest smoothed value);
3. the filled fraction (days filled by 1 or 2 over days in the record) is recorded per variable; a
   calendar year whose filled fraction of ``tair``, ``rn``, ``vpd`` or ``prec`` exceeds
   ``max_filled`` (default 0.2) is dropped (:mod:`h2cm.data.towers`).

**VPD** (hPa), first available per day: the 24-h mean ``VPD_F``; else from TA and RH,
``es(TA) (1 - RH / 100)``; else the daytime mean ``VPD_F_DAY`` corrected to a 24-h mean: the
actual vapour pressure is taken constant over the day, ``ea = es(TA_DAY) - VPD_DAY``, and the
24-h mean VPD is the FAO-56 mean saturation vapour pressure minus it,
``(es(TMAX) + es(TMIN)) / 2 - ea`` (>= 0; Allen et al. 1998, FAO-56 eqs. 11-12); without TA_DAY or
TMIN/TMAX, ``0.8 VPD_DAY`` (the daytime mean is 1.1-1.3 times the 24-h mean at the FluxDataKit
sites). ``es(T) = 6.108 exp(17.27 T / (T + 237.3))`` hPa, T in degC.

**Net radiation** (W m-2): measured ``NETRAD`` where present; gaps (or all days) from
``a SW + b LW + c sigma T^4 + d`` fitted on the site's NETRAD days when LW exists
(:func:`fill_netrad`, the method of :mod:`h2cm.data.fluxnet`); where LW is absent, the FAO-56 daily net radiation
(:func:`fao56_net_radiation`, from SW, TMIN/TMAX, the actual vapour pressure, latitude and
elevation), calibrated to the site's NETRAD by a linear fit ``NETRAD = a Rn_FAO56 + b`` when the
site has at least 30 NETRAD days.

**CO2** (ppm): the tower's ``CO2_F_MDS``; gaps of up to ``max_linear_days`` linear; other days the
NOAA global annual mean (:func:`noaa_co2`) plus the site's median offset from it on its measured
days (0 without any). CO2 never causes a year to be dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

SIGMA_MJ = 4.903e-9  # MJ K-4 m-2 d-1 (FAO-56)
W_TO_MJ_DAY = 0.0864  # W m-2 -> MJ m-2 d-1
G_SC = 0.0820  # solar constant, MJ m-2 min-1
ALBEDO = 0.23  # FAO-56 reference surface
MIN_FIT_DAYS = 30
SMOOTH_DAYS = 31
CO2_FILE = "co2_global_annual.csv"
CO2_CITATION = (
    "Lan, X., Tans, P. and Thoning, K.W.: Trends in globally-averaged CO2 determined from NOAA Global "
    "Monitoring Laboratory measurements, doi:10.15138/9N0H-ZH07 (file co2_annmean_gl.txt, 2025-09-05)"
)


def es_hpa(t_c):
    """Saturation vapour pressure (hPa) at ``t_c`` degC (Tetens, FAO-56 eq. 11)."""
    t = np.asarray(t_c, dtype=np.float64)
    return 6.108 * np.exp(17.27 * t / (t + 237.3))


def derive_vpd(d: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """24-h mean VPD (hPa) from the canonical table and the number of days from each source."""
    vpd = d["VPD"].to_numpy(copy=True)
    used = {"VPD_F": int(np.isfinite(vpd).sum())}
    rh = (es_hpa(d["TA"]) * (1.0 - d["RH"].clip(0, 100) / 100.0)).to_numpy()
    take = ~np.isfinite(vpd) & np.isfinite(rh)
    vpd[take] = rh[take]
    used["TA+RH"] = int(take.sum())
    ea = es_hpa(d["TA_DAY"]) - d["VPD_DAY"]
    day = ((es_hpa(d["TMAX"]) + es_hpa(d["TMIN"])) / 2.0 - ea).clip(lower=0.0).to_numpy()
    take = ~np.isfinite(vpd) & np.isfinite(day)
    vpd[take] = day[take]
    used["VPD_F_DAY (FAO-56 correction)"] = int(take.sum())
    crude = 0.8 * d["VPD_DAY"].to_numpy()
    take = ~np.isfinite(vpd) & np.isfinite(crude)
    vpd[take] = crude[take]
    used["0.8 VPD_F_DAY"] = int(take.sum())
    return vpd, {k: v for k, v in used.items() if v}


def fao56_net_radiation(sw_wm2, tmin_c, tmax_c, ea_hpa, doy, lat_deg: float, elevation_m: float) -> np.ndarray:
    """Daily net radiation (W m-2) by FAO-56 (Allen et al. 1998, eqs. 21-25, 37-39): net shortwave
    ``(1 - 0.23) Rs`` minus net longwave ``sigma (Tmax^4 + Tmin^4) / 2 (0.34 - 0.14 sqrt(ea))
    (1.35 Rs / Rso - 0.35)``, ``Rso = (0.75 + 2e-5 z) Ra``; ``Rs / Rso`` is clipped to [0.25, 1] and
    taken as 0.5 where ``Rso`` is below 0.5 MJ m-2 d-1 (polar night)."""
    rs = np.asarray(sw_wm2, dtype=np.float64) * W_TO_MJ_DAY
    j = np.asarray(doy, dtype=np.float64)
    phi = np.deg2rad(lat_deg)
    dr = 1.0 + 0.033 * np.cos(2 * np.pi * j / 365.0)
    delta = 0.409 * np.sin(2 * np.pi * j / 365.0 - 1.39)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(delta), -1.0, 1.0))
    ra = 24 * 60 / np.pi * G_SC * dr * (ws * np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.sin(ws))
    rso = (0.75 + 2e-5 * elevation_m) * np.maximum(ra, 0.0)
    ratio = np.where(rso > 0.5, np.clip(rs / np.maximum(rso, 1e-9), 0.25, 1.0), 0.5)
    tk4 = ((np.asarray(tmax_c) + 273.16) ** 4 + (np.asarray(tmin_c) + 273.16) ** 4) / 2.0
    ea_kpa = np.clip(np.asarray(ea_hpa, dtype=np.float64) / 10.0, 0.0, None)
    rnl = SIGMA_MJ * tk4 * (0.34 - 0.14 * np.sqrt(ea_kpa)) * (1.35 * ratio - 0.35)
    return ((1.0 - ALBEDO) * rs - rnl) / W_TO_MJ_DAY


@dataclass
class RadiationInfo:
    method: str
    coef: tuple[float, ...]
    r2: float
    n_fit: int
    n_filled: int


SIGMA = 5.670374419e-8  # W m-2 K-4
MIN_FIT_DAYS = 30
DEFAULT_RN_COEF = (0.77, 1.0, -0.98, 0.0)


@dataclass
class NetradFill:
    coef: tuple[float, float, float, float]
    r2: float
    n_fit: int
    n_filled: int


def fill_netrad(df: pd.DataFrame) -> tuple[np.ndarray, NetradFill]:
    """NETRAD with gaps filled from SW_IN_F, LW_IN_F and TA_F (method in the module docstring)."""
    tk4 = SIGMA * (df["TA_F"].to_numpy() + 273.15) ** 4
    x = np.stack([df["SW_IN_F"].to_numpy(), df["LW_IN_F"].to_numpy(), tk4, np.ones(len(df))], axis=1)
    rn = df["NETRAD"].to_numpy() if "NETRAD" in df else np.full(len(df), np.nan)
    ok = np.isfinite(rn) & np.isfinite(x).all(axis=1)
    if ok.sum() >= MIN_FIT_DAYS:
        coef, *_ = np.linalg.lstsq(x[ok], rn[ok], rcond=None)
        pred = x[ok] @ coef
        r2 = 1.0 - float(np.sum((rn[ok] - pred) ** 2) / np.sum((rn[ok] - rn[ok].mean()) ** 2))
    else:
        coef, r2 = np.asarray(DEFAULT_RN_COEF), float("nan")
    gaps = ~np.isfinite(rn)
    filled = rn.copy()
    filled[gaps] = x[gaps] @ coef
    info = NetradFill(tuple(float(c) for c in coef), r2, int(ok.sum()), int((gaps & np.isfinite(filled)).sum()))
    return filled, info


def derive_rn(d: pd.DataFrame, vpd: np.ndarray, lat: float, elevation: float) -> tuple[np.ndarray, RadiationInfo]:
    """Net radiation (W m-2) and how it was made (module docstring)."""
    rn = d["NETRAD"].to_numpy(copy=True)
    if d["LW"].notna().mean() >= 0.5:
        legacy = pd.DataFrame({"TA_F": d["TA"], "SW_IN_F": d["SW"], "LW_IN_F": d["LW"], "NETRAD": d["NETRAD"]})
        filled, f = fill_netrad(legacy)
        return filled, RadiationInfo("NETRAD, gaps from SW/LW/TA fit", f.coef, f.r2, f.n_fit, f.n_filled)
    tmin = d["TMIN"].fillna(d["TA"]).to_numpy()
    tmax = d["TMAX"].fillna(d["TA"]).to_numpy()
    ea = es_hpa(d["TA"].to_numpy()) - vpd
    est = fao56_net_radiation(d["SW"], tmin, tmax, ea, d.index.day_of_year, lat, elevation)
    ok = np.isfinite(rn) & np.isfinite(est)
    coef, r2, method = (1.0, 0.0), float("nan"), "FAO-56 from SW, TMIN/TMAX, VPD, latitude, elevation"
    if ok.sum() >= MIN_FIT_DAYS:
        a, b = np.polyfit(est[ok], rn[ok], 1)
        coef = (float(a), float(b))
        pred = a * est[ok] + b
        r2 = 1.0 - float(np.sum((rn[ok] - pred) ** 2) / np.sum((rn[ok] - rn[ok].mean()) ** 2))
        method = "NETRAD, gaps from FAO-56 calibrated to the site's NETRAD"
    gaps = ~np.isfinite(rn)
    rn[gaps] = coef[0] * est[gaps] + coef[1]
    return rn, RadiationInfo(method, coef, r2, int(ok.sum()), int((gaps & np.isfinite(rn)).sum()))


def seasonal_cycle(values: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """The mean seasonal cycle (366 values, day of year 1..366) of ``values``, smoothed with a
    31-day circular running mean; NaN only when ``values`` has no finite value."""
    s = pd.Series(values).groupby(np.minimum(doy, 366)).mean().reindex(range(1, 367))
    v = s.to_numpy()
    ok = np.isfinite(v).astype(np.float64)
    k = np.ones(SMOOTH_DAYS)
    pad = SMOOTH_DAYS // 2

    def circ(x):
        xx = np.concatenate([x[-pad:], x, x[:pad]])
        return np.convolve(xx, k, mode="valid")

    num, den = circ(np.nan_to_num(v)), circ(ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        sm = num / den
    if not np.isfinite(sm).any():
        return sm
    return pd.Series(sm).interpolate(limit_direction="both").to_numpy()


def _short_linear(v: pd.Series, max_linear_days: int) -> pd.Series:
    """Values linearly interpolated over inner gaps of at most ``max_linear_days`` days (NaN elsewhere)."""
    run_id = (~v.isna()).cumsum()
    run_len = v.isna().groupby(run_id).transform("sum")
    inner = v.interpolate(limit_area="inside")
    return inner.where(v.isna() & (run_len <= max_linear_days))


def fill_gaps(values: np.ndarray, doy: np.ndarray, max_linear_days: int, linear: bool = True):
    """``values`` with gaps filled (module docstring) and the boolean mask of filled days."""
    v = pd.Series(np.asarray(values, dtype=np.float64))
    gap = v.isna().to_numpy()
    if not gap.any():
        return v.to_numpy(copy=True), gap
    out = v.copy()
    if linear and max_linear_days > 0:
        out = out.fillna(_short_linear(v, max_linear_days))
    rest = out.isna().to_numpy()
    if rest.any():
        msc = seasonal_cycle(v.to_numpy(), doy)
        out[rest] = msc[np.minimum(doy[rest], 366) - 1]
    return out.to_numpy(copy=True), gap & np.isfinite(out.to_numpy())


@lru_cache(maxsize=1)
def noaa_annual() -> pd.Series:
    """NOAA GML global annual mean CO2 (ppm) by year, shipped with the package (:data:`CO2_CITATION`)."""
    with resources.files("h2cm.data").joinpath(CO2_FILE).open() as f:
        t = pd.read_csv(f)
    return pd.Series(t["co2_ppm"].to_numpy(np.float64), index=t["year"].to_numpy())


def noaa_co2(time: pd.DatetimeIndex) -> np.ndarray:
    """Daily CO2 (ppm): the annual means placed at 1 July, linear between them, the first/last
    year's trend continued beyond the record."""
    a = noaa_annual()
    x = a.index.to_numpy() + 0.5
    t = time.year.to_numpy() + (time.day_of_year.to_numpy() - 0.5) / 365.25
    y = np.interp(t, x, a.to_numpy())
    lo, hi = t < x[0], t > x[-1]
    y[lo] = a.iloc[0] + (t[lo] - x[0]) * (a.iloc[1] - a.iloc[0])
    y[hi] = a.iloc[-1] + (t[hi] - x[-1]) * (a.iloc[-1] - a.iloc[-2])
    return y


def fill_co2(co2: np.ndarray, time: pd.DatetimeIndex, max_linear_days: int) -> tuple[np.ndarray, np.ndarray, float]:
    """CO2 with gaps filled (module docstring), the filled mask and the site offset from NOAA."""
    v = pd.Series(np.asarray(co2, dtype=np.float64))
    base = noaa_co2(time)
    ok = v.notna().to_numpy()
    offset = float(np.median(v.to_numpy()[ok] - base[ok])) if ok.any() else 0.0
    out = v.fillna(_short_linear(v, max_linear_days)) if max_linear_days > 0 else v.copy()
    out = out.to_numpy(copy=True)
    rest = ~np.isfinite(out)
    out[rest] = base[rest] + offset
    return out, ~ok, offset
