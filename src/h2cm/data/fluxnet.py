"""Import a FLUXNET2015 / ONEFlux daily file (FULLSET or SUBSET, ``_DD_``) as a one-cell cube.

Forcing: ``TA_F`` (degC -> K), ``NETRAD`` (gaps filled, see below), ``VPD_F`` (hPa), ``P_F``
(mm d-1), ``CO2_F_MDS`` (ppm; gaps interpolated linearly in time, ends held constant).

NETRAD gap-fill: on the site's own days with NETRAD, fit by least squares
``NETRAD = a SW_IN_F + b LW_IN_F + c sigma (TA_F + 273.15)^4 + d`` (the terms of the surface
radiation balance: absorbed shortwave, incoming and emitted longwave) and use it on the days
without NETRAD. With fewer than 30 such days the physical default ``a = 0.77`` (albedo 0.23),
``b = 1``, ``c = -0.98`` (emissivity), ``d = 0`` is used. Coefficients, R2 and the number of
filled days are stored as attributes of ``rn``.

Constraints (monthly means of days that pass the quality filter, a month needs at least half
its days): ``et`` from ``LE_F_MDS``: ``ET [mm d-1] = LE [W m-2] * 86400 s d-1 / 2.45e6 J kg-1``
(the model's latent heat, 1 kg m-2 = 1 mm); ``gpp`` = ``GPP_NT_VUT_REF``; ``nee`` =
``NEE_VUT_REF``. Kept for evaluation only: monthly ``reco`` (``RECO_NT_VUT_REF``) and the daily
series ``et_daily``, ``gpp_daily``, ``nee_daily``, ``reco_daily``. Daily values whose ``*_QC``
column (fraction of measured or good gap-filled data) is below ``min_qc`` are dropped.
Static inputs: the 30 twin-world features of the 1-degree cell holding the site.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..physics import LATENT_HEAT
from ..schema import STATIC_FEATURE_KEYS
from .cube import CubeError, grid_cell_area, month_starts, save_cube, with_cf_attrs

MISSING = -9999.0
SIGMA = 5.670374419e-8  # W m-2 K-4
LE_TO_MM = 86400.0 / (LATENT_HEAT * 1e6)  # (W m-2) -> (mm d-1)
MIN_FIT_DAYS = 30
DEFAULT_RN_COEF = (0.77, 1.0, -0.98, 0.0)
# Sites whose coordinates the importer knows (FLUXNET files do not carry them).
KNOWN_SITES: dict[str, tuple[float, float]] = {"US-AR1": (36.4267, -99.42)}
REQUIRED_COLUMNS = (
    "TIMESTAMP",
    "TA_F",
    "SW_IN_F",
    "LW_IN_F",
    "VPD_F",
    "P_F",
    "LE_F_MDS",
    "GPP_NT_VUT_REF",
    "NEE_VUT_REF",
)


class FluxnetError(ValueError):
    """The file is not a usable FLUXNET2015 daily file."""


@dataclass
class NetradFill:
    coef: tuple[float, float, float, float]
    r2: float
    n_fit: int
    n_filled: int


def site_id(path: str | os.PathLike) -> str | None:
    m = re.match(r"FLX_([A-Za-z]{2}-[A-Za-z0-9]{3})_", Path(path).name)
    return m.group(1) if m else None


def read_fluxnet_daily(path: str | os.PathLike) -> pd.DataFrame:
    """The daily table with a DatetimeIndex and NaN for missing values."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if "_DD_" not in path.name:
        raise FluxnetError(f"{path}: not a daily file; expected a FLUXNET2015 file name with '_DD_'")
    df = pd.read_csv(path, na_values=[MISSING, str(int(MISSING))])
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise FluxnetError(f"{path}: missing column(s) {missing}; expected FLUXNET2015 FULLSET/SUBSET columns")
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("TIMESTAMP").astype(str), format="%Y%m%d"), name="time")
    if df.index.has_duplicates or not df.index.is_monotonic_increasing:
        raise FluxnetError(f"{path}: TIMESTAMP is not sorted and unique")
    df = df.reindex(pd.date_range(df.index[0], df.index[-1], freq="D", name="time"))
    return df.astype(np.float64)


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


def _qc_filtered(df: pd.DataFrame, column: str, min_qc: float) -> pd.Series:
    s = df[column].copy()
    qc = f"{column}_QC"
    if qc in df and min_qc > 0:
        s[df[qc] < min_qc] = np.nan
    return s


def _monthly(s: pd.Series, months: pd.DatetimeIndex) -> np.ndarray:
    """Monthly mean where at least half the days are valid, else NaN."""
    g = s.groupby(s.index.to_period("M"))
    mean, valid, days = g.mean(), g.count(), g.size()
    mean[valid < days / 2] = np.nan
    return mean.reindex(months.to_period("M")).to_numpy()


def _site_static(lat: float, lon: float) -> np.ndarray:
    from .geography import load_geography
    from .synth.world import static_features

    geo = load_geography()
    feats = static_features(geo, seed=0)
    i = int(np.clip(np.floor(90.0 - lat), 0, 179))
    j = int(np.clip(np.floor(lon + 180.0), 0, 359))
    return np.array([feats[k][i, j] for k in STATIC_FEATURE_KEYS], dtype=np.float32)


