"""Run every fold's model over cells of a cube, in memory-bounded blocks.

Cells are processed in batches (each batch: one spin-up per fold over the whole period, then the
period itself); the period is cut into calendar years so that a block holds at most
``folds x year x batch`` values per output. Consumers (:mod:`.predict` writes blocks to disk,
:mod:`.evaluate` aggregates them to months) never hold a whole run.

Every model kind runs here (:mod:`h2cm.kinds`): the process models (hybrid, constant) produce
every output and have static parameters and constants; the pure LSTM produces only the variables
it predicts (a kind's ``outputs``) and has neither (``has_process_model``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..data.cells import CellData, pad_cells
from ..data.gridio import read_cells
from ..kinds import kind_label
from ..modelkind import ModelKind, resolve_outputs
from ..schema import CONSTANT_KEYS, STATIC_PARAMETER_KEYS


@dataclass
class Block:
    """Daily outputs of all folds for one batch of cells and one stretch of days."""

    cells: np.ndarray  # (N,) cell indices in the cube
    data: CellData  # the batch's inputs over the whole period
    days: slice  # positions of this block's days in ``data.time``
    outputs: dict[str, np.ndarray]  # key -> (folds, days, N) float32
    static: dict[str, np.ndarray]  # smmax, alpha_ei -> (folds, N); empty for the pure LSTM
    first: bool  # first block of this batch of cells
    last: bool  # last block of this batch of cells

    @property
    def time(self) -> pd.DatetimeIndex:
        return self.data.time[self.days]


def ensemble_constants(models: Sequence[ModelKind]) -> dict[str, np.ndarray]:
    """The learned global constants of every fold: key -> (folds,); empty for models without
    constants (the pure LSTM)."""
    if not all(m.has_process_model for m in models):
        return {}
    with torch.no_grad():
        values = [m.constants() for m in models]
    return {k: np.array([float(getattr(v, k)) for v in values], dtype=np.float64) for k in CONSTANT_KEYS}


def ensemble_static_keys(models: Sequence[ModelKind]) -> tuple[str, ...]:
    """The static parameters every fold model has (none for the pure LSTM)."""
    return STATIC_PARAMETER_KEYS if all(m.has_process_model for m in models) else ()


def select_outputs(models: Sequence[ModelKind], outputs: str | Sequence[str] = "all", run=None) -> tuple[str, ...]:
    """The daily outputs to simulate: ``"all"``: every one the models produce; otherwise the
    named ones (or ``"loss"``), which the models must produce: ValueError naming those they do
    not, the run and what its models predict."""
    produced = tuple(k for k in models[0].outputs if all(k in m.outputs for m in models))
    if isinstance(outputs, str) and outputs == "all":
        return produced
    keys = resolve_outputs(outputs)
    missing = [k for k in keys if k not in produced]
    if missing:
        where = f"run {run} of a" if run is not None else "a"
        raise ValueError(
            f"{where} {kind_label(models[0].kind)} does not predict {', '.join(missing)}; "
            f"it predicts only {', '.join(produced)}"
        )
    return keys


def _start(model: ModelKind, forcing, static, spinup: bool, n: int):
    """A fold model's state at the start of the period (after spin-up) and the static parameters
    of the first ``n`` cells (key -> (n,) on the CPU; none for the pure LSTM)."""
    state = model.initial_state(forcing.shape[1], forcing.device, forcing.dtype)
    if not model.has_process_model:
        return (model.spinup_state(forcing, static, state) if spinup else state), {}
    sp, code = model.static_parameters(static)
    if spinup:
        state = model.spinup(forcing, sp, code, model.constants(), state)
    return state, {k: getattr(sp, k)[:n].cpu().numpy() for k in STATIC_PARAMETER_KEYS}


def compile_models(models: Sequence[ModelKind], device: torch.device) -> bool:
    """Compile every fold model's daily loop (:meth:`h2cm.model.H2CM.compile_day`; CUDA graphs
    on a GPU); True if any is compiled. The folds share one compiled graph per batch shape: their
    weights are inputs of the compiled function, not part of it."""
    mode = "reduce-overhead" if device.type == "cuda" else None
    return any([m.compile_day(True, mode=mode) for m in models])


def padded(data: CellData, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(forcing, static)`` of ``data`` with its cells repeated up to ``size`` cells, so that a
    compiled model sees one batch shape (the extra cells' outputs are dropped)."""
    n = data.static.shape[0]
    if n >= size:
        return data.forcing, data.static
    rep = pad_cells(torch.arange(n), size)
    return data.forcing[:, rep], data.static[rep]


