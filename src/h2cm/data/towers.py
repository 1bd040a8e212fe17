"""Flux towers -> one cube, one cell per site (``h2cm import-towers FILE... --out CUBE``).

Every file is read by :func:`h2cm.data.tower_read.read_tower` (FLUXNET2015 DD/HH/HR, ONEFlux
FLUXNET-format, FluxDataKit daily), its forcing derived and gap-filled by
:mod:`h2cm.data.tower_fill`, its constraints quality-filtered here:

* ``et`` = ``LE_F_MDS x 86400 / 2.45e6`` (mm d-1) on days with ``LE_F_MDS_QC >= min_qc``;
  ``nee``, ``gpp`` (``GPP_NT_<variant>_REF``, else the daytime partitioning) and the evaluation-only
  ``reco`` (``RECO_NT``, else ``RECO_DT``, else FluxDataKit's ``RECO_GPP_PLUS_NEE``) on days with
  ``NEE_<variant>_REF_QC >= min_qc`` (GPP and RECO are partitioned from NEE and carry its QC).
  A QC column that is absent filters nothing. ``fapar`` = ``FPAR`` where present (FluxDataKit's
  smoothed MODIS fPAR). Monthly means need half of a month's days; the daily series are kept as
  ``et_daily``, ``gpp_daily``, ``nee_daily``, ``reco_daily`` (evaluation). A site without GPP is
  constrained by NEE and ET; one without LE by carbon only; a flux no site has is not in the cube.
* Coordinates (and elevation, used by the FAO-56 radiation): ``--lat/--lon`` (one file), else a
  ``--sites`` CSV (``site,lat,lon[,elevation]``), else the table shipped with the package
  (:func:`site_table`). Without an elevation, the 1-degree cell's mean elevation is used.
* Grid: the sites sorted by latitude (north first) and longitude; the cube is the grid of their
  latitudes x longitudes with ``land_mask = 1`` only at the sites, so cell k (row-major order)
  is the k-th site of the global attribute ``h2cm_sites``. The time axis is the union of the
  records; outside its own record a site's forcing is its mean seasonal cycle (CO2: NOAA) and its
  fluxes are missing, so it only spins the model up.
* A calendar year with more than ``max_filled`` of ``tair``, ``rn``, ``vpd`` or ``prec`` filled is
  dropped: at the ends of a record it is cut off; inside, its fluxes are removed (the forcing
  stays, filled, so the days stay continuous). Each dropped year is printed with the variable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd

from ..physics import LATENT_HEAT
from ..schema import STATIC_FEATURE_KEYS
from .tower_fill import derive_rn, derive_vpd, fill_co2, fill_gaps, seasonal_cycle
from .tower_read import TowerFileError, TowerRecord

LE_TO_MM = 86400.0 / (LATENT_HEAT * 1e6)  # (W m-2) -> (mm d-1)
FORCING = ("rn", "prec", "tair", "vpd", "co2")
DROP_VARS = ("tair", "rn", "vpd", "prec")
FLUXES = {"et": "LE", "gpp": "GPP", "nee": "NEE", "reco": "RECO"}
SITES_FILE = "sites.csv"


@dataclass(frozen=True)
class SiteInfo:
    site: str
    lat: float
    lon: float
    elevation: float | None = None
    source: str = ""


@dataclass
class TowerOptions:
    min_qc: float = 0.5
    max_linear_days: int = 5
    max_filled: float = 0.2
    variant: str | None = None


@dataclass
class PreparedSite:
    info: SiteInfo
    record: TowerRecord
    time: pd.DatetimeIndex
    forcing: dict[str, np.ndarray]
    fluxes: dict[str, np.ndarray]  # daily, quality-filtered, NaN in dropped years
    fapar: np.ndarray | None
    report: dict[str, object] = field(default_factory=dict)


def site_table(path: str | os.PathLike | None = None) -> dict[str, SiteInfo]:
    """Site coordinates: the package's table, updated by the CSV ``path`` (``site,lat,lon[,elevation]``)."""
    with resources.files("h2cm.data").joinpath(SITES_FILE).open() as f:
        table = {r.site: SiteInfo(r.site, r.lat, r.lon, r.elevation, r.source) for r in pd.read_csv(f).itertuples()}
    if path is not None:
        user = pd.read_csv(path)
        missing = [c for c in ("site", "lat", "lon") if c not in user.columns]
        if missing:
            raise TowerFileError(f"{path}: missing column(s) {missing}; expected a CSV with site,lat,lon[,elevation]")
        for r in user.to_dict("records"):
            elev = r.get("elevation")
            elev = float(elev) if elev is not None and np.isfinite(elev) else None
            table[str(r["site"])] = SiteInfo(str(r["site"]), float(r["lat"]), float(r["lon"]), elev, str(path))
    return table


