"""Import the published H2CM training data (Zenodo record 16575309) into an h2cm cube.

The store is one zarr store with one group per variable; each group holds a variable ``data``
and, as group attributes, ``mean`` and ``std`` (the authors' loader opens each group with
``xarray.open_zarr(store, group=NAME)`` and reads ``Dataset.attrs["mean"]``; the static group's
are lists, one value per feature). Groups and what they become:

| group | cube variable | | group | cube variable |
|---|---|---|---|---|
| rn, prec, tair, vpd, co2 | same (daily forcing) | | fapar, gpp, nee | same (monthly) |
| tws | tws | | nee_iav | nee_anomaly |
| et_xbase | et | | cue | cue (static constraint) |
| q_v2 | runoff | | static | static (30 features) |
| swe_bc | swe | | grid_area, mask | cell_area, land_mask |

Read as their loader reads it (docs/reference.md): cells are indexed by position on ``lat`` and
``lon`` (coordinates from the mask group; every grid is compared with the forcing grid), the five
forcing series are stacked by position on the time axis of ``rn``, land is every cell whose mask
value is true for numpy (non-zero; NaN counts as land, as in their ``np.argwhere``), the static
features keep the store's order. Beyond that: dimension names are recognised loosely
(``latitude``/``lat``/``y``...), monthly constraints get their own ``month`` axis (first day of
month; daily or 8-daily series are averaged to months, NaN skipped, as their loss aggregates them),
temperatures in degC are converted to K, areas in km2 to m2. ``mean``/``std`` are kept as
``h2cm_mean``/``h2cm_std`` attributes. The result is validated before anything is written.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from ..schema import FORCING_KEYS
from .cube import save_cube, schema_attrs, with_cf_attrs

GROUPS: dict[str, str] = {
    "rn": "rn",
    "prec": "prec",
    "tair": "tair",
    "vpd": "vpd",
    "co2": "co2",
    "tws": "tws",
    "et_xbase": "et",
    "q_v2": "runoff",
    "swe_bc": "swe",
    "fapar": "fapar",
    "gpp": "gpp",
    "nee": "nee",
    "nee_iav": "nee_anomaly",
    "cue": "cue",
    "static": "static",
    "grid_area": "cell_area",
    "mask": "land_mask",
}
REQUIRED_GROUPS = (*FORCING_KEYS, "static", "grid_area", "mask")
_DIM_ALIASES = {
    "lat": ("lat", "latitude", "y", "rlat"),
    "lon": ("lon", "longitude", "x", "rlon"),
    "time": ("time", "date", "t", "day", "month"),
}


class StoreLayoutError(ValueError):
    """The input store does not have the expected layout."""


def _canonical_dims(da: xr.DataArray, where: str) -> xr.DataArray:
    rename = {}
    for dim in da.dims:
        low = str(dim).lower()
        for canon, aliases in _DIM_ALIASES.items():
            if low in aliases:
                rename[dim] = canon
    da = da.rename(rename)
    for need in ("lat", "lon"):
        if need not in da.dims:
            found = tuple(da.dims)
            raise StoreLayoutError(f"{where}: no {need} dimension among {found}; expected e.g. 'lat'/'latitude'")
    return da


def _read_group(store: Path, group: str) -> xr.DataArray:
    where = f"{store}/{group}"
    try:
        with warnings.catch_warnings():  # the published store may or may not have consolidated metadata
            warnings.simplefilter("ignore", RuntimeWarning)
            ds = xr.open_zarr(store, group=group, consolidated=None)
    except (OSError, KeyError, ValueError, FileNotFoundError) as exc:
        raise StoreLayoutError(f"{where}: cannot open group ({exc}); expected a group with a variable 'data'") from exc
    if "data" not in ds:
        raise StoreLayoutError(f"{where}: no variable 'data' (found {list(ds.data_vars)}); expected 'data'")
    da = ds["data"]
    da.attrs = {**ds.attrs, **da.attrs}
    for stat in ("mean", "std"):  # their loader reads the group's attributes, not the variable's
        if stat in ds.attrs:
            da.attrs[stat] = ds.attrs[stat]
    return _canonical_dims(da, where)


def _monthly(da: xr.DataArray, where: str) -> xr.DataArray:
    """A constraint on a ``month`` axis of month starts (daily series are averaged)."""
    if "time" not in da.dims:
        raise StoreLayoutError(f"{where}: no time dimension among {tuple(da.dims)}; expected a monthly time axis")
    t = pd.DatetimeIndex(da["time"].values)
    if len(t) > 1 and np.median(np.diff(t.values).astype("timedelta64[D]").astype(np.int64)) < 20:
        da = da.resample(time="MS").mean()
        t = pd.DatetimeIndex(da["time"].values)
    starts = t.to_period("M").to_timestamp()
    return da.assign_coords(time=starts).rename(time="month")


def _to_kelvin(da: xr.DataArray) -> xr.DataArray:
    units = str(da.attrs.get("units", "")).strip()
    if units in ("degC", "C", "celsius", "deg_C", "°C"):
        return (da + 273.15).assign_attrs(da.attrs)
    if units in ("K", "kelvin"):
        return da
    sample = da.isel(time=slice(0, None, max(1, da.sizes.get("time", 1) // 20)))
    if float(sample.max()) < 80.0:  # no unit given and Celsius-looking values
        return (da + 273.15).assign_attrs(da.attrs)
    return da


def _same_grid(a: xr.DataArray, ref: xr.DataArray, where: str) -> None:
    for dim in ("lat", "lon"):
        if a.sizes[dim] != ref.sizes[dim]:
            raise StoreLayoutError(
                f"{where}: {dim} has {a.sizes[dim]} points; expected {ref.sizes[dim]} as in the forcing group 'tair'"
            )
        if dim in a.coords and dim in ref.coords:
            if not np.allclose(np.asarray(a[dim].values, float), np.asarray(ref[dim].values, float), atol=1e-6):
                raise StoreLayoutError(f"{where}: {dim} coordinate differs from the forcing grid (group 'tair')")


def _stat_attrs(found: dict, where: str, n_values: int) -> dict:
    """The group's ``mean``/``std`` as ``h2cm_mean``/``h2cm_std`` (absent ones are left out); a
    wrong number of values is an error (their model broadcasts them against ``n_values`` inputs)."""
    attrs = {}
    for stat in ("mean", "std"):
        if stat not in found:
            continue
        value = found[stat]
        size = np.asarray(value, dtype=np.float64).size
        if size != n_values:
            raise StoreLayoutError(
                f"{where}: attribute {stat!r} has {size} value(s); expected {n_values} (one per "
                f"{'static feature' if n_values > 1 else 'variable'})"
            )
        attrs[f"h2cm_{stat}"] = value
    return attrs


def _static(da: xr.DataArray, where: str) -> xr.DataArray:
    fdim = [d for d in da.dims if d not in ("lat", "lon")]
    if len(fdim) != 1:
        raise StoreLayoutError(f"{where}: expected dims (lat, lon, feature), found {tuple(da.dims)}")
    da = da.rename({fdim[0]: "feature"}).transpose("lat", "lon", "feature").astype(np.float32)
    n = da.sizes["feature"]
    names = da["feature"].values if "feature" in da.coords else None
    if names is None or np.issubdtype(np.asarray(names).dtype, np.number):
        names = da.attrs.get("features", da.attrs.get("feature_names"))
    if names is None or len(names) != n:
        names = [f"static_{i:02d}" for i in range(n)]
    return da.assign_coords(feature=np.array([str(x) for x in names], dtype=object))


def _convert(key: str, da: xr.DataArray, where: str, days: pd.DatetimeIndex) -> xr.DataArray:
    """One group's ``data`` as the cube variable ``key`` (dims, units, dtype)."""
    if key in FORCING_KEYS:
        if "time" not in da.dims or da.sizes["time"] != len(days):
            n = da.sizes.get("time", 0)
            raise StoreLayoutError(
                f"{where}: {n} time steps; expected {len(days)} as in the group 'rn' (the forcing "
                "series are stacked by position)"
            )
        da = _to_kelvin(da) if key == "tair" else da
        return da.assign_coords(time=days).transpose("time", "lat", "lon").astype(np.float32)
    if key == "static":
        return _static(da, where)
    if key == "cell_area":
        da = da.squeeze(drop=True).transpose("lat", "lon").astype(np.float64)
        return da * 1e6 if float(da.max()) < 1e6 else da  # km2 -> m2 (their loader expects m2)
    if key == "land_mask":  # land where numpy's truth says so (NaN too), as np.argwhere(mask)
        return (da.squeeze(drop=True).transpose("lat", "lon") != 0).astype(np.int8)
    if key == "cue":
        da = da.squeeze(drop=True)
        da = da.mean("time") if "time" in da.dims else da
        return da.transpose("lat", "lon").astype(np.float32)
    return _monthly(da, where).transpose("month", "lat", "lon").astype(np.float32)


