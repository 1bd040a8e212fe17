"""The h2cm data cube: one CF xarray Dataset (zarr by default, or NetCDF) per data set.

Layout (docs/architecture.md, docs/data.md): daily forcing ``(time, lat, lon)``, static inputs
``(lat, lon, feature)``, monthly constraints ``(month, lat, lon)``, the static constraint ``cue``,
``cell_area`` and ``land_mask`` ``(lat, lon)``. Chunks hold the full time axis of 5 x 5 cells, so
one cell's full series is one read; the cube is opened lazily with dask and never has to fit in
memory. The twin world's hidden truth lives in the group ``truth`` of the same store.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from .. import atomic
from ..aggregate import month_index
from ..constraints import MONTHLY_CONSTRAINT_KEYS, STATIC_CONSTRAINT_KEYS
from ..schema import (
    COORD_ATTRS,
    CUBE_VERSION,
    FORCING_KEYS,
    VARIABLES,
)
from .cells import CellData
from .check import check_cube, require_structure
from .problems import CubeError, raise_on_errors  # noqa: F401  (CubeError: the error of every cube writer)

CHUNK_CELLS = 5  # chunk edge in grid cells (lat and lon)
TRUTH_GROUP = "truth"
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")


def is_netcdf(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in NETCDF_SUFFIXES


# --- reading ------------------------------------------------------------------------------------


def open_cube(path: str | os.PathLike, dask: bool = True, chunks: dict[str, int] | None = None) -> xr.Dataset:
    """Open a cube lazily: dask arrays in the on-disk chunks (default; ``chunks`` asks for larger
    dask chunks, best multiples of the on-disk ones, which means fewer tasks for whole-cube
    reductions), or with ``dask=False`` lazily indexed arrays that read exactly what is selected
    (fastest for small selections). A zarr directory or a NetCDF file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"cube {path} does not exist")
    chunks = (chunks or {}) if dask else None
    if is_netcdf(path):
        return xr.open_dataset(path, chunks=chunks)
    return xr.open_zarr(path, consolidated=False, chunks=chunks)


def open_truth(path: str | os.PathLike) -> xr.Dataset | None:
    """The hidden truth of a twin world (group ``truth``), or None if the cube has none."""
    path = Path(path)
    try:
        if is_netcdf(path):
            return xr.open_dataset(path, group=TRUTH_GROUP, chunks={})
        if not (path / TRUTH_GROUP).is_dir():
            return None
        return xr.open_zarr(path, group=TRUTH_GROUP, consolidated=False)
    except (OSError, KeyError):
        return None