def resolve_site(record: TowerRecord, table: dict[str, SiteInfo], lat=None, lon=None) -> SiteInfo:
    name = record.site or record.path.stem
    if lat is not None and lon is not None:
        known = table.get(name)
        return SiteInfo(name, float(lat), float(lon), known.elevation if known else None, "--lat/--lon")
    if name not in table:
        raise TowerFileError(
            f"{record.path}: coordinates of site {record.site!r} unknown; pass --lat and --lon, "
            "or --sites CSV (columns site,lat,lon[,elevation])"
        )
    return table[name]


def _static(infos: Sequence[SiteInfo]) -> np.ndarray:
    """The 30 twin-world static features of the 1-degree cell holding each site ``(N, F)``."""
    from .geography import load_geography
    from .synth.world import static_features

    feats = static_features(load_geography(), seed=0)
    rows = []
    for s in infos:
        i = int(np.clip(np.floor(90.0 - s.lat), 0, 179))
        j = int(np.clip(np.floor(s.lon + 180.0), 0, 359))
        rows.append([feats[k][i, j] for k in STATIC_FEATURE_KEYS])
    return np.asarray(rows, dtype=np.float32)


def _check_drivers(r: TowerRecord) -> None:
    d, p = r.daily, r.path
    for key, col, what in (("TA", "TA_F", "air temperature, degC"), ("P", "P_F", "precipitation, mm d-1")):
        if not d[key].notna().any():
            raise TowerFileError(f"{p}: column {col} missing or empty; expected daily {what}")
    if not d["SW"].notna().any() and not d["NETRAD"].notna().any():
        raise TowerFileError(f"{p}: columns SW_IN_F and NETRAD missing or empty; expected radiation in W m-2")
    if not (d["VPD"].notna().any() or d["VPD_DAY"].notna().any() or d["RH"].notna().any()):
        raise TowerFileError(f"{p}: columns VPD_F, VPD_F_DAY and RH missing or empty; expected VPD in hPa or RH in %")
    if not (d["NEE"].notna().any() or d["LE"].notna().any()):
        raise TowerFileError(
            f"{p}: columns NEE_{r.variant}_REF and LE_F_MDS missing or empty; expected at least one flux to train on"
        )


def _qc(values: pd.Series, qc: pd.Series, min_qc: float) -> np.ndarray:
    v = values.to_numpy(copy=True)
    if min_qc > 0 and qc.notna().any():
        v[~(qc.to_numpy() >= min_qc)] = np.nan
    return v


def _drop_years(time: pd.DatetimeIndex, filled: dict[str, np.ndarray], limit: float) -> dict[int, str]:
    """Years whose filled fraction of a forcing in :data:`DROP_VARS` exceeds ``limit`` -> message."""
    out = {}
    for year in np.unique(time.year):
        sel = np.asarray(time.year == year)
        worst = max(DROP_VARS, key=lambda k: filled[k][sel].mean())
        frac = float(filled[worst][sel].mean())
        if frac > limit:
            out[int(year)] = f"{frac:.0%} of {worst} filled (limit {limit:.0%})"
    return out


