"""Other simulation products on a run's cells (``h2cm evaluate --compare NAME=PATH``).

A product is any CF dataset (zarr or NetCDF) with variables named as h2cm's outputs (``gpp``,
``nee``, ``ter``, ...; gC m-2 d-1) on ``(time, lat, lon)`` (or ``month`` for the time axis),
daily or monthly, on the cube's grid (the cube's cells are looked up by coordinate): an
``h2cm predict`` store, or a product such as the twin world's ``products/*`` groups.
``PATH#GROUP`` reads a group inside a zarr store or NetCDF file (``world.zarr#products/data_driven``).

- :func:`product_monthly`: monthly means at some cells, NaN where the product has no data
  (lenient: the claims study's regional figure);
- :func:`load_products`: the same for ``h2cm evaluate``, with every check that makes a
  comparison meaningful (variables, grid, period, test cells); a failed check raises one
  ValueError line naming the product and what is wrong;
- :func:`world_products`: the products a twin world ships (name -> ``PATH#products/NAME``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..data.cube import is_netcdf, land_cells, open_cube

PRODUCTS_GROUP = "products"  # the twin world's products (h2cm.data.synth.products)
GRID_TOLERANCE = 1e-3  # degrees


def split_path(path: str | Path) -> tuple[Path, str | None]:
    """``PATH#GROUP`` -> (PATH, GROUP); a plain path -> (path, None)."""
    text, sep, group = str(path).partition("#")
    return Path(text), (group.strip("/") or None) if sep else None


def open_product(path: str | Path) -> xr.Dataset:
    """The product at ``path`` (``PATH#GROUP`` for a group); ValueError if absent or unreadable."""
    p, group = split_path(path)
    if not p.exists():
        raise ValueError(f"product {path}: no such file or store")
    try:
        if is_netcdf(p):
            return xr.open_dataset(p, group=group, chunks={})
        if group is not None and not (p / group).is_dir():
            raise ValueError(f"no group {group!r}")
        return xr.open_zarr(p, group=group, consolidated=False)
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"product {path}: cannot be read ({err})") from err


def world_products(cube: str | Path) -> dict[str, str]:
    """The comparison products a twin world ships: name -> ``CUBE#products/NAME`` (empty for a
    cube without them), sorted by name. ``h2cm evaluate --compare`` and the claims study take
    these as they are."""
    p = Path(cube)
    names: list[str] = []
    if is_netcdf(p):
        import netCDF4

        try:
            with netCDF4.Dataset(p) as nc:
                if PRODUCTS_GROUP in nc.groups:
                    names = list(nc.groups[PRODUCTS_GROUP].groups)
        except OSError:
            return {}
    elif (p / PRODUCTS_GROUP).is_dir():
        names = [
            d.name
            for d in (p / PRODUCTS_GROUP).iterdir()
            if d.is_dir() and ((d / "zarr.json").exists() or (d / ".zgroup").exists())
        ]
    return {n: f"{cube}#{PRODUCTS_GROUP}/{n}" for n in sorted(names)}


def _time_dim(ds: xr.Dataset, key: str) -> str | None:
    dims = ds[key].dims
    if "lat" not in dims or "lon" not in dims:
        return None
    return next((d for d in ("time", "month") if d in dims), None)