def year_slices(time: pd.DatetimeIndex, max_days: int | None = None) -> list[slice]:
    """Consecutive slices of ``time``, one per calendar year (or shorter pieces of ``max_days``)."""
    years = pd.DatetimeIndex(time).year.to_numpy()
    starts = np.flatnonzero(np.r_[True, years[1:] != years[:-1]])
    bounds = list(starts) + [len(years)]
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        step = max_days or (b - a)
        out.extend(slice(t, min(t + step, b)) for t in range(a, b, step))
    return out


def batches(cell_index: np.ndarray, batch_cells: int) -> list[np.ndarray]:
    """Cell indices in consecutive batches of at most ``batch_cells`` (order kept)."""
    cell_index = np.asarray(cell_index, dtype=np.int64)
    n = max(1, int(batch_cells))
    return [cell_index[i : i + n] for i in range(0, len(cell_index), n)]


def run_ensemble(
    models: Sequence[ModelKind],
    load: Callable[[np.ndarray], CellData],
    cell_batches: Sequence[np.ndarray],
    outputs: str | Sequence[str] = "all",
    spinup: bool = True,
    progress: bool = True,
    desc: str = "simulating",
    device: str | torch.device = "cpu",
    compile: bool = False,
) -> Iterator[Block]:
    """Yield :class:`Block` s for every batch of cells (``load(cells) -> CellData``) and year.
    ``outputs``: as :func:`select_outputs` (``"all"``: everything the models produce).

    The models run on ``device`` (blocks are always on the CPU). ``compile``: their daily loops
    run compiled (:func:`compile_models`; the models stay compiled afterwards), every batch padded
    to the largest one's number of cells so that one graph serves all."""
    keys = select_outputs(models, outputs)
    device = torch.device(device)
    for m in models:
        m.to(device)
    size = max((len(b) for b in cell_batches), default=0) if compile and compile_models(models, device) else 0
    n_cells = int(sum(len(b) for b in cell_batches))
    # progress in cell-years: spin-up + simulation of one year of one cell per fold = 1
    bar = tqdm(total=None, desc=desc, unit="cell-yr", disable=not progress, leave=False, dynamic_ncols=True)
    try:
        for cells in cell_batches:
            data = load(np.asarray(cells, dtype=np.int64))
            n = len(cells)
            if bar.total is None:
                bar.total = n_cells * len(year_slices(data.time))
                bar.refresh()
            forcing, static = (t.to(device) for t in padded(data, size))
            with torch.no_grad():
                states, static_out = zip(*(_start(m, forcing, static, spinup, n) for m in models), strict=True)
            states = list(states)
            static_arr = {k: np.stack([s[k] for s in static_out]).astype(np.float32) for k in static_out[0]}
            pieces = year_slices(data.time)
            for i, days in enumerate(pieces):
                per_fold = []
                with torch.no_grad():
                    for f, model in enumerate(models):
                        sim = model(forcing[days], static, state=states[f], spinup=False, outputs=keys, chunk_days=None)
                        states[f] = sim.state
                        per_fold.append({k: sim.outputs[k][:, :n].cpu() for k in keys})
                block_out = {k: np.stack([o[k].numpy() for o in per_fold]).astype(np.float32) for k in keys}
                bar.update(n)
                yield Block(np.asarray(cells), data, days, block_out, static_arr, i == 0, i == len(pieces) - 1)
    finally:
        bar.close()