def fluxnet_cube(
    path: str | os.PathLike,
    lat: float | None = None,
    lon: float | None = None,
    min_qc: float = 0.5,
) -> xr.Dataset:
    """The one-cell cube (unvalidated) of a FLUXNET2015 daily file."""
    path = Path(path)
    site = site_id(path)
    if lat is None or lon is None:
        if site not in KNOWN_SITES:
            raise FluxnetError(f"{path}: coordinates of site {site!r} unknown; pass --lat and --lon")
        lat, lon = KNOWN_SITES[site]
    df = read_fluxnet_daily(path)
    time = pd.DatetimeIndex(df.index)
    months = month_starts(time)

    rn, fill = fill_netrad(df)
    co2 = df["CO2_F_MDS"].interpolate(limit_direction="both") if "CO2_F_MDS" in df else None
    if co2 is None or co2.isna().all():
        raise FluxnetError(f"{path}: CO2_F_MDS is missing or empty; expected CO2 in ppm")
    forcing = {
        "rn": rn,
        "prec": df["P_F"].to_numpy(),
        "tair": df["TA_F"].to_numpy() + 273.15,
        "vpd": df["VPD_F"].to_numpy(),
        "co2": co2.to_numpy(),
    }
    et = _qc_filtered(df, "LE_F_MDS", min_qc) * LE_TO_MM
    gpp = _qc_filtered(df, "GPP_NT_VUT_REF", min_qc)
    nee = _qc_filtered(df, "NEE_VUT_REF", min_qc)
    reco = _qc_filtered(df, "RECO_NT_VUT_REF", min_qc) if "RECO_NT_VUT_REF" in df else None

    def cell(a):  # (X,) -> (X, 1, 1)
        return np.asarray(a, dtype=np.float32)[:, None, None]

    tll, mll = ("time", "lat", "lon"), ("month", "lat", "lon")
    data = {k: (tll, cell(v)) for k, v in forcing.items()}
    data.update({"et": (mll, cell(_monthly(et, months))), "gpp": (mll, cell(_monthly(gpp, months)))})
    data["nee"] = (mll, cell(_monthly(nee, months)))
    data.update({"et_daily": (tll, cell(et)), "gpp_daily": (tll, cell(gpp)), "nee_daily": (tll, cell(nee))})
    if reco is not None:
        data["reco"] = (mll, cell(_monthly(reco, months)))
        data["reco_daily"] = (tll, cell(reco))
    data["static"] = (("lat", "lon", "feature"), _site_static(lat, lon)[None, None, :])
    area = grid_cell_area(np.array([lat]), np.array([lon]))
    data["cell_area"] = (("lat", "lon"), area.astype(np.float32))
    data["land_mask"] = (("lat", "lon"), np.ones((1, 1), dtype=np.int8))
    ds = xr.Dataset(
        data,
        coords={
            "time": time,
            "month": months,
            "lat": [float(lat)],
            "lon": [float(lon)],
            "feature": np.array(STATIC_FEATURE_KEYS, dtype=object),
        },
    )
    ds["rn"].attrs.update(
        h2cm_gapfill="NETRAD = a SW_IN_F + b LW_IN_F + c sigma TA^4 + d (least squares on the site's days)",
        h2cm_gapfill_coefficients=list(fill.coef),
        h2cm_gapfill_r2=fill.r2,
        h2cm_gapfill_days_fitted=fill.n_fit,
        h2cm_gapfill_days_filled=fill.n_filled,
    )
    ds.attrs.update(
        title=f"FLUXNET2015 site {site or path.stem} (one-cell h2cm cube)",
        source=str(path.name),
        site_id=site or "",
        history=f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%dT%H:%M:%SZ} h2cm import-fluxnet {path.name}",
        references="Pastorello et al. (2020), Scientific Data 7:225 (FLUXNET2015, CC-BY-4.0)",
        h2cm_et_conversion=f"ET = LE_F_MDS * {LE_TO_MM:.6f} (86400 s / {LATENT_HEAT} MJ kg-1)",
        h2cm_min_qc=min_qc,
    )
    return with_cf_attrs(ds)


def import_fluxnet(path, out, lat: float | None = None, lon: float | None = None, min_qc: float = 0.5) -> Path:
    """Convert a FLUXNET2015 daily file to a validated one-cell cube at ``out``."""
    return save_cube(fluxnet_cube(path, lat, lon, min_qc), out)


def run(args: argparse.Namespace) -> int:
    try:
        path = import_fluxnet(args.file, args.out, args.lat, args.lon, args.min_qc)
    except (CubeError, FluxnetError, FileNotFoundError) as exc:
        print(f"error: {exc}")
        return 1
    print(f"wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("import-fluxnet", help="convert a FLUXNET2015 daily (_DD_) file to a one-cell cube")
    p.add_argument("file", help="FLX_<site>_FLUXNET2015_<FULLSET|SUBSET>_DD_<years>.csv")
    p.add_argument("--out", required=True, help="output cube (zarr directory, or .nc)")
    p.add_argument("--lat", type=float, default=None, help="site latitude (needed unless the site is known)")
    p.add_argument("--lon", type=float, default=None, help="site longitude (degrees east)")
    p.add_argument("--min-qc", type=float, default=0.5, help="drop daily fluxes whose *_QC is below this")
    p.set_defaults(func=run)
