"""The mapping file of ``h2cm import`` and the reading of one source (docs/cli/import.md).

A mapping names, for each cube variable, the file(s) (paths or globs, relative to the mapping's
folder) and the source variable, with optional ``units`` (when the files have none), ``scale``
and ``offset`` (applied in the source's units, before the unit conversion) and ``time_offset``
(added to the time stamps, e.g. ``-1h`` for values stamped at the end of their hour). Reading a
source: lazy open, canonical dimensions, real dates, the cube's orientation and 1-degree grid
(:mod:`h2cm.data.cf_grid`), then the unit conversion (:mod:`h2cm.data.cf_units`).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr
import yaml

from ..constraints import MONTHLY_CONSTRAINT_KEYS, STATIC_CONSTRAINT_KEYS
from ..schema import FORCING_KEYS
from . import cf_grid
from .cf_units import conversion, source_units

OPTIONS = ("title", "period", "region", "static", "land_mask", "cell_area")
SPEC_KEYS = ("files", "variable", "variables", "feature", "units", "scale", "offset", "time_offset")


class MappingError(ValueError):
    """The mapping file is not valid; the message names the key."""


@dataclass
class Source:
    """One entry of the mapping: files, source variable(s) and optional corrections."""

    key: str
    files: list[Path]
    variable: str | None = None
    variables: list[str] | None = None
    feature: str | None = None
    units: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    time_offset: str | None = None

    @property
    def where(self) -> str:
        names = self.files[0].name + (f" (+{len(self.files) - 1} files)" if len(self.files) > 1 else "")
        return f"{self.key} <- {names}" + (f":{self.variable}" if self.variable else "")


@dataclass
class Mapping:
    sources: dict[str, Source]
    static: list[Source]
    land_mask: Source | None = None
    cell_area: Source | None = None
    title: str | None = None
    period: tuple[str | None, str | None] = (None, None)
    region: dict[str, tuple[float, float]] = field(default_factory=dict)
    path: Path = Path(".")


def _files(key: str, spec, base: Path) -> list[Path]:
    patterns = spec if isinstance(spec, list) else [spec]
    out: list[Path] = []
    for pattern in patterns:
        p = Path(os.path.expanduser(str(pattern)))
        p = p if p.is_absolute() else base / p
        found = sorted(Path(f) for f in glob.glob(str(p)))
        if not found:
            raise MappingError(f"{key}: no file matches {str(pattern)!r} (relative to {base}); expected existing files")
        out += found
    return out


def _source(key: str, spec, base: Path) -> Source:
    if isinstance(spec, str | list):
        spec = {"files": spec}
    if not isinstance(spec, dict) or "files" not in spec:
        raise MappingError(f"{key}: expected a file path/glob or a mapping with 'files' (and 'variable', ...)")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise MappingError(f"{key}: unknown key(s) {unknown}; expected some of {', '.join(SPEC_KEYS)}")
    try:
        scale, offset = float(spec.get("scale", 1.0)), float(spec.get("offset", 0.0))
    except (TypeError, ValueError):
        raise MappingError(f"{key}: scale/offset must be numbers") from None
    variables = spec.get("variables")
    if variables is not None and not isinstance(variables, list):
        raise MappingError(f"{key}: 'variables' must be a list of names")
    return Source(
        key,
        _files(key, spec["files"], base),
        spec.get("variable"),
        variables,
        spec.get("feature"),
        None if spec.get("units") is None else str(spec["units"]),
        scale,
        offset,
        spec.get("time_offset"),
    )


def read_mapping(path: str | os.PathLike) -> Mapping:
    """Parse and check a mapping file (paths relative to its folder)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mapping {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise MappingError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: expected a mapping of cube variables to files")
    base = path.resolve().parent
    known = (*FORCING_KEYS, *MONTHLY_CONSTRAINT_KEYS, *STATIC_CONSTRAINT_KEYS)
    unknown = [k for k in raw if k not in known and k not in OPTIONS]
    if unknown:
        raise MappingError(
            f"{path}: unknown key(s) {unknown}; expected cube variables ({', '.join(known)}) or "
            f"options ({', '.join(OPTIONS)})"
        )
    missing = [k for k in FORCING_KEYS if k not in raw]
    if missing:
        raise MappingError(f"{path}: no entry for the forcing variable(s) {missing}; expected all of {FORCING_KEYS}")
    static = raw.get("static") or []
    if not isinstance(static, list) or not static:
        raise MappingError(f"{path}: 'static' must be a non-empty list of files (or entries with 'files')")
    period = raw.get("period") or [None, None]
    if not isinstance(period, list) or len(period) != 2:
        raise MappingError(f"{path}: 'period' must be [first day, last day]")
    region = raw.get("region") or {}
    if not isinstance(region, dict) or set(region) - {"lat", "lon"}:
        raise MappingError(f"{path}: 'region' must be {{lat: [south, north], lon: [west, east]}}")
    return Mapping(
        sources={k: _source(k, v, base) for k, v in raw.items() if k in known},
        static=[_source(f"static[{i}]", s, base) for i, s in enumerate(static)],
        land_mask=_source("land_mask", raw["land_mask"], base) if raw.get("land_mask") else None,
        cell_area=_source("cell_area", raw["cell_area"], base) if raw.get("cell_area") else None,
        title=raw.get("title"),
        period=tuple(None if p is None else str(p) for p in period),
        region={k: tuple(float(x) for x in v) for k, v in region.items()},
        path=path,
    )


# --- reading ------------------------------------------------------------------------------------


def open_source(src: Source) -> xr.Dataset:
    """The source files as one lazy Dataset (time decoded with cftime for every calendar)."""
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    try:
        if len(src.files) == 1 and src.files[0].suffix == ".zarr":
            return xr.open_zarr(src.files[0], decode_times=coder, chunks={})
        if len(src.files) == 1:
            return xr.open_dataset(src.files[0], decode_times=coder, chunks={})
        return xr.open_mfdataset(
            src.files,
            decode_times=coder,
            chunks={},
            combine="by_coords",
            data_vars="minimal",
            coords="minimal",
            compat="override",
            join="exact",
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise MappingError(f"{src.where}: cannot open ({err}); expected NetCDF or zarr files") from None


def variable(ds: xr.Dataset, src: Source, name: str | None = None) -> xr.DataArray:
    """The source variable: ``name``/``variable:``, else the one named like the cube variable,
    else the file's only variable with two or more dimensions."""
    name = name or src.variable
    if name is None:
        several = [str(v) for v in ds.data_vars if ds[v].ndim >= 2]
        name = src.key if src.key in ds.data_vars else (several[0] if len(several) == 1 else None)
        if name is None:
            raise MappingError(
                f"{src.where}: which variable? found {list(ds.data_vars)}; expected 'variable:' in the mapping"
            )
    if name not in ds.data_vars:
        raise MappingError(f"{src.where}: no variable {name!r} (found {list(ds.data_vars)})")
    return ds[name]


def prepare(da: xr.DataArray, src: Source, need_time: bool, extensive: bool = False) -> tuple[xr.DataArray, str]:
    """Canonical dims, real dates, north-to-south / west-to-east, 1 degree; a note on the grid."""
    da = cf_grid.canonical_dims(da, src.where, need_time)
    extra = [d for d in da.dims if d not in ("time", "lat", "lon")]
    single = [d for d in extra if da.sizes[d] == 1]
    da = da.isel({d: 0 for d in single}, drop=True)
    if "time" in da.dims:
        if src.time_offset:
            da = da.assign_coords(time=da.indexes["time"] + pd.Timedelta(src.time_offset).to_pytimedelta())
        da = cf_grid.real_dates(da, src.where, daily=need_time)
        if not pd.DatetimeIndex(da["time"].values).is_monotonic_increasing:
            da = da.sortby("time")
    da = cf_grid.normalise_orientation(da)
    da, factor = cf_grid.to_one_degree(da, src.where, extensive)
    note = f"coarsened {factor} x {factor} fine cells per 1-degree cell (area weights)" if factor > 1 else ""
    return da, note


def convert_units(da: xr.DataArray, src: Source, target: str) -> tuple[xr.DataArray, str]:
    """``scale``/``offset`` of the mapping, then pint's conversion to ``target``."""
    units = source_units(da, src.units, src.where)
    conv = conversion(units, target, src.where)
    if src.scale != 1.0 or src.offset != 0.0:
        da = da * src.scale + src.offset
    steps = None
    if conv.per_step:
        if "time" not in da.dims:
            raise MappingError(
                f"{src.where}: units {units!r} are an amount but there is no time axis; expected a rate in {target!r}"
            )
        steps = cf_grid.step_days(pd.DatetimeIndex(da["time"].values), src.where)
    return conv.apply(da, steps), conv.rule