def stored_ensemble(
    path,
    load: Callable[[np.ndarray], CellData],
    cell_batches: Sequence[np.ndarray],
    ii: np.ndarray,
    jj: np.ndarray,
    days: pd.DatetimeIndex,
    folds: Sequence[int],
    outputs: str | Sequence[str] = "all",
    progress: bool = True,
    desc: str = "reading simulations",
    static: Sequence[str] = STATIC_PARAMETER_KEYS,
) -> Iterator[Block]:
    """The same blocks as :func:`run_ensemble`, read from a daily ``h2cm predict`` store with
    per-fold values (``KEY_fold``) instead of simulated again. ``ii``/``jj``: every cube cell's
    grid position; ``static``: the static parameters to read (none for a pure LSTM run). Checks
    first (raising ValueError) that the store has the folds, the variables, every day of ``days``
    and every cell of the batches."""
    import xarray as xr
    import zarr

    keys = resolve_outputs(outputs)
    static = tuple(static)
    meta = xr.open_zarr(path)
    if meta.attrs.get("h2cm_time_resolution") != "daily":
        raise ValueError(f"{path}: not a daily simulation store")
    missing = [f"{k}_fold" for k in (*keys, *static) if f"{k}_fold" not in meta]
    if missing:
        raise ValueError(f"{path}: lacks per-fold variables such as {missing[0]} (written with --no-folds?)")
    if [int(f) for f in meta["fold"].values] != [int(f) for f in folds]:
        raise ValueError(f"{path}: folds {list(meta['fold'].values)} differ from the run's {list(folds)}")
    stime = pd.DatetimeIndex(meta["time"].values)
    days = pd.DatetimeIndex(days)
    t0 = int(stime.get_indexer(days[:1])[0]) if len(days) else -1
    if t0 < 0 or t0 + len(days) > len(stime) or not stime[t0 : t0 + len(days)].equals(days):
        raise ValueError(f"{path}: does not cover {days[0].date()}..{days[-1].date()}")
    all_cells = np.concatenate([np.asarray(b, dtype=np.int64) for b in cell_batches])
    # simulated cells: finite static parameters, or (without them) a finite first day
    probe = meta[f"{static[0]}_fold"] if static else meta[f"{keys[0]}_fold"].isel(time=t0)
    if not np.isfinite(np.asarray(probe.values)[:, ii[all_cells], jj[all_cells]]).all():
        raise ValueError(f"{path}: some of the cells to evaluate were not simulated")
    store = zarr.open_group(str(path), mode="r")
    return _stored_blocks(store, t0, load, cell_batches, ii, jj, keys, static, progress, desc)


def _stored_blocks(store, t0, load, cell_batches, ii, jj, keys, static_keys, progress, desc) -> Iterator[Block]:
    n_cells = int(sum(len(b) for b in cell_batches))
    bar = tqdm(total=n_cells, desc=desc, unit="cell", disable=not progress, leave=False, dynamic_ncols=True)
    try:
        for cells in cell_batches:
            cells = np.asarray(cells, dtype=np.int64)
            data = load(cells)
            ci, cj = ii[cells], jj[cells]
            static = {k: read_cells(store[f"{k}_fold"], (slice(None),), ci, cj) for k in static_keys}
            pieces = year_slices(data.time)
            for i, days in enumerate(pieces):
                ts = slice(t0 + days.start, t0 + days.stop)
                out = {k: read_cells(store[f"{k}_fold"], (slice(None), ts), ci, cj) for k in keys}
                yield Block(cells, data, days, out, static, i == 0, i == len(pieces) - 1)
            bar.update(len(cells))
    finally:
        bar.close()