def land_cells(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Grid positions (lat_idx, lon_idx) of the cube's cells (``land_mask == 1``), row-major."""
    if "land_mask" not in ds:
        raise KeyError("cube has no variable 'land_mask'")
    mask = np.asarray(ds["land_mask"].transpose("lat", "lon").values) == 1
    lat_idx, lon_idx = np.nonzero(mask)
    return lat_idx.astype(np.int64), lon_idx.astype(np.int64)


def _period_slice(index: pd.DatetimeIndex, period) -> np.ndarray:
    """Positions of ``index`` inside ``period`` = (start, end) (either may be None) or a slice."""
    if period is None:
        return np.arange(len(index))
    if isinstance(period, slice):
        start, end = period.start, period.stop
    else:
        start, end = period
    keep = np.ones(len(index), dtype=bool)
    if start is not None:
        keep &= index >= pd.Timestamp(start)
    if end is not None:
        keep &= index <= pd.Timestamp(end)
    return np.nonzero(keep)[0]


def _gather_cells(da: xr.DataArray, li: np.ndarray, lj: np.ndarray, chunk: int) -> np.ndarray:
    """Values of a (X, lat, lon) array at cells (li, lj) -> (X, N).

    Reads only the chunks that hold requested cells, one read per run of neighbouring chunks in
    a band of ``chunk`` rows, so memory stays at one run and each chunk is read once."""
    da = da.transpose(..., "lat", "lon")
    out = np.empty((*da.shape[:-2], len(li)), dtype=np.float32)
    bands = li // chunk
    for band in np.unique(bands):
        in_band = np.nonzero(bands == band)[0]
        cols = lj[in_band] // chunk
        used = np.unique(cols)
        breaks = np.nonzero(np.diff(used) > 1)[0] + 1
        r0 = int(band) * chunk
        for run in np.split(used, breaks):
            sel = in_band[(cols >= run[0]) & (cols <= run[-1])]
            c0, c1 = int(run[0]) * chunk, (int(run[-1]) + 1) * chunk
            try:
                block = np.asarray(da.isel(lat=slice(r0, r0 + chunk), lon=slice(c0, c1)).values)
            except Exception as err:  # noqa: BLE001 - codec errors of a corrupted or truncated chunk
                raise CubeError(
                    f"{da.name}: cannot read lat rows {r0}..{min(r0 + chunk, da.sizes['lat']) - 1}, lon columns "
                    f"{c0}..{min(c1, da.sizes['lon']) - 1} "
                    f"({type(err).__name__}: {err}); expected readable chunks ('h2cm check' names the file)"
                ) from err
            out[..., sel] = block[..., li[sel] - r0, lj[sel] - c0]
    return out


def _lat_chunk(ds: xr.Dataset) -> int:
    for key in FORCING_KEYS:
        if key in ds and ds[key].chunks:
            return int(ds[key].chunksizes["lat"][0])
        if key in ds and ds[key].encoding.get("chunks"):
            return int(ds[key].encoding["chunks"][ds[key].dims.index("lat")])
    return CHUNK_CELLS


def load_cells(
    ds_or_path: xr.Dataset | str | os.PathLike,
    cell_index: Sequence[int] | np.ndarray | None = None,
    period: tuple | slice | None = None,
) -> CellData:
    """Load forcing, static inputs and constraints of cells into memory as a :class:`CellData`.

    ``cell_index``: positions in :func:`land_cells` order (default: all cells).
    ``period``: (start, end) dates (inclusive, either may be None) restricting days and months.
    """
    ds = ds_or_path if isinstance(ds_or_path, xr.Dataset) else open_cube(ds_or_path, dask=False)
    require_structure(ds, str(ds_or_path) if not isinstance(ds_or_path, xr.Dataset) else "cube")
    lat_idx, lon_idx = land_cells(ds)
    if cell_index is None:
        cell_index = np.arange(len(lat_idx))
    cell_index = np.asarray(cell_index, dtype=np.int64).reshape(-1)
    if len(cell_index) and (cell_index.min() < 0 or cell_index.max() >= len(lat_idx)):
        raise IndexError(f"cell_index out of range: the cube has {len(lat_idx)} cells")
    li, lj = lat_idx[cell_index], lon_idx[cell_index]
    chunk = _lat_chunk(ds)

    time = pd.DatetimeIndex(ds["time"].values)
    tpos = _period_slice(time, period)
    time = time[tpos]
    if "month" in ds.dims:
        months_all = pd.DatetimeIndex(ds["month"].values)
        if len(time):
            lo, hi = time[0].to_period("M").to_timestamp(), time[-1]
            mpos = np.nonzero((months_all >= lo) & (months_all <= hi))[0]
        else:
            mpos = np.arange(0)
        months = months_all[mpos]
    else:
        mpos, months = np.arange(0), pd.DatetimeIndex([])

    tsel = slice(int(tpos[0]), int(tpos[-1]) + 1) if len(tpos) else slice(0, 0)
    forcing = np.stack([_gather_cells(ds[k].isel(time=tsel), li, lj, chunk) for k in FORCING_KEYS], axis=-1)

    static_da = ds["static"].transpose("lat", "lon", "feature")
    static = np.asarray(static_da.values, dtype=np.float32)[li, lj]
    features = tuple(str(f) for f in ds["feature"].values)

    constraints: dict[str, torch.Tensor] = {}
    msel = slice(int(mpos[0]), int(mpos[-1]) + 1) if len(mpos) else slice(0, 0)
    for key in MONTHLY_CONSTRAINT_KEYS:
        if key in ds and "month" in ds[key].dims:
            constraints[key] = torch.from_numpy(_gather_cells(ds[key].isel(month=msel), li, lj, chunk))
    for key in STATIC_CONSTRAINT_KEYS:
        if key in ds:
            constraints[key] = torch.from_numpy(np.asarray(ds[key].values, dtype=np.float32)[li, lj])

    lat = np.asarray(ds["lat"].values, dtype=np.float64)[li]
    lon = np.asarray(ds["lon"].values, dtype=np.float64)[lj]
    area = np.asarray(ds["cell_area"].values, dtype=np.float32)[li, lj]
    return CellData(
        forcing=torch.from_numpy(np.ascontiguousarray(forcing, dtype=np.float32)),
        static=torch.from_numpy(np.ascontiguousarray(static)),
        constraints=constraints,
        cell_area=torch.from_numpy(area),
        lat=lat,
        lon=lon,
        time=time,
        months=months,
        day_month=torch.from_numpy(month_index(time, months)),
        features=features,
        cell_index=cell_index,
    )


# --- building -----------------------------------------------------------------------------------


def schema_attrs(key: str) -> dict[str, object] | None:
    """CF attributes of a cube variable from the schema (None if the schema does not know it)."""
    for role in ("forcing", "constraint", "ancillary", "evaluation"):
        if key in VARIABLES[role]:
            return VARIABLES[role][key].attrs()
    return None


def with_cf_attrs(ds: xr.Dataset) -> xr.Dataset:
    """A copy with schema attributes on every known variable, coordinate attributes and the
    cube version; variables not in the schema keep their attributes."""
    ds = ds.copy()
    for key in ds.data_vars:
        attrs = schema_attrs(str(key))
        if attrs is not None:
            ds[key].attrs = {**ds[key].attrs, **attrs}
    for key, attrs in COORD_ATTRS.items():
        if key in ds.coords:
            ds[key].attrs = {**ds[key].attrs, **attrs}
    ds.attrs.setdefault("Conventions", "CF-1.10")
    ds.attrs["h2cm_cube_version"] = CUBE_VERSION
    return ds


def chunk_sizes(ds: xr.Dataset, cells: int = CHUNK_CELLS) -> dict[str, int]:
    """Full time and month axes, ``cells`` x ``cells`` in space, all features."""
    sizes = {"lat": min(cells, ds.sizes.get("lat", 1)), "lon": min(cells, ds.sizes.get("lon", 1))}
    for dim in ("time", "month", "feature"):
        if dim in ds.dims:
            sizes[dim] = ds.sizes[dim]
    return sizes


def encoding_for(ds: xr.Dataset, cells: int = CHUNK_CELLS, netcdf: bool = False) -> dict[str, dict]:
    """Per-variable encoding: float32 data with NaN fill, chunks of :func:`chunk_sizes`."""
    sizes = chunk_sizes(ds, cells)
    enc: dict[str, dict] = {}
    for key, da in ds.data_vars.items():
        e: dict[str, object] = {}
        if da.dims:
            e["chunksizes" if netcdf else "chunks"] = tuple(sizes.get(d, ds.sizes[d]) for d in da.dims)
        if np.issubdtype(da.dtype, np.floating):
            e["dtype"] = "float32"
            e["_FillValue"] = np.float32(np.nan)
        if netcdf and da.dims:
            e.update(zlib=True, complevel=1)
        enc[str(key)] = e
    return enc


def _clean(ds: xr.Dataset) -> xr.Dataset:
    """Drop stale on-disk encodings, store strings as variable-length strings."""
    ds = ds.copy()
    for key in ds.variables:
        ds[key].encoding = {}
    if "feature" in ds.coords:
        ds = ds.assign_coords(feature=np.array([str(f) for f in ds["feature"].values], dtype=object))
        ds["feature"].attrs = dict(COORD_ATTRS["feature"])
    return ds


def write_dataset(ds: xr.Dataset, path: Path, group: str | None = None, mode: str = "w") -> None:
    """Write ``ds`` (no validation, not atomic) to zarr or NetCDF with the cube's chunking."""
    ds = _clean(ds)
    if is_netcdf(path):
        ds.to_netcdf(path, group=group, mode=mode, encoding=encoding_for(ds, netcdf=True), engine="netcdf4")
    else:
        ds = ds.chunk(chunk_sizes(ds)) if ds.dims else ds
        ds.to_zarr(path, group=group, mode=mode, encoding=encoding_for(ds), consolidated=False, zarr_format=3)


def save_cube(
    ds: xr.Dataset,
    path: str | os.PathLike,
    truth: xr.Dataset | None = None,
    *,
    validate: bool = True,
) -> Path:
    """Validate ``ds`` (raise :class:`CubeError` and write nothing on errors), then write it
    atomically (temporary path in the same folder, then rename). ``.nc`` -> NetCDF, else zarr.
    ``truth`` (optional) goes into the group ``truth`` of the same store."""
    path = Path(path)
    ds = with_cf_attrs(ds)
    if validate:
        raise_on_errors(check_cube(ds, source=str(path)), f"cube {path}")
    with atomic.atomic_path(path) as tmp:  # the previous cube or the new one, never a partial one
        write_dataset(ds, tmp)
        if truth is not None:
            write_dataset(truth, tmp, group=TRUTH_GROUP, mode="a")
    return path


def grid_cell_area(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Area (m2) of regular lat/lon cells centred at ``lat`` x ``lon`` on a sphere (R = 6371 km)."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    dlat = abs(float(np.median(np.diff(lat)))) if len(lat) > 1 else 1.0
    dlon = abs(float(np.median(np.diff(lon)))) if len(lon) > 1 else 1.0
    r = 6_371_000.0
    top = np.radians(np.clip(lat + dlat / 2, -90, 90))
    bottom = np.radians(np.clip(lat - dlat / 2, -90, 90))
    band = r**2 * np.radians(dlon) * np.abs(np.sin(top) - np.sin(bottom))
    return np.repeat(band[:, None], len(lon), axis=1)


def month_starts(time: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """First day of every calendar month touched by ``time``."""
    if len(time) == 0:
        return pd.DatetimeIndex([])
    return pd.date_range(time[0].to_period("M").to_timestamp(), time[-1], freq="MS")
