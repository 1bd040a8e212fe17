"""``h2cm predict``: every fold's best model over a cube's cells -> CF-compliant daily outputs.

The result (zarr directory or NetCDF file) holds every output of docs/cli/predict.md as the
ensemble median, minimum and maximum across folds and, unless ``--no-folds``, each fold's values
(layout: :mod:`h2cm.evaluation.outputs`); for a run of the pure LSTM baseline, only the variables
it predicts (no parameters or constants). Memory stays bounded: cells are simulated in batches
of whole spatial tiles (one tile = one storage chunk) and one calendar year at a time, and each
block is written as soon as it is done. The store is written under a temporary name in the same
folder and renamed at the end, so a crashed run never leaves a half-written result under ``OUT``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from .. import atomic, runtime
from ..data.gridio import write_cells
from . import io
from .ensemble import ensemble_constants, ensemble_static_keys, run_ensemble, select_outputs
from .outputs import ensemble_stats, ensemble_template, netcdf_dataset, stat_name
from .rundir import RunDir, RunDirError
from .views import monthly_means


def resolve_cube(run: RunDir, cube) -> Path:
    """The cube to use: ``cube`` if given, else the one recorded in the run's config."""
    path = Path(cube) if cube else run.cube_path
    if path is None:
        raise RunDirError(f"{run.path / 'config.yaml'} names no cube; pass --cube CUBE")
    if not path.exists():
        raise FileNotFoundError(f"cube not found: {path}")
    return path


def select_cells(run: RunDir, ds: xr.Dataset, cells: str | Sequence[int]) -> np.ndarray:
    """``"test"`` (the run's held-out cells), ``"all"`` (every land cell) or explicit indices."""
    n_land = int((np.asarray(ds["land_mask"].values) == 1).sum())
    if isinstance(cells, str):
        if cells == "test":
            idx = run.test_cells
        elif cells == "all":
            idx = np.arange(n_land)
        else:
            raise ValueError(f"--cells must be 'test' or 'all', got {cells!r}")
    else:
        idx = np.asarray(cells, dtype=np.int64)
    if idx.size == 0:
        raise ValueError("no cells selected")
    if idx.min() < 0 or idx.max() >= n_land:
        raise IndexError(f"cell index out of range: the cube has {n_land} land cells")
    return np.unique(idx)


