"""More checks of a cube, and of the store it lives in (``h2cm check``, docs/cli/check.md).

:func:`extra_problems` (run by :func:`h2cm.data.check.check_cube`, so also before any cube is
written): non-finite static inputs in land cells, gaps in the daily axis. :func:`truth_problems`:
the layout of a twin world's ``truth`` group (docs/data.md, "The truth group"). :func:`check_path`:
everything ``h2cm check`` reports for a path, including a store that cannot be opened (the
variable whose grid differs is named) and a chunk that cannot be read (variable and file named).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import CONSTANT_KEYS, DAILY_PARAMETER_KEYS, OUTPUT_KEYS, STATIC_PARAMETER_KEYS, VARIABLES


def _problem(severity: str, variable: str, message: str):
    from .check import Problem

    return Problem(severity, variable, message)


# --- inside a cube ----------------------------------------------------------------------------


def extra_problems(ds: xr.Dataset) -> list:
    """Non-finite static inputs in land cells; missing days in the daily axis."""
    out = []
    if "time" in ds.coords and ds["time"].ndim == 1 and ds.sizes.get("time", 0) > 1:
        try:
            t = pd.DatetimeIndex(ds["time"].values)
        except (TypeError, ValueError):
            t = None
        if t is not None and t.is_monotonic_increasing and not t.has_duplicates:
            full = pd.date_range(t[0].normalize(), t[-1].normalize(), freq="D")
            gaps = full.difference(t.normalize())
            if len(gaps):
                out.append(
                    _problem(
                        "error",
                        "time",
                        f"{len(gaps)} missing day(s) in {t[0].date()}..{t[-1].date()} (first {gaps[0].date()}); "
                        "expected one value per day without gaps (the model steps day by day)",
                    )
                )
    ok_dims = "static" in ds and set(ds["static"].dims) == {"lat", "lon", "feature"} and "feature" in ds.coords
    if ok_dims and "land_mask" in ds and set(ds["land_mask"].dims) == {"lat", "lon"}:
        mask = ds["land_mask"].fillna(0) == 1
        static = ds["static"].transpose("lat", "lon", "feature")
        bad = (~np.isfinite(static) & mask).sum(("lat", "lon"))
        finite = (np.isfinite(static) & mask).sum(("lat", "lon"))
        bad, finite = np.asarray(bad.values), np.asarray(finite.values)
        for i, name in enumerate(str(f) for f in ds["feature"].values):
            if bad[i] and finite[i]:  # an all-NaN feature is reported by check_cube already
                out.append(
                    _problem(
                        "error",
                        f"static[{name}]",
                        f"{int(bad[i])} land cell(s) with NaN or infinite values; expected finite static inputs "
                        "in every cell with land_mask == 1 (fill them or drop the cells from the mask)",
                    )
                )
    return out


# --- the truth group ------------------------------------------------------------------------------


def truth_problems(truth: xr.Dataset, ds: xr.Dataset) -> list:
    """The truth group against its documented layout (docs/data.md) and the cube's axes."""
    out, where = [], "truth"
    known = set(OUTPUT_KEYS) | set(DAILY_PARAMETER_KEYS) | set(STATIC_PARAMETER_KEYS) | set(CONSTANT_KEYS)
    usable = [str(k) for k in truth.data_vars if str(k) in known]
    if not usable:
        out.append(
            _problem(
                "error",
                where,
                f"none of its variables {sorted(map(str, truth.data_vars))} is a model output, parameter or "
                "constant; expected e.g. gpp (time, lat, lon), smmax (lat, lon), q10 ()",
            )
        )
    for dim in ("lat", "lon"):
        if dim in ds.coords and (dim not in truth.coords or truth.sizes.get(dim) != ds.sizes.get(dim)):
            out.append(
                _problem(
                    "error",
                    f"{where}/{dim}",
                    f"{truth.sizes.get(dim)} points; expected the cube's "
                    f"{ds.sizes.get(dim)} (the truth is indexed by the cube's grid positions)",
                )
            )
        elif dim in ds.coords and not np.allclose(truth[dim].values, ds[dim].values, atol=1e-6):
            out.append(_problem("error", f"{where}/{dim}", "values differ from the cube's; expected the same grid"))
    has_daily = any(set(truth[k].dims) != {"lat", "lon"} and truth[k].ndim for k in usable if k in OUTPUT_KEYS)
    if has_daily and "time" in ds.coords:
        if "time" not in truth.coords:
            out.append(_problem("error", f"{where}/time", "missing; expected the cube's daily time axis"))
        else:
            missing = pd.DatetimeIndex(ds["time"].values).difference(pd.DatetimeIndex(truth["time"].values))
            if len(missing):
                out.append(
                    _problem(
                        "error",
                        f"{where}/time",
                        f"{len(missing)} of the cube's days absent (first "
                        f"{missing[0].date()}); expected every day of the cube",
                    )
                )
    for key in usable:
        expected = (
            ("time", "lat", "lon") if key in OUTPUT_KEYS else ("lat", "lon") if key in STATIC_PARAMETER_KEYS else ()
        )
        if tuple(truth[key].dims) != expected and set(truth[key].dims) != set(expected):
            kind = "daily output or parameter" if expected else "global constant"
            kind = "static parameter" if key in STATIC_PARAMETER_KEYS else kind
            out.append(
                _problem("error", f"{where}/{key}", f"dims {tuple(truth[key].dims)}; expected {expected} (a {kind})")
            )
            continue
        units = truth[key].attrs.get("units")
        want = VARIABLES["output"][key].units
        if units is not None and " ".join(str(units).split()) != want:
            out.append(_problem("error", f"{where}/{key}", f"units {units!r}; expected {want!r}"))
    return out


