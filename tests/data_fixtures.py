"""Small in-memory cubes for the data tests (valid by construction; tests break them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from h2cm.data.cube import grid_cell_area, with_cf_attrs
from h2cm.schema import FORCING_KEYS, STATIC_FEATURE_KEYS, STATIC_FEATURES


def make_cube(n_lat: int = 4, n_lon: int = 5, days: int = 90, seed: int = 0) -> xr.Dataset:
    """A valid cube: daily forcing from 2001-01-01, monthly constraints, 30 static features,
    land mask with one masked-out grid point (NaN forcing there)."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2001-01-01", periods=days, freq="D")
    months = pd.date_range(time[0], time[-1], freq="MS")
    lat = np.linspace(50.5, 50.5 - (n_lat - 1), n_lat)
    lon = np.linspace(10.5, 10.5 + n_lon - 1, n_lon)
    shape = (days, n_lat, n_lon)
    forcing = {
        "rn": rng.normal(100.0, 30.0, shape),
        "prec": rng.exponential(2.0, shape),
        "tair": rng.normal(285.0, 5.0, shape),
        "vpd": rng.exponential(5.0, shape),
        "co2": np.full(shape, 380.0),
    }
    mask = np.ones((n_lat, n_lon), dtype=np.int8)
    mask[0, 0] = 0
    data = {
        k: (("time", "lat", "lon"), np.where(mask == 1, forcing[k], np.nan).astype(np.float32)) for k in FORCING_KEYS
    }
    mshape = (len(months), n_lat, n_lon)
    data["gpp"] = (("month", "lat", "lon"), rng.uniform(0.0, 8.0, mshape).astype(np.float32))
    data["et"] = (("month", "lat", "lon"), rng.uniform(0.0, 4.0, mshape).astype(np.float32))
    tws = rng.normal(0.0, 30.0, mshape).astype(np.float32)
    tws[0] = np.nan
    data["tws"] = (("month", "lat", "lon"), tws)
    data["cue"] = (("lat", "lon"), rng.uniform(0.3, 0.6, (n_lat, n_lon)).astype(np.float32))
    lo = np.array([STATIC_FEATURES[i].valid_min for i in range(len(STATIC_FEATURE_KEYS))], dtype=np.float32)
    hi = np.array([STATIC_FEATURES[i].valid_max for i in range(len(STATIC_FEATURE_KEYS))], dtype=np.float32)
    u = rng.uniform(0.0, 0.5, (n_lat, n_lon, len(STATIC_FEATURE_KEYS))).astype(np.float32)
    static = (lo + u * (hi - lo)).astype(np.float32)
    data["static"] = (("lat", "lon", "feature"), static)
    data["cell_area"] = (("lat", "lon"), grid_cell_area(lat, lon).astype(np.float32))
    data["land_mask"] = (("lat", "lon"), mask)
    coords = {
        "time": time,
        "month": months,
        "lat": lat,
        "lon": lon,
        "feature": np.array(STATIC_FEATURE_KEYS, dtype=object),
    }
    return with_cf_attrs(xr.Dataset(data, coords=coords))