def tile_batches(ii: np.ndarray, jj: np.ndarray, cells: np.ndarray, tile: int, batch_cells: int) -> list[np.ndarray]:
    """Batches of cell indices made of whole ``tile x tile`` grid tiles (so no storage chunk is
    written by two batches); each batch has about ``batch_cells`` cells (at least one tile)."""
    key = (ii // tile) * 1_000_000 + (jj // tile)
    order = np.lexsort((cells, key))
    key, cells = key[order], cells[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    out, current = [], []
    size = 0
    for a, b in zip(starts, ends, strict=True):
        current.append(cells[a:b])
        size += b - a
        if size >= batch_cells:
            out.append(np.concatenate(current))
            current, size = [], 0
    if current:
        out.append(np.concatenate(current))
    return out


class _Writer:
    """Writes ensemble blocks into a zarr store created from :func:`ensemble_template`."""

    def __init__(self, path: Path, template: xr.Dataset, ii, jj, monthly: bool, per_fold: bool):
        self.group = zarr.open_group(str(path), mode="r+")
        self.time = pd.DatetimeIndex(template["time"].values)
        self.ii, self.jj = ii, jj
        self.monthly, self.per_fold = monthly, per_fold
        self.ny = template.sizes["lat"]

    def write_block(self, block, keys: Sequence[str]) -> None:
        times = block.time
        values = block.outputs
        if self.monthly:
            months, _ = monthly_means(values[keys[0]][0], times)
            values = {k: monthly_means(np.moveaxis(v, 1, 0), times)[1] for k, v in values.items()}
            values = {k: np.moveaxis(v, 0, 1) for k, v in values.items()}
            times = months
        t0 = int(self.time.get_indexer([times[0]])[0])
        if t0 < 0:
            raise RuntimeError(f"block time {times[0]} not in the output time axis")
        ts = slice(t0, t0 + len(times))
        rows, cols, band = self.ii[block.cells], self.jj[block.cells], (0, self.ny)
        for key in keys:
            v = values[key]  # (F, T, N)
            for stat, arr in ensemble_stats(v, axis=0).items():
                write_cells(self.group[stat_name(key, stat)], arr, rows, cols, band, lead=(ts,))
            if self.per_fold:
                write_cells(self.group[stat_name(key, "fold")], v, rows, cols, band, lead=(slice(None), ts))
        if block.first:  # a batch holds whole tiles (tile_batches): no other batch writes into them
            for key, v in block.static.items():  # (F, N)
                entries = dict(ensemble_stats(v, axis=0))
                if self.per_fold:
                    entries["fold"] = v
                for stat, arr in entries.items():
                    write_cells(self.group[stat_name(key, stat)], arr, rows, cols, band)

    def write_constants(self, constants: dict[str, np.ndarray]) -> None:
        for key, v in constants.items():
            for stat, arr in ensemble_stats(v, axis=0).items():
                self.group[stat_name(key, stat)][...] = np.asarray(arr, dtype=np.float64)
            if self.per_fold:
                self.group[stat_name(key, "fold")][:] = v


def predict(
    run,
    out,
    cube=None,
    cells: str | Sequence[int] = "test",
    period: str | tuple | None = None,
    monthly: bool = False,
    per_fold: bool = True,
    batch_cells: int = 256,
    tile: int = 10,
    threads: int | None = None,
    progress: bool = True,
    keys: str | Sequence[str] = "all",
    device: str = "cpu",
    compile: bool = False,
) -> Path:
    """Simulate ``cells`` of ``cube`` with every fold of ``run`` and write the ensemble to ``out``.

    ``out`` ending in ``.nc`` gives NetCDF-4 (written through a temporary zarr store), anything
    else a zarr (v2) directory. ``keys``: the daily outputs to write, ``"all"`` for every one the
    run's models produce (for the pure LSTM: the variables it predicts); naming one they do not
    produce is a ValueError, raised before anything is written. ``device``: where the models run
    (``cuda`` for a GPU); ``compile``: compiled daily loops (CUDA graphs on a GPU), worth it for
    many cells (a compilation takes about a minute on CPU, cached on disk). Returns the path written.
    """
    runtime.configure(threads=threads)
    dev = runtime.device(device)
    t_start = time.perf_counter()
    rd = RunDir.open(run)
    out = Path(out)
    cube_path = resolve_cube(rd, cube)
    ds = io.open_cube(cube_path)
    sel = select_cells(rd, ds, cells)
    ii_all, jj_all = io.land_grid_index(ds)
    days = io.period_days(ds["time"].values, period, rd.period)
    models = rd.load_models()
    keys = select_outputs(models, keys, run=rd.path)
    constants = ensemble_constants(models)  # none for the pure LSTM
    described = cells if isinstance(cells, str) else f"{len(sel)} listed cells"
    template = _template(
        rd, ds, cube_path, days, models, keys, constants, (described, len(sel)), per_fold, monthly, tile
    )
    netcdf = out.suffix.lower() in (".nc", ".nc4", ".netcdf")
    with atomic.atomic_path(out) as tmp:  # a crash leaves the previous output or none
        store = atomic.temporary_path(out.with_suffix(".zarr")) if netcdf else tmp
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                template.to_zarr(store, mode="w", compute=False, zarr_format=2, consolidated=True)
            writer = _Writer(store, template, ii_all, jj_all, monthly, per_fold)
            batches = tile_batches(ii_all[sel], jj_all[sel], sel, tile, batch_cells)
            per = (days[0], days[-1])
            blocks = run_ensemble(
                models,
                lambda c: io.load_cells(ds, c, per),
                batches,
                keys,
                progress=progress,
                desc="predict",
                device=dev,
                compile=compile,
            )
            for block in blocks:
                writer.write_block(block, keys)
            writer.write_constants(constants)
            if netcdf:
                _zarr_to_netcdf(store, tmp)
        finally:
            if netcdf:
                atomic.remove_path(store)
    if progress:
        print(
            f"wrote {out} ({len(sel)} cells x {len(days)} days x {len(rd.folds)} folds) "
            f"in {time.perf_counter() - t_start:.1f} s"
        )
    return out


def _template(
    rd: RunDir, ds, cube_path, days, models, keys, constants, cells, per_fold: bool, monthly: bool, tile: int
):
    """The empty output dataset (:func:`ensemble_template`) with the run's provenance; ``cells``:
    (how they were chosen, how many)."""
    return ensemble_template(
        days,
        ds["lat"].values,
        ds["lon"].values,
        rd.folds,
        keys,
        per_fold=per_fold,
        monthly=monthly,
        chunks=(366, tile),
        static_keys=ensemble_static_keys(models),
        constant_keys=tuple(constants),
        attrs={
            "title": f"H2CM simulation ({models[0].label}): ensemble of cross-validation folds",
            "h2cm_model": models[0].kind,
            "h2cm_run": str(rd.path.resolve()),
            "h2cm_cube": str(Path(cube_path).resolve()),
            "h2cm_cells": cells[0],
            "h2cm_n_cells": int(cells[1]),
            "h2cm_folds": " ".join(str(k) for k in rd.folds),
            "h2cm_time_resolution": "monthly means" if monthly else "daily",
            "h2cm_spinup": "one pass over the simulated period from the initial state (docs/model.md)",
        },
    )


def _zarr_to_netcdf(src: Path, dst: Path) -> None:
    ds, encoding = netcdf_dataset(xr.open_zarr(src))  # CF: bounds without _FillValue (outputs.py)
    ds.to_netcdf(dst, encoding=encoding, engine="netcdf4")
