"""Simulations as CF-compliant xarray Datasets (docs/cli/predict.md).

Layout of an ensemble file (``h2cm predict``):

- ``KEY`` (time, lat, lon): ensemble median across folds of every daily output of the schema (`h2cm.schema.OUTPUTS`);
- ``KEY_min`` / ``KEY_max`` (time, lat, lon): minimum / maximum across folds;
- ``KEY_fold`` (fold, time, lat, lon): each fold's own simulation (optional);
- static parameters ``smmax``, ``alpha_ei`` (lat, lon) and global constants ``q10``, ``beta_co2``,
  ``beta_baseflow``, ``beta_snow`` (scalars) with the same ``_min`` / ``_max`` / ``_fold`` variants.

A run of the pure LSTM baseline (``model: lstm``) holds only the variables it predicts
(:data:`h2cm.baselines.LSTM_OUTPUT_KEYS`), in the same layout, and no parameters or constants.

Grid cells that were not simulated are NaN (the missing value). Coordinates carry CF axis
attributes and cell bounds (``lat_bnds``, ``lon_bnds``, ``time_bnds``); neither coordinates nor
bounds have a ``_FillValue`` (CF 7.1: bounds have no missing values). Every unit, long_name and
standard_name comes from :mod:`h2cm.schema`. Files declare ``Conventions = CF-1.8``: nothing in
them needs a later version, and 1.8 is the newest the CF checker (cfchecker 4.1) can verify;
:func:`netcdf_dataset` prepares a Dataset for a NetCDF file that it passes with no error or warning.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__
from ..model import Simulation
from ..schema import CONSTANT_KEYS, OUTPUT_KEYS, STATIC_PARAMETER_KEYS, WATER_STATE_KEYS, cf_attrs

STATS: tuple[str, ...] = ("median", "min", "max")
STATE_KEYS: frozenset[str] = frozenset((*WATER_STATE_KEYS, "tws"))
REFERENCE = "Baghirov et al. (2024), H2CM: a hybrid hydrological-carbon cycle model"
CONVENTIONS = "CF-1.8"
BOUNDS: tuple[str, ...] = ("time_bnds", "lat_bnds", "lon_bnds")
NO_FILL: tuple[str, ...] = ("time", "lat", "lon", *BOUNDS)  # coordinates and bounds: never missing
TIME_ENCODING: dict[str, str] = {
    "units": "days since 1970-01-01",
    "calendar": "proleptic_gregorian",
    "dtype": "float64",
}


def stat_name(key: str, stat: str | None) -> str:
    """Variable name of an ensemble statistic: median -> KEY, min -> KEY_min, per fold -> KEY_fold."""
    if stat in (None, "median"):
        return key
    return f"{key}_{stat}"


def ensemble_stats(values: np.ndarray, axis: int = 0) -> dict[str, np.ndarray]:
    """Median, minimum and maximum across folds (NaN where every fold is NaN)."""
    v = np.asarray(values)
    if v.shape[axis] == 0:
        raise ValueError("no folds")
    finite = np.isfinite(v).any(axis=axis)
    filled_lo = np.where(np.isfinite(v), v, np.inf)
    filled_hi = np.where(np.isfinite(v), v, -np.inf)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(v, axis=axis)
    return {
        "median": np.where(finite, med, np.nan).astype(v.dtype, copy=False),
        "min": np.where(finite, filled_lo.min(axis=axis), np.nan).astype(v.dtype, copy=False),
        "max": np.where(finite, filled_hi.max(axis=axis), np.nan).astype(v.dtype, copy=False),
    }


def _bounds(centres: np.ndarray) -> np.ndarray:
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        half = 0.5
        return np.array([[c[0] - half, c[0] + half]])
    edges = np.r_[c[0] - (c[1] - c[0]) / 2, (c[1:] + c[:-1]) / 2, c[-1] + (c[-1] - c[-2]) / 2]
    return np.stack([edges[:-1], edges[1:]], axis=1)


def grid_coords(lat, lon) -> dict[str, xr.DataArray]:
    """CF latitude/longitude coordinates with cell bounds."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    lat_b = _bounds(lat)
    lat_b = np.clip(lat_b, -90.0, 90.0)
    return {
        "lat": xr.DataArray(
            lat,
            dims="lat",
            attrs={
                "units": "degrees_north",
                "standard_name": "latitude",
                "long_name": "latitude",
                "axis": "Y",
                "bounds": "lat_bnds",
            },
        ),
        "lon": xr.DataArray(
            lon,
            dims="lon",
            attrs={
                "units": "degrees_east",
                "standard_name": "longitude",
                "long_name": "longitude",
                "axis": "X",
                "bounds": "lon_bnds",
            },
        ),
        "lat_bnds": xr.DataArray(lat_b, dims=("lat", "nv")),
        "lon_bnds": xr.DataArray(_bounds(lon), dims=("lon", "nv")),
    }