def read_h2cm_store(store: str | os.PathLike) -> xr.Dataset:
    """The published H2CM store as an (unvalidated) h2cm cube Dataset (lazy where possible)."""
    store = Path(store)
    if not store.exists():
        raise FileNotFoundError(f"{store} does not exist; expected the H2CM training data zarr store")
    root = zarr.open_group(str(store), mode="r")
    present = set(root.group_keys())
    missing = [g for g in REQUIRED_GROUPS if g not in present]
    if missing:
        raise StoreLayoutError(f"{store}: missing group(s) {missing}; expected the groups {', '.join(GROUPS)}")
    ref = _read_group(store, "tair")
    rn = _read_group(store, "rn")
    if "time" not in rn.dims:
        raise StoreLayoutError(f"{store}/rn: no time dimension among {tuple(rn.dims)}; expected a daily time axis")
    days = pd.DatetimeIndex(rn["time"].values).normalize()  # their prediction dates come from rn
    variables: dict[str, xr.DataArray] = {}
    for group, key in GROUPS.items():
        if group not in present:
            continue
        where = f"{store}/{group}"
        da = _read_group(store, group)
        _same_grid(da, ref, where)
        found = dict(da.attrs)
        da = _convert(key, da, where, days)
        attrs = _stat_attrs(found, where, da.sizes["feature"] if key == "static" else 1)
        da.attrs = {**(schema_attrs(key) or {}), **attrs, "h2cm_source_group": group}
        # cells are matched by position: the cube takes lat/lon from the mask group (below)
        drop = [c for c in da.coords if c not in da.dims or c in ("lat", "lon")]
        variables[key] = da.drop_vars(drop, errors="ignore")
    grid = _read_group(store, "mask")
    ds = xr.Dataset(variables)
    for dim in ("lat", "lon"):
        src = grid if dim in grid.coords else ref
        if dim in src.coords:
            ds = ds.assign_coords({dim: np.asarray(src[dim].values, dtype=np.float64)})
    ds.attrs.update(
        title="H2CM training data (imported)",
        source=f"{store} (Zenodo record 16575309 layout)",
        history=f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%dT%H:%M:%SZ} h2cm import-h2cm {store}",
    )
    return with_cf_attrs(ds)


def import_h2cm(store: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Convert the published H2CM store to a cube at ``out`` (validated, atomic)."""
    return save_cube(read_h2cm_store(store), out)
