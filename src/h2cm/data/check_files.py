"""Checks of a cube on disk (``h2cm check PATH``, docs/cli/check.md): everything
:func:`h2cm.data.check.check_cube` finds, plus a store that cannot be opened (the variable whose
grid differs is named), a chunk that cannot be read (variable and file named) and the layout of a
twin world's ``truth`` group.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from .check import check_cube
from .check_store import truth_problems
from .cube import TRUTH_GROUP, is_netcdf, open_cube
from .problems import Problem


def _problem(severity: str, variable: str, message: str) -> Problem:
    return Problem(severity, variable, message)


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
