"""Small CF NetCDF files in their own units, calendars and grids, and a mapping for them.

A 4 x 5-degree region (lat -20..-16, lon 20..25), 60 days from 2004-02-01 (a leap February):

| cube variable | file | units, step, grid, calendar |
|---|---|---|
| rn | rn_hourly.nc (``ssr``) | J m-2 per 1-hour step, hourly, 0.5 degree, lat south to north, lon 0..360 |
| tair | t2m.nc (``t2m``) | degC, daily, 1 degree, calendar noleap (no 29 February) |
| vpd | vpd.nc | kPa, daily, 1 degree, lat north to south |
| prec | pr.nc (``pr``) | kg m-2 s-1, 3-hourly, 1 degree |
| co2 | co2.nc | mol mol-1, daily, 1 degree |
| tws | grace.nc (``lwe_thickness``) | cm, monthly stamps mid-month |
| et | et.nc | kg m-2 s-1, daily |
| gpp | gpp.nc | g m-2 d-1 (``gC m-2 d-1``), monthly |
| static | soil.nc (``sand`` in %, ``elevation`` in km, ``ndvi_max`` no schema feature) | 0.25 degree |

Every value is a known constant or simple function, so the tests check the conversions by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

LAT = np.array([-16.5, -17.5, -18.5, -19.5])  # the cube's 1-degree centres, north to south
LON = np.array([20.5, 21.5, 22.5, 23.5, 24.5])
DAYS = pd.date_range("2004-02-01", periods=60, freq="D")
RN_WM2 = 100.0  # net radiation of every hour (W m-2); 150 in the fine cells north of 16.5 S


def fine(step: float) -> tuple[np.ndarray, np.ndarray]:
    lat = np.arange(-20 + step / 2, -16, step)  # south to north
    lon = np.arange(20 + step / 2, 25, step)
    return lat, lon


def _coords(lat, lon, time=None, lon360=False):
    c = {"lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"})}
    c["lon"] = ("lon", (lon % 360) if lon360 else lon, {"units": "degrees_east", "standard_name": "longitude"})
    if time is not None:
        c = {"time": time, **c}
    return c


def _write(path: Path, name: str, values, dims, coords, units, encoding_time=None) -> Path:
    da = xr.DataArray(np.asarray(values, dtype=np.float32), dims=dims, coords=coords, attrs={"units": units})
    ds = da.to_dataset(name=name)
    enc = {"time": encoding_time} if encoding_time else {}
    ds.to_netcdf(path, encoding=enc)
    return path


def write_files(folder: Path) -> Path:
    """Write the files of the module docstring and their mapping; returns the mapping path."""
    folder.mkdir(parents=True, exist_ok=True)
    # rn: hourly J m-2 per hour on 0.5 degree, lat south->north, lon 0..360 (20..25 stays 20..25; shift it)
    flat, flon = fine(0.5)
    hours = pd.date_range(DAYS[0], periods=len(DAYS) * 24, freq="h")
    rn = np.full((len(hours), len(flat), len(flon)), RN_WM2 * 3600.0)
    rn[:, flat > -16.5, :] *= 1.5  # the northern half of the northern 1-degree row: 150 W m-2
    rn_lon = np.where(flon < 0, flon + 360, flon)
    _write(folder / "rn_hourly.nc", "ssr", rn, ("time", "lat", "lon"), _coords(flat, rn_lon, hours), "J m-2")
    # tair: degC, daily, noleap calendar (no 29 February 2004)
    noleap = xr.date_range("2004-02-01", periods=59, freq="D", calendar="noleap", use_cftime=True)
    t = np.full((59, 4, 5), 20.0) + np.arange(59)[:, None, None] * 0.1
    _write(folder / "t2m.nc", "t2m", t, ("time", "lat", "lon"), _coords(LAT, LON, noleap), "degC")
    _write(folder / "vpd.nc", "vpd", np.full((60, 4, 5), 1.5), ("time", "lat", "lon"), _coords(LAT, LON, DAYS), "kPa")
    three = pd.date_range(DAYS[0], periods=len(DAYS) * 8, freq="3h")
    pr = np.full((len(three), 4, 5), 1e-5)
    _write(folder / "pr.nc", "pr", pr, ("time", "lat", "lon"), _coords(LAT[::-1], LON, three), "kg m-2 s-1")
    _write(
        folder / "co2.nc",
        "co2",
        np.full((60, 4, 5), 4e-4),
        ("time", "lat", "lon"),
        _coords(LAT, LON, DAYS),
        "mol mol-1",
    )
    mid = pd.DatetimeIndex(["2004-01-16", "2004-02-15", "2004-03-16", "2004-04-15"])
    tws = np.arange(4)[:, None, None] * np.ones((4, 4, 5)) - 1.0
    _write(folder / "grace.nc", "lwe_thickness", tws, ("time", "lat", "lon"), _coords(LAT, LON, mid), "cm")
    _write(
        folder / "et.nc", "et", np.full((60, 4, 5), 2e-5), ("time", "lat", "lon"), _coords(LAT, LON, DAYS), "kg m-2 s-1"
    )
    gpp = np.full((2, 4, 5), 3.0)
    _write(folder / "gpp.nc", "gpp", gpp, ("time", "lat", "lon"), _coords(LAT, LON, DAYS[[0, 29]]), "gC m-2 d-1")
    slat, slon = fine(0.25)
    shape = (len(slat), len(slon))
    soil = xr.Dataset(
        {
            "sand": (("lat", "lon"), np.full(shape, 40.0, np.float32), {"units": "%"}),
            "elevation": (("lat", "lon"), np.full(shape, 1.2, np.float32), {"units": "km"}),
            "ndvi_max": (("lat", "lon"), np.linspace(0.2, 0.8, shape[1])[None, :].repeat(shape[0], 0), {"units": "1"}),
        },
        coords=_coords(slat, slon),
    )
    soil.to_netcdf(folder / "soil.nc")
    mapping = {
        "title": "test import",
        "rn": {"files": "rn_hourly.nc", "variable": "ssr"},
        "tair": {"files": "t2m.nc", "variable": "t2m"},
        "vpd": "vpd.nc",
        "prec": {"files": "pr.nc", "variable": "pr"},
        "co2": "co2.nc",
        "tws": {"files": "grace.nc", "variable": "lwe_thickness"},
        "et": "et.nc",
        "gpp": "gpp.nc",
        "static": [{"files": "soil.nc"}],
    }
    path = folder / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return path
