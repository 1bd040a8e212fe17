"""``h2cm import MAPPING.yaml --out CUBE``: any CF NetCDF (or zarr) files -> an h2cm cube.

The mapping (:mod:`h2cm.data.cf_mapping`, docs/cli/import.md) names the file(s) and source
variable of each cube variable; units are converted with pint (:mod:`h2cm.data.cf_units`), time
steps and grids put on the cube's axes (:mod:`h2cm.data.cf_grid`):

- forcing: daily means of every source step (amounts per step become rates first, so daily sums
  of amounts); the days kept are those every forcing variable has (or ``period``), with no gap;
- monthly constraints: monthly means from any step up to a month, NaN where a product has no
  data (outside its period or region); ``cue`` one map (a time axis is averaged);
- the grid is the first forcing variable's (``rn``) 1-degree grid, or its part inside ``region``;
  every other forcing variable must cover it;
- static inputs: every entry's variables (or the listed ones) become features named as in the
  files (a third dimension gives one feature per value of its coordinate); features known to the
  schema are converted to its units, others kept as they are (units in ``h2cm_feature_units``);
- the land mask and cell area from the mapping, else derived (and the notes say so): land = the
  cells where every forcing variable has data on every day and every static feature is finite;
  areas of the 1-degree cells on a sphere (R = 6371 km).

Everything stays lazy (dask) except the derived land mask (one pass over the forcing); the cube
is then validated and written by :func:`h2cm.data.cube.save_cube` (nothing written on errors).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..constraints import MONTHLY_CONSTRAINT_KEYS, STATIC_CONSTRAINT_KEYS
from ..schema import FORCING_KEYS, VARIABLES
from . import cf_grid
from .cf_mapping import Mapping, MappingError, Source, convert_units, open_source, prepare, read_mapping, variable
from .cube import grid_cell_area, month_starts, save_cube, with_cf_attrs


@dataclass
class Imported:
    """The assembled cube (lazy, not yet validated) and one note per decision taken."""

    cube: xr.Dataset
    notes: list[str]


def _daily(src: Source) -> tuple[xr.DataArray, str]:
    da, grid_note = prepare(variable(open_source(src), src), src, need_time=True)
    units = VARIABLES["forcing"][src.key].units
    da, rule = convert_units(da, src, units)
    da, per_day = cf_grid.to_daily(da, src.where)
    steps = f"daily means of {per_day} steps" if per_day > 1 else "daily values"
    return da, "; ".join(x for x in (rule, steps, grid_note) if x)


def _grid(ref: xr.DataArray, region: dict, where: str) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(ref["lat"].values, dtype=np.float64)
    lon = np.asarray(ref["lon"].values, dtype=np.float64)
    if "lat" in region:
        lat = lat[(lat >= min(region["lat"])) & (lat <= max(region["lat"]))]
    if "lon" in region:
        lon = lon[(lon >= min(region["lon"])) & (lon <= max(region["lon"]))]
    if len(lat) == 0 or len(lon) == 0:
        raise MappingError(f"region {region} holds no cell of the grid of {where}; expected an overlapping region")
    cf_grid.check_one_degree(lat, lon, where)
    return lat, lon


def _days(forcing: dict[str, xr.DataArray], period: tuple) -> pd.DatetimeIndex:
    first = max(pd.Timestamp(da["time"].values[0]) for da in forcing.values())
    last = min(pd.Timestamp(da["time"].values[-1]) for da in forcing.values())
    if period[0] is not None:
        first = max(first, pd.Timestamp(period[0]))
    if period[1] is not None:
        last = min(last, pd.Timestamp(period[1]))
    if first > last:
        spans = ", ".join(
            f"{k} {str(v['time'].values[0])[:10]}..{str(v['time'].values[-1])[:10]}" for k, v in forcing.items()
        )
        raise MappingError(
            f"the forcing variables share no day inside period {list(period)} ({spans}); expected a common period"
        )
    days = pd.date_range(first, last, freq="D")
    for key, da in forcing.items():
        t = pd.DatetimeIndex(da["time"].values)
        gaps = days.difference(t)
        if len(gaps):
            raise cf_grid.GridError(
                f"{key}: {len(gaps)} missing day(s) in {first.date()}..{last.date()} (first "
                f"{gaps[0].date()}); expected every day"
            )
    return days


def _cover(da: xr.DataArray, lat: np.ndarray, lon: np.ndarray, key: str, ref: str) -> xr.DataArray:
    have_lat, have_lon = np.asarray(da["lat"].values), np.asarray(da["lon"].values)
    if (
        lat.min() < have_lat.min() - 0.01
        or lat.max() > have_lat.max() + 0.01
        or lon.min() < have_lon.min() - 0.01
        or lon.max() > have_lon.max() + 0.01
    ):
        raise cf_grid.GridError(
            f"{key}: grid lat {have_lat.min():g}..{have_lat.max():g}, lon {have_lon.min():g}..{have_lon.max():g} "
            f"does not cover the cube's grid (lat {lat.min():g}..{lat.max():g}, lon {lon.min():g}..{lon.max():g}, "
            f"from {ref}); expected forcing over the whole grid"
        )
    return cf_grid.align(da, lat, lon)


def _constraint(src: Source, lat, lon, months: pd.DatetimeIndex) -> tuple[xr.DataArray, str]:
    static = src.key in STATIC_CONSTRAINT_KEYS
    da, grid_note = prepare(variable(open_source(src), src), src, need_time=not static)
    da, rule = convert_units(da, src, VARIABLES["constraint"][src.key].units)
    if static:
        da = da.mean("time") if "time" in da.dims else da
        da = cf_grid.align(da.transpose("lat", "lon"), lat, lon)
    else:
        da = cf_grid.to_monthly(da, src.where).transpose("month", "lat", "lon")
        inside = pd.DatetimeIndex(da["month"].values).isin(months)
        if not inside.any():
            raise MappingError(
                f"{src.where}: no month inside the forcing period {months[0]:%Y-%m}..{months[-1]:%Y-%m}; "
                "expected an overlapping period (or drop the variable)"
            )
        da = cf_grid.align(da.reindex(month=months), lat, lon)
    return da.astype(np.float32), "; ".join(
        x for x in (rule, "static map" if static else "monthly means", grid_note) if x
    )


def _features(src: Source, lat, lon) -> tuple[list[xr.DataArray], list[str]]:
    ds = open_source(src)
    names = src.variables or ([src.variable] if src.variable else [str(v) for v in ds.data_vars if ds[v].ndim >= 2])
    out, notes = [], []
    for name in names:
        da, grid_note = prepare(variable(ds, src, name), src, need_time=False)
        if "time" in da.dims:
            raise MappingError(f"{src.where}:{name}: {da.sizes['time']} time steps; expected one static map")
        extra = [d for d in da.dims if d not in ("lat", "lon")]
        if len(extra) > 1:
            raise MappingError(f"{src.where}:{name}: dims {tuple(da.dims)}; expected (lat, lon) or (lat, lon, feature)")
        if extra:
            labels = da[extra[0]].values if extra[0] in da.coords else np.arange(da.sizes[extra[0]])
            layers = [
                (
                    str(v) if not np.issubdtype(np.asarray(labels).dtype, np.number) else f"{name}_{v}",
                    da.isel({extra[0]: i}, drop=True),
                )
                for i, v in enumerate(labels)
            ]
        else:
            layers = [(src.feature if src.feature and len(names) == 1 else name, da)]
        for feature, layer in layers:
            known = VARIABLES["static"].get(feature)
            units = src.units or layer.attrs.get("units")
            if known is not None:
                layer, rule = convert_units(
                    layer,
                    Source(f"static[{feature}]", src.files, name, units=units, scale=src.scale, offset=src.offset),
                    known.units,
                )
            else:
                layer, rule = layer * src.scale + src.offset, f"kept in {units or 'no units'} (not a schema feature)"
            layer.attrs["units"] = known.units if known is not None else str(units or "unknown")
            out.append(cf_grid.align(layer.transpose("lat", "lon"), lat, lon).astype(np.float32).rename(feature))
            notes.append(
                f"static[{feature}] <- {src.files[0].name}:{name}: {rule}" + (f"; {grid_note}" if grid_note else "")
            )
    return out, notes


def _mask_and_area(mapping: Mapping, data: dict, lat, lon) -> tuple[xr.DataArray, xr.DataArray, list[str]]:
    notes = []
    if mapping.land_mask is not None:
        src = mapping.land_mask
        da, _ = prepare(variable(open_source(src), src), src, need_time=False)
        frac = cf_grid.align(da.squeeze(drop=True).transpose("lat", "lon"), lat, lon) * src.scale + src.offset
        mask = (frac.fillna(0) >= 0.5).astype(np.int8)
        notes.append(f"land_mask <- {src.files[0].name}: cells with an area-weighted value >= 0.5")
    else:
        ok = data["static"].notnull().all("feature")
        for key in FORCING_KEYS:
            ok = ok & data[key].notnull().all("time")
        mask = ok.astype(np.int8).compute()
        notes.append(
            f"land_mask: derived (none in the mapping): {int(mask.sum())} cells where every forcing "
            "variable has data on every day and every static feature is finite"
        )
    if mapping.cell_area is not None:
        src = mapping.cell_area
        da, _ = prepare(variable(open_source(src), src), src, need_time=False, extensive=True)
        da, rule = convert_units(da.squeeze(drop=True).transpose("lat", "lon"), src, "m2")
        area = cf_grid.align(da, lat, lon).astype(np.float64)
        notes.append(f"cell_area <- {src.files[0].name}: {rule}")
    else:
        area = xr.DataArray(grid_cell_area(lat, lon), dims=("lat", "lon"))
        notes.append("cell_area: derived (none in the mapping): 1-degree cells on a sphere of radius 6371 km")
    return mask.drop_vars([c for c in mask.coords if c not in ("lat", "lon")]), area, notes


def build_cube(mapping: Mapping) -> Imported:
    """The cube described by ``mapping`` (lazy; validated only when written)."""
    notes: list[str] = []
    forcing: dict[str, xr.DataArray] = {}
    for key in FORCING_KEYS:
        forcing[key], note = _daily(mapping.sources[key])
        notes.append(f"{mapping.sources[key].where}: {note}")
    lat, lon = _grid(forcing["rn"], mapping.region, mapping.sources["rn"].where)
    days = _days(forcing, mapping.period)
    data: dict[str, xr.DataArray] = {
        k: _cover(da.sel(time=days), lat, lon, k, "rn").transpose("time", "lat", "lon") for k, da in forcing.items()
    }
    months = month_starts(days)
    for key, src in mapping.sources.items():
        if key in FORCING_KEYS:
            continue
        data[key], note = _constraint(src, lat, lon, months)
        notes.append(f"{src.where}: {note}")
    layers: list[xr.DataArray] = []
    for src in mapping.static:
        found, static_notes = _features(src, lat, lon)
        layers += found
        notes += static_notes
    names = [str(x.name) for x in layers]
    if len(set(names)) != len(names):
        raise MappingError(
            f"static: feature name(s) {sorted({n for n in names if names.count(n) > 1})} given twice; "
            "expected unique names (use 'feature:' or 'variables:')"
        )
    data["static"] = (
        xr.concat(layers, dim="feature", coords="minimal", compat="override")
        .assign_coords(feature=np.array(names, dtype=object))
        .transpose("lat", "lon", "feature")
    )
    data["static"].attrs = {"h2cm_feature_units": "; ".join(f"{x.name}: {x.attrs['units']}" for x in layers)}
    data["land_mask"], data["cell_area"], more = _mask_and_area(mapping, data, lat, lon)
    notes += more
    ds = xr.Dataset({k: v.drop_vars([c for c in v.coords if c not in v.dims]) for k, v in data.items()})
    ds = ds.assign_coords(time=days, month=months, lat=lat, lon=lon)
    now = pd.Timestamp.now(tz="UTC")
    ds.attrs.update(
        title=mapping.title or f"h2cm cube imported with {mapping.path.name}",
        source=f"h2cm import {mapping.path}",
        history=f"{now:%Y-%m-%dT%H:%M:%SZ} h2cm import {mapping.path}",
        h2cm_import_notes=" | ".join(notes),
    )
    return Imported(with_cf_attrs(ds), notes)


def import_cf(mapping: str | os.PathLike, out: str | os.PathLike) -> tuple[Path, list[str]]:
    """Build the cube of a mapping file and write it to ``out`` (validated, atomic)."""
    imported = build_cube(read_mapping(mapping))
    return save_cube(imported.cube, out), imported.notes


__all__ = ["Imported", "MappingError", "build_cube", "import_cf", "read_mapping", "MONTHLY_CONSTRAINT_KEYS"]