def time_coords(time, monthly: bool = False) -> dict[str, xr.DataArray]:
    """CF time coordinate (days or month starts) with bounds [start, next start)."""
    t = pd.DatetimeIndex(time)
    if monthly:
        t = pd.DatetimeIndex(t.to_period("M").to_timestamp()).unique()
        upper = pd.DatetimeIndex((t.to_period("M") + 1).to_timestamp())
    else:
        t = t.normalize()
        upper = t + pd.Timedelta(days=1)
    bnds = np.stack([t.to_numpy(), upper.to_numpy()], axis=1)
    time_da = xr.DataArray(
        t.to_numpy(),
        dims="time",
        attrs={
            "standard_name": "time",
            "long_name": "time (start of averaging period)",
            "axis": "T",
            "bounds": "time_bnds",
        },
    )
    return {"time": time_da, "time_bnds": xr.DataArray(bnds, dims=("time", "nv"))}


def fold_coord(folds: Sequence[int]) -> xr.DataArray:
    return xr.DataArray(
        np.asarray(folds, dtype=np.int32),
        dims="fold",
        attrs={"long_name": "cross-validation fold (ensemble member)", "standard_name": "realization", "units": "1"},
    )


def variable_attrs(key: str, stat: str | None = "median", monthly: bool = False) -> dict[str, object]:
    """CF attributes of an output variable (``stat``: median/min/max/fold, None = a single run)."""
    attrs = dict(cf_attrs(key, "output"))
    if key in OUTPUT_KEYS:
        if monthly:
            attrs["cell_methods"] = "time: mean"
        else:
            attrs["cell_methods"] = "time: point" if key in STATE_KEYS else "time: mean"
    if stat == "median":
        attrs["ensemble_statistic"] = "median across cross-validation folds"
        attrs["long_name"] = f"{attrs['long_name']} (ensemble median)"
    elif stat in ("min", "max"):
        word = "minimum" if stat == "min" else "maximum"
        attrs["ensemble_statistic"] = f"{word} across cross-validation folds"
        attrs["long_name"] = f"{attrs['long_name']} (ensemble {word})"
    elif stat == "fold":
        attrs["ensemble_statistic"] = "one value per cross-validation fold"
    return attrs