def prepare_site(record: TowerRecord, info: SiteInfo, opts: TowerOptions, elevation: float) -> PreparedSite:
    """Forcing (derived, gap-filled), quality-filtered daily fluxes and the report of one site."""
    _check_drivers(record)
    d = record.daily
    doy = d.index.day_of_year.to_numpy()
    vpd, vpd_sources = derive_vpd(d)
    ta_filled, _ = fill_gaps(d["TA"].to_numpy(), doy, opts.max_linear_days)
    vpd_filled, vpd_gap = fill_gaps(vpd, doy, opts.max_linear_days)
    dd = d.assign(TA=ta_filled)
    rn, rad = derive_rn(dd, vpd_filled, info.lat, elevation)
    forcing, filled = {}, {}
    for key, raw, linear in (("rn", rn, True), ("prec", d["P"].to_numpy(), False), ("tair", d["TA"].to_numpy(), True)):
        forcing[key], filled[key] = fill_gaps(raw, doy, opts.max_linear_days, linear=linear)
    forcing["tair"] = forcing["tair"] + 273.15
    forcing["vpd"], filled["vpd"] = np.maximum(vpd_filled, 0.0), vpd_gap
    forcing["co2"], filled["co2"], co2_offset = fill_co2(d["CO2"].to_numpy(), d.index, opts.max_linear_days)
    fluxes = {
        "et": _qc(d["LE"], d["LE_QC"], opts.min_qc) * LE_TO_MM,
        "nee": _qc(d["NEE"], d["NEE_QC"], opts.min_qc),
        "gpp": _qc(d["GPP"], d["NEE_QC"], opts.min_qc),
        "reco": _qc(d["RECO"], d["NEE_QC"], opts.min_qc),
    }
    dropped = _drop_years(d.index, filled, opts.max_filled)
    keep = np.ones(len(d), dtype=bool)
    years = sorted(set(d.index.year))
    for edge in (years, years[::-1]):  # cut dropped years off the ends of the record
        for y in edge:
            if y not in dropped:
                break
            keep &= np.asarray(d.index.year != y)
    if not keep.any():
        raise TowerFileError(f"{record.path}: every year has too much filled forcing ({dropped}); nothing left")
    for y in dropped:
        sel = np.asarray(d.index.year == y)
        for v in fluxes.values():
            v[sel] = np.nan
    report = {
        "site": info.site,
        "file": record.path.name,
        "family": record.family,
        "variant": record.variant,
        "lat": info.lat,
        "lon": info.lon,
        "elevation": elevation,
        "coordinates_from": info.source,
        "period": [str(d.index[keep][0].date()), str(d.index[keep][-1].date())],
        "filled_fraction": {k: round(float(filled[k][keep].mean()), 4) for k in FORCING},
        "vpd_sources": vpd_sources,
        "rn_method": rad.method,
        "rn_coefficients": [round(c, 6) for c in rad.coef],
        "rn_r2": None if not np.isfinite(rad.r2) else round(rad.r2, 4),
        "rn_days_fitted": rad.n_fit,
        "rn_days_estimated": rad.n_filled,
        "co2_offset_from_noaa": round(co2_offset, 2),
        "dropped_years": dropped,
        "fluxes": [k for k, v in fluxes.items() if np.isfinite(v[keep]).any()],
        "columns": record.columns,
    }
    report["_rad"] = rad
    fapar = d["FPAR"].to_numpy()[keep] if d["FPAR"].notna().any() else None
    return PreparedSite(
        info,
        record,
        pd.DatetimeIndex(d.index[keep]),
        {k: v[keep] for k, v in forcing.items()},
        {k: v[keep] for k, v in fluxes.items()},
        fapar,
        report,
    )


def _on_axis(site: PreparedSite, key: str, time: pd.DatetimeIndex) -> np.ndarray:
    """The site's forcing ``key`` on the union axis ``time`` (its seasonal cycle outside its record)."""
    from .tower_fill import noaa_co2

    s = pd.Series(site.forcing[key], index=site.time).reindex(time)
    out = s.to_numpy(copy=True)
    outside = ~np.isfinite(out)
    if outside.any():
        if key == "co2":
            out[outside] = noaa_co2(time[outside]) + float(site.report["co2_offset_from_noaa"])
        else:
            msc = seasonal_cycle(site.forcing[key], site.time.day_of_year.to_numpy())
            out[outside] = msc[time[outside].day_of_year.to_numpy() - 1]
    return out


def _monthly(values: np.ndarray, time: pd.DatetimeIndex, months: pd.DatetimeIndex) -> np.ndarray:
    """Monthly mean where at least half the days are valid, else NaN."""
    s = pd.Series(values, index=time)
    g = s.groupby(s.index.to_period("M"))
    mean, valid, days = g.mean(), g.count(), g.size()
    mean[valid < days / 2] = np.nan
    return mean.reindex(months.to_period("M")).to_numpy()