def _positions(axis: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest index of each value on ``axis`` and whether it is on the axis."""
    idx = np.abs(axis[None, :] - values[:, None]).argmin(axis=1)
    return idx, np.abs(axis[idx] - values) <= GRID_TOLERANCE


def _where(lat: float, lon: float) -> str:
    return f"{abs(lat):g} {'S' if lat < 0 else 'N'}, {abs(lon):g} {'W' if lon < 0 else 'E'}"


def _grid_index(ds: xr.Dataset, lat: np.ndarray, lon: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray]:
    if "lat" not in ds.coords or "lon" not in ds.coords:
        raise ValueError(f"{label}: has no lat/lon coordinates")
    ii, ok_i = _positions(np.asarray(ds["lat"].values, dtype=np.float64), lat)
    jj, ok_j = _positions(np.asarray(ds["lon"].values, dtype=np.float64), lon)
    bad = ~(ok_i & ok_j)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{label}: is on another grid (the cube's cell at {_where(lat[k], lon[k])} is not one of its grid "
            f"points; {int(bad.sum())} of {len(lat)} cells are off it)"
        )
    return ii, jj


def _monthly_at(
    ds: xr.Dataset, keys: Sequence[str], ii: np.ndarray, jj: np.ndarray, months: pd.DatetimeIndex
) -> tuple[dict[str, np.ndarray], pd.DatetimeIndex]:
    """Monthly means (months, cells) of ``keys`` at grid points (ii, jj), and the months the
    product's time axis has at all (within ``months``)."""
    months = pd.DatetimeIndex(months)
    out, seen = {}, pd.DatetimeIndex([])
    end = months[-1] + pd.offsets.MonthBegin(1) if len(months) else None
    pts = {"lat": xr.DataArray(ii, dims="cell"), "lon": xr.DataArray(jj, dims="cell")}
    for k in keys:
        dim = _time_dim(ds, k)
        da = ds[k]
        t = pd.DatetimeIndex(da[dim].values)
        sel = np.asarray((t >= months[0]) & (t < end)) if end is not None else np.zeros(len(t), dtype=bool)
        da = da.isel({dim: np.flatnonzero(sel)}).isel(**pts).transpose(dim, "cell")
        key = t[sel].to_period("M").to_timestamp()
        frame = pd.DataFrame(np.asarray(da.values, dtype=np.float64), index=key).groupby(level=0).mean()
        out[k] = frame.reindex(months).to_numpy()
        seen = seen.union(pd.DatetimeIndex(frame.index))
    return out, seen


def product_monthly(
    path: str | Path, cube: str | Path, cells: np.ndarray, months: pd.DatetimeIndex, keys: Sequence[str]
) -> dict[str, np.ndarray]:
    """Monthly means ``(months, cells)`` of every variable of ``keys`` the product has, at the
    cube's land cells ``cells``; NaN where the product has no data. ValueError if the product's
    grid does not hold the cells or it has none of ``keys``."""
    ds = open_product(path)
    cube_ds = open_cube(cube)
    li, lj = land_cells(cube_ds)
    lat = np.asarray(cube_ds["lat"].values, dtype=np.float64)[li[cells]]
    lon = np.asarray(cube_ds["lon"].values, dtype=np.float64)[lj[cells]]
    have = [k for k in keys if k in ds and _time_dim(ds, k)]
    if not have:
        raise ValueError(f"product {path}: none of {', '.join(keys)}")
    ii, jj = _grid_index(ds, lat, lon, f"product {path}")
    return _monthly_at(ds, have, ii, jj, months)[0]


def load_products(
    products: Mapping[str, str],
    keys: Sequence[str],
    months: pd.DatetimeIndex,
    lat: np.ndarray,
    lon: np.ndarray,
    test: np.ndarray,
    extra: Sequence[tuple[np.ndarray, Sequence[str]]] = (),
) -> tuple[dict[str, dict[str, np.ndarray]], list[dict[str, dict[str, np.ndarray]]]]:
    """Every product's monthly means at the test cells, checked for a meaningful comparison.

    ``lat``/``lon``: coordinates of every land cell of the cube; ``test``: the test cells (land
    cell indices); ``keys``: the variables to compare (those the product has are read).
    ``extra``: further (cells, keys) to read without checks (e.g. all cells for regional
    cycles). Returns (name -> key -> (months, test cells), [name -> key -> (months, cells)
    per entry of ``extra``]). ValueError, one line naming the product, when it cannot be read,
    has none of ``keys``, is on another grid, lacks a month of ``months`` or has no data at a
    test cell.
    """
    months = pd.DatetimeIndex(months)
    test_values: dict[str, dict[str, np.ndarray]] = {}
    extra_values: list[dict[str, dict[str, np.ndarray]]] = [{} for _ in extra]
    for name, path in products.items():
        label = f"--compare {name} ({path})"
        try:
            ds = open_product(path)
        except ValueError as err:
            raise ValueError(f"--compare {name}: {err}") from None
        have = [k for k in keys if k in ds and _time_dim(ds, k)]
        if not have:
            raise ValueError(f"{label}: has none of the compared variables on (time, lat, lon) ({', '.join(keys)})")
        ii, jj = _grid_index(ds, lat[test], lon[test], label)
        values, seen = _monthly_at(ds, have, ii, jj, months)
        missing = months.difference(seen)
        if len(missing):
            span = f"{seen.min():%Y-%m}..{seen.max():%Y-%m}" if len(seen) else "no month"
            raise ValueError(
                f"{label}: covers {span}, not the evaluation period {months[0]:%Y-%m}..{months[-1]:%Y-%m} "
                f"({len(missing)} of {len(months)} months missing, first {missing[0]:%Y-%m})"
            )
        empty = ~np.logical_or.reduce([np.isfinite(v).any(axis=0) for v in values.values()])
        if empty.any():
            k = int(test[np.flatnonzero(empty)[0]])
            raise ValueError(
                f"{label}: has no data at {int(empty.sum())} of {len(test)} test cells "
                f"(first at {_where(lat[k], lon[k])})"
            )
        test_values[name] = values
        for out, (cells, ekeys) in zip(extra_values, extra, strict=True):
            ek = [k for k in ekeys if k in have]
            if ek:
                ei, ej = _grid_index(ds, lat[cells], lon[cells], label)
                out[name] = _monthly_at(ds, ek, ei, ej, months)[0]
    return test_values, extra_values


def parse_compare(items: Sequence[str] | None) -> dict[str, str]:
    """``NAME=PATH`` strings -> {name: path}; ValueError naming a malformed or repeated one."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, path = item.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise ValueError(f"--compare {item!r}: expected NAME=PATH")
        if name == "model" or not all(c.isalnum() or c in "_-." for c in name):
            raise ValueError(f"--compare {item!r}: NAME must be letters, digits, '_', '-' or '.', and not 'model'")
        if name in out:
            raise ValueError(f"--compare {item!r}: the name {name!r} is given twice")
        out[name] = path
    return out