def global_attrs(**extra) -> dict[str, object]:
    """Global attributes: conventions, model version, provenance; ``extra`` added (None dropped)."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    attrs: dict[str, object] = {
        "Conventions": CONVENTIONS,
        "title": "H2CM simulation",
        "source": f"h2cm {__version__} (hybrid hydrological-carbon cycle model)",
        "h2cm_version": __version__,
        "references": REFERENCE,
        "history": f"{now}: created by h2cm {__version__}",
        "date_created": now,
    }
    for k, v in extra.items():
        if v is not None:
            attrs[k] = v if isinstance(v, (int, float, str)) else str(v)
    return attrs


def _grid_positions(values, grid) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.float64)
    pos = np.abs(np.asarray(values, dtype=np.float64)[:, None] - grid[None, :]).argmin(axis=1)
    return pos


def simulation_to_dataset(
    sim: Simulation,
    time,
    cell_lat,
    cell_lon,
    grid_lat=None,
    grid_lon=None,
    attrs: dict | None = None,
) -> xr.Dataset:
    """One simulation (one model) as a CF Dataset.

    With ``grid_lat``/``grid_lon`` the outputs are gridded ``(time, lat, lon)`` (NaN where no cell
    was simulated; each cell goes to the nearest grid point); otherwise ``(time, cell)`` with
    ``lat``/``lon`` as auxiliary coordinates.
    """
    time = pd.DatetimeIndex(time)
    cell_lat = np.asarray(cell_lat, dtype=np.float64)
    cell_lon = np.asarray(cell_lon, dtype=np.float64)
    data_vars: dict[str, xr.DataArray] = {}
    gridded = grid_lat is not None and grid_lon is not None
    coords: dict[str, xr.DataArray] = dict(time_coords(time))
    if gridded:
        coords.update(grid_coords(grid_lat, grid_lon))
        ii = _grid_positions(cell_lat, grid_lat)
        jj = _grid_positions(cell_lon, grid_lon)
        shape = (len(grid_lat), len(grid_lon))

        def place(v: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
            out = np.full((*lead, *shape), np.nan, dtype=np.float32)
            out[..., ii, jj] = v
            return out

        dims_t, dims_s = ("time", "lat", "lon"), ("lat", "lon")
    else:
        coords["lat"] = xr.DataArray(cell_lat, dims="cell", attrs=grid_coords([0.0], [0.0])["lat"].attrs)
        coords["lon"] = xr.DataArray(cell_lon, dims="cell", attrs=grid_coords([0.0], [0.0])["lon"].attrs)
        for c in ("lat", "lon"):
            coords[c].attrs.pop("bounds", None)

        def place(v: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
            return np.asarray(v, dtype=np.float32)

        dims_t, dims_s = ("time", "cell"), ("cell",)
    for key, value in sim.outputs.items():
        v = value.detach().cpu().numpy()
        a = variable_attrs(key, None)
        if not gridded:
            a["coordinates"] = "lat lon"
        data_vars[key] = xr.DataArray(place(v, (v.shape[0],)), dims=dims_t, attrs=a)
    for key in STATIC_PARAMETER_KEYS if sim.static is not None else ():  # none for the pure LSTM
        v = getattr(sim.static, key).detach().cpu().numpy()
        data_vars[key] = xr.DataArray(place(v, ()), dims=dims_s, attrs=variable_attrs(key, None))
    for key in CONSTANT_KEYS if sim.constants is not None else ():
        v = float(getattr(sim.constants, key).detach().cpu())
        data_vars[key] = xr.DataArray(np.float64(v), attrs=variable_attrs(key, None))
    return xr.Dataset(data_vars, coords=coords, attrs=global_attrs(**(attrs or {})))


def ensemble_template(
    time,
    lat,
    lon,
    folds: Sequence[int],
    keys: Sequence[str] = OUTPUT_KEYS,
    per_fold: bool = True,
    monthly: bool = False,
    chunks: tuple[int, int] = (366, 10),
    attrs: dict | None = None,
    static_keys: Sequence[str] = STATIC_PARAMETER_KEYS,
    constant_keys: Sequence[str] = CONSTANT_KEYS,
) -> xr.Dataset:
    """A lazy, all-NaN ensemble Dataset with the final layout, encoding and attributes.

    ``chunks``: (days per chunk, grid points per chunk side). Writing it with ``compute=False``
    creates the store; blocks are then written into it region by region. ``static_keys`` /
    ``constant_keys``: the static parameters and constants to hold (none for the pure LSTM).
    """
    coords: dict[str, xr.DataArray] = {**time_coords(time, monthly), **grid_coords(lat, lon)}
    coords["fold"] = fold_coord(folds)
    nt, ny, nx, nf = len(coords["time"]), len(lat), len(lon), len(folds)
    ct = min(nt, 12 if monthly else chunks[0])
    cs = chunks[1]
    data_vars: dict[str, xr.DataArray] = {}
    store_chunks: dict[str, tuple[int, ...]] = {}

    def nan(name, shape, chunk):
        # one dask chunk per variable (a small graph: writing the template with compute=False then
        # takes a fraction of a second, not one graph node per storage chunk); stored in ``chunk``
        store_chunks[name] = chunk
        return da.full(shape, np.nan, dtype=np.float32, chunks=shape)

    stats = [*STATS, *(("fold",) if per_fold else ())]
    for key in keys:
        for stat in stats:
            name = stat_name(key, stat)
            if stat == "fold":
                arr, dims = nan(name, (nf, nt, ny, nx), (1, ct, cs, cs)), ("fold", "time", "lat", "lon")
            else:
                arr, dims = nan(name, (nt, ny, nx), (ct, cs, cs)), ("time", "lat", "lon")
            data_vars[name] = xr.DataArray(arr, dims=dims, attrs=variable_attrs(key, stat, monthly))
    for key in static_keys:
        for stat in stats:
            name = stat_name(key, stat)
            if stat == "fold":
                arr, dims = nan(name, (nf, ny, nx), (1, cs, cs)), ("fold", "lat", "lon")
            else:
                arr, dims = nan(name, (ny, nx), (cs, cs)), ("lat", "lon")
            data_vars[name] = xr.DataArray(arr, dims=dims, attrs=variable_attrs(key, stat))
    for key in constant_keys:
        for stat in stats:
            shape, dims = ((nf,), ("fold",)) if stat == "fold" else ((), ())
            data_vars[stat_name(key, stat)] = xr.DataArray(
                np.full(shape, np.nan, dtype=np.float64), dims=dims, attrs=variable_attrs(key, stat)
            )
    ds = xr.Dataset(data_vars, coords=coords, attrs=global_attrs(**(attrs or {})))
    for name, var in ds.data_vars.items():
        var.encoding["_FillValue"] = np.nan
        if name in store_chunks:
            var.encoding["chunks"] = store_chunks[name]
    ds["time"].encoding.update(TIME_ENCODING)
    ds["time_bnds"].encoding.update(TIME_ENCODING)
    for name in NO_FILL:
        ds[name].encoding["_FillValue"] = None
    return ds


def netcdf_dataset(ds: xr.Dataset, complevel: int = 4) -> tuple[xr.Dataset, dict[str, dict]]:
    """``ds`` and the encoding for a CF NetCDF file: the cell bounds become plain variables (as
    coordinates xarray would list them in a non-standard global ``coordinates`` attribute),
    coordinates and bounds get no ``_FillValue``, floating-point data NaN; data compressed in the
    dask chunks of ``ds``."""
    ds = ds.reset_coords([b for b in BOUNDS if b in ds.coords])
    encoding: dict[str, dict] = {}
    for name, var in ds.variables.items():
        if name in NO_FILL:
            encoding[str(name)] = {"_FillValue": None, **(TIME_ENCODING if name in ("time", "time_bnds") else {})}
            continue
        if name not in ds.data_vars:
            continue
        enc = {"zlib": True, "complevel": complevel, "_FillValue": np.nan if var.dtype.kind == "f" else None}
        if var.ndim and var.chunks:
            enc["chunksizes"] = tuple(c[0] for c in var.chunks)
        encoding[str(name)] = enc
    return ds, encoding