# --- the store -----------------------------------------------------------------------------------


def _zarr_arrays(path: Path) -> dict[str, tuple[tuple[str, ...], tuple[int, ...]]]:
    """name -> (dims, shape) of the arrays of a zarr v2/v3 store's root, from the metadata files."""
    out = {}
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        meta = child / "zarr.json"
        try:
            if meta.is_file():
                m = json.loads(meta.read_text())
                if m.get("node_type") == "array":
                    out[child.name] = (tuple(m.get("dimension_names") or ()), tuple(m["shape"]))
            elif (child / ".zarray").is_file():
                m = json.loads((child / ".zarray").read_text())
                attrs = json.loads((child / ".zattrs").read_text()) if (child / ".zattrs").is_file() else {}
                out[child.name] = (tuple(attrs.get("_ARRAY_DIMENSIONS", ())), tuple(m["shape"]))
        except (OSError, ValueError, KeyError):
            continue
    return out


def diagnose_open_failure(path: Path, err: Exception) -> list:
    """Why a store does not open as one Dataset: the variables whose dimension sizes disagree."""
    if path.is_dir():
        arrays = _zarr_arrays(path)
        sizes: dict[str, dict[int, list[str]]] = {}
        for name, (dims, shape) in arrays.items():
            for d, n in zip(dims, shape, strict=False):
                sizes.setdefault(d, {}).setdefault(n, []).append(name)
        out = []
        for dim, by_size in sizes.items():
            if len(by_size) > 1:
                own = arrays.get(dim)  # the coordinate's own length, else the most common one
                common = own[1][0] if own and len(own[1]) == 1 else max(by_size, key=lambda n: len(by_size[n]))
                for n, names in sorted(by_size.items()):
                    if n != common:
                        for name in names:
                            out.append(
                                _problem(
                                    "error",
                                    name,
                                    f"{dim} has {n} points; expected {common} as the "
                                    f"coordinate {dim!r} and the other variables (a different grid)",
                                )
                            )
        if out:
            return out
    return [_problem("error", "(store)", f"cannot open {path} as a cube ({err}); expected a zarr store or NetCDF file")]


def _chunk_files(path: Path, name: str) -> list[Path]:
    base = path / name
    return sorted(p for p in base.rglob("*") if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs"))


def locate_unreadable(path: Path, ds: xr.Dataset, err: Exception) -> list:
    """The variables (and, for zarr, the chunk files) that cannot be read."""
    out = []
    for name in [*ds.data_vars, *ds.coords]:
        try:
            ds[name].data.sum().compute() if hasattr(ds[name].data, "compute") else np.asarray(ds[name].values)
        except Exception as var_err:  # noqa: BLE001 - any codec error
            file = str(path)
            if path.is_dir():
                import zarr

                arr = zarr.open_array(str(path / str(name)), mode="r")
                for chunk in _chunk_files(path, str(name)):
                    key = chunk.relative_to(path / str(name)).parts
                    idx = tuple(int(k) for k in (key[1:] if key[0] == "c" else ".".join(key).split(".")))
                    try:
                        arr.get_block_selection(idx)
                    except Exception:  # noqa: BLE001
                        file = str(chunk)
                        break
            out.append(
                _problem(
                    "error",
                    str(name),
                    f"cannot read {file} ({type(var_err).__name__}: {var_err}); "
                    "expected readable data (the file is corrupted or truncated: re-create it)",
                )
            )
    return out or [_problem("error", "(data)", f"reading {path} failed ({type(err).__name__}: {err})")]


def check_path(path: str | os.PathLike, chunks: dict[str, int] | None = None) -> list:
    """Every problem ``h2cm check`` reports for a cube path (errors and warnings)."""
    from .check import check_cube
    from .cube import TRUTH_GROUP, is_netcdf, open_cube

    path = Path(path)
    if not path.exists():
        return [_problem("error", "(store)", f"{path} does not exist; expected a zarr store or NetCDF file")]
    try:
        ds = open_cube(path, chunks=chunks)
    except Exception as err:  # noqa: BLE001 - xarray/zarr/netCDF4 raise many kinds
        return diagnose_open_failure(path, err)
    try:
        problems = check_cube(ds, source=str(path))
    except Exception as err:  # noqa: BLE001 - codec errors of a corrupted chunk
        return locate_unreadable(path, ds, err)
    has_truth = (path / TRUTH_GROUP).is_dir() if not is_netcdf(path) else _nc_has_group(path, TRUTH_GROUP)
    if has_truth:
        try:
            truth = (
                xr.open_dataset(path, group=TRUTH_GROUP, chunks={})
                if is_netcdf(path)
                else xr.open_zarr(path, group=TRUTH_GROUP, consolidated=False)
            )
        except Exception as err:  # noqa: BLE001
            return [
                *problems,
                _problem("error", "truth", f"cannot open the group ({err}); expected the layout of docs/data.md"),
            ]
        problems += truth_problems(truth, ds)
    return problems


def _nc_has_group(path: Path, group: str) -> bool:
    try:
        import netCDF4

        with netCDF4.Dataset(path) as nc:
            return group in nc.groups
    except OSError:
        return False


def require_structure(ds: xr.Dataset, source: str = "cube") -> None:
    """CubeError naming every structural problem (variables, dims, coordinates, units; no data
    read): what the loaders need before they read cells."""
    from .check import _Checker
    from .cube import raise_on_errors

    checker = _Checker(ds, source)
    checker.coords()
    checker.presence_and_dims()
    checker.units()
    raise_on_errors([p for p in checker.problems if p.severity == "error"], f"cube {source}")
