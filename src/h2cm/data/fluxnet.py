"""FLUXNET2015 / ONEFlux daily files: the reader of the original one-site importer and the NETRAD gap-fill.

``h2cm import-fluxnet FILE`` is now the one-file form of ``h2cm import-towers``
(:mod:`h2cm.data.towers`, docs/cli/import-towers.md): any supported tower file, coordinates from
``--lat/--lon`` or the package's site table. :func:`fluxnet_cube` is kept as its library entry.

NETRAD gap-fill (:func:`h2cm.data.tower_fill.fill_netrad`, used by the tower importer where LW_IN exists): on the site's
own days with NETRAD, fit by least squares
``NETRAD = a SW_IN_F + b LW_IN_F + c sigma (TA_F + 273.15)^4 + d`` (the terms of the surface
radiation balance: absorbed shortwave, incoming and emitted longwave) and use it on the days
without NETRAD. With fewer than 30 such days the physical default ``a = 0.77`` (albedo 0.23),
``b = 1``, ``c = -0.98`` (emissivity), ``d = 0`` is used.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..physics import LATENT_HEAT
from .cube import save_cube
from .tower_read import TowerFileError

MISSING = -9999.0
LE_TO_MM = 86400.0 / (LATENT_HEAT * 1e6)  # (W m-2) -> (mm d-1)
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


FluxnetError = TowerFileError  # the file is not a usable tower file (one line: file, column, expectation)


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


def fluxnet_cube(
    path: str | os.PathLike,
    lat: float | None = None,
    lon: float | None = None,
    min_qc: float = 0.5,
) -> xr.Dataset:
    """The one-cell cube (unvalidated) of a tower file: :func:`h2cm.data.tower_cube.tower_cube` of one file
    (any family it reads; coordinates from ``lat``/``lon`` or the package's site table)."""
    from .tower_cube import tower_cube
    from .towers import TowerOptions

    return tower_cube([path], lat=lat, lon=lon, opts=TowerOptions(min_qc=min_qc))


def import_fluxnet(path, out, lat: float | None = None, lon: float | None = None, min_qc: float = 0.5) -> Path:
    """Convert a FLUXNET2015 daily file to a validated one-cell cube at ``out``."""
    return save_cube(fluxnet_cube(path, lat, lon, min_qc), out)
