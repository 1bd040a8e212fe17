"""Other simulation products on a run's cells (``h2cm evaluate --compare NAME=PATH``).

A product is any CF dataset (zarr or NetCDF) with variables named as h2cm's outputs (``gpp``,
``nee``, ``ter``, ...; gC m-2 d-1) on ``(time, lat, lon)``, daily or monthly, on the cube's grid
(the cube's cells are looked up by coordinate): an ``h2cm predict`` store, or a product such as
the twin world's ``products/*`` groups. ``PATH#GROUP`` reads a zarr group inside a store.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..data.cube import land_cells, open_cube


def open_product(path: str | Path) -> xr.Dataset:
    """The product at ``path`` (``PATH#GROUP`` for a group of a zarr store); ValueError if unreadable."""
    text = str(path)
    group = None
    if "#" in text:
        text, group = text.split("#", 1)
    p = Path(text)
    if not p.exists():
        raise ValueError(f"product {path}: no such file or store")
    try:
        if p.suffix == ".nc":
            return xr.open_dataset(p, group=group)
        return xr.open_zarr(p, group=group, consolidated=False)
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"product {path}: cannot be read ({err})") from err


def product_monthly(
    path: str | Path, cube: str | Path, cells: np.ndarray, months: pd.DatetimeIndex, keys: Sequence[str]
) -> dict[str, np.ndarray]:
    """Monthly means ``(months, cells)`` of every variable of ``keys`` the product has, at the
    cube's land cells ``cells``; NaN where the product has no data. ValueError if the product's
    grid does not hold the cells or it has none of ``keys``."""
    ds = open_product(path)
    cube_ds = open_cube(cube)
    li, lj = land_cells(cube_ds)
    lat = np.asarray(cube_ds["lat"].values)[li[cells]]
    lon = np.asarray(cube_ds["lon"].values)[lj[cells]]
    have = [k for k in keys if k in ds]
    if not have:
        raise ValueError(f"product {path}: none of {', '.join(keys)}")
    plat, plon = np.asarray(ds["lat"].values), np.asarray(ds["lon"].values)
    ii = _positions(plat, lat, f"product {path}: latitude")
    jj = _positions(plon, lon, f"product {path}: longitude")
    time = pd.DatetimeIndex(ds["time"].values)
    key = time.to_period("M").to_timestamp()
    out = {}
    for k in have:
        values = np.asarray(ds[k].transpose("time", "lat", "lon").values[:, ii, jj], dtype=np.float64)
        frame = pd.DataFrame(values, index=key).groupby(level=0).mean()
        out[k] = frame.reindex(pd.DatetimeIndex(months)).to_numpy()
    return out


def _positions(axis: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    idx = np.abs(axis[None, :] - values[:, None]).argmin(axis=1)
    off = np.abs(axis[idx] - values)
    if (off > 1e-3).any():
        raise ValueError(f"{what} {values[off > 1e-3][0]:g} is not on the product's grid")
    return idx


def parse_compare(items: Sequence[str] | None) -> dict[str, str]:
    """``NAME=PATH`` strings -> {name: path}; ValueError naming a malformed one."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--compare {item!r}: expected NAME=PATH")
        out[name] = path
    return out
