"""The cells of one fold: the run's split (``RUN/split.json``) and the training/validation data.

The split is made once per run from the cube's land cells (:func:`h2cm.training.runsplit.make_split`
from the ``split`` section of the configuration) and reused by every fold, so all ten models of a
run hold out the same test cells. Cell indices in the split are positions in the cube's land-cell
list (row-major ``land_mask == 1``), or positions in a :class:`CellData` given directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.cells import CellData
from ..layout import SPLIT as SPLIT_FILE  # file names live in h2cm.layout
from .config import ConfigError, RunConfig
from .runsplit import _splits, make_split, require_cube


@dataclass
class FoldData:
    """Training and validation cells of one fold, and the run's split."""

    train: CellData
    val: CellData
    split: object  # h2cm.data.splits.Split


def normalization_statistics(cfg: RunConfig, train: CellData):
    """(input statistics for ``set_normalization``, constraint :class:`LossStats`) of a fold:
    from its training cells (``normalization: fold``) or from the cube's store attributes
    (``normalization: store``, the same for every fold; :mod:`h2cm.training.store_stats`)."""
    from .loss import LossStats

    if cfg.normalization == "fold":
        return input_statistics(train), LossStats.from_cells(train, cfg.data.constraints)
    from ..data.cube import open_cube
    from . import store_stats as stats

    ds = open_cube(require_cube(cfg))
    keys = [k for k in cfg.data.constraints if k in train.constraints]
    try:
        return stats.input_statistics(ds, train.static.shape[1]), stats.loss_statistics(ds, keys)
    except stats.StoreStatisticsError as err:
        raise ConfigError(f"normalization: store: {err}") from err


def cube_cell_coords(cube: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) of every cell of a cube, in land-cell order."""
    from ..data.cube import land_cells, open_cube

    ds = open_cube(cube)
    li, lj = land_cells(ds)
    return np.asarray(ds["lat"].values)[li], np.asarray(ds["lon"].values)[lj]


def ensure_split(cfg: RunConfig, run_dir: str | os.PathLike, data: CellData | None = None):
    """Load ``RUN/split.json``, or make and save it (atomically) if the run has none yet."""
    path = Path(run_dir) / SPLIT_FILE
    splits = _splits()
    if path.exists():
        return splits.Split.load(path)
    if data is not None:
        lat, lon = data.lat, data.lon
    else:  # the configuration against the cube first: one clear line, nothing written
        from .validate import validate_against_cube

        lat, lon = validate_against_cube(cfg)
    split = make_split(cfg, lat, lon)
    split.save(path)  # atomic
    return split


def fold_cells(cfg: RunConfig, split, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation cell indices of ``fold``; training cells are subsampled to
    ``data.max_train_cells`` (a fixed random subset from the run and fold seeds) if set."""
    if not 0 <= fold < cfg.split.n_folds:
        raise ValueError(f"fold {fold} out of range 0..{cfg.split.n_folds - 1}")
    train_idx, val_idx = (np.asarray(a, dtype=np.int64) for a in split.fold(fold))
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise ValueError(f"fold {fold} has {len(train_idx)} training and {len(val_idx)} validation cells")
    n_max = cfg.data.max_train_cells
    if n_max and len(train_idx) > n_max:
        g = torch.Generator().manual_seed(fold_seed(cfg.seed, fold))
        keep = torch.randperm(len(train_idx), generator=g)[:n_max].numpy()
        train_idx = np.sort(train_idx[keep])
    return train_idx, val_idx


def fold_seed(seed: int, fold: int) -> int:
    """The seed of one fold's model initialisation and data order."""
    return int(seed) * 1009 + int(fold)


def load_fold_data(cfg: RunConfig, fold: int, run_dir: str | os.PathLike, data: CellData | None = None) -> FoldData:
    """The fold's cells, from ``data`` if given (tests, notebooks), else loaded from ``data.cube``
    over ``data.start``..``data.end``."""
    split = ensure_split(cfg, run_dir, data)
    train_idx, val_idx = fold_cells(cfg, split, fold)
    if data is not None:
        return FoldData(data.subset(train_idx), data.subset(val_idx), split)
    from ..data.cube import load_cells

    both = np.concatenate([train_idx, val_idx])
    order = np.argsort(both, kind="stable")
    # a path (not an opened dataset): load_cells then reads only the needed chunks, without dask
    cells = load_cells(require_cube(cfg), cell_index=both[order], period=(cfg.data.start, cfg.data.end))
    pos = np.empty(len(both), dtype=np.int64)
    pos[order] = np.arange(len(both))
    return FoldData(cells.subset(pos[: len(train_idx)]), cells.subset(pos[len(train_idx) :]), split)


def input_statistics(train: CellData) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """z-score statistics of forcing and static inputs over the training cells (NaN ignored):
    (forcing_mean, forcing_std, static_mean, static_std) for ``H2CM.set_normalization``."""

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.double()
        ok = torch.isfinite(x)
        n = ok.sum(0).clamp(min=1)
        mean = torch.where(ok, x, 0).sum(0) / n
        var = torch.where(ok, (x - mean) ** 2, 0).sum(0) / (n - 1).clamp(min=1)
        std = var.sqrt()
        return mean.float(), torch.where(std > 0, std, torch.ones_like(std)).float()

    fm, fs = stats(train.forcing.reshape(-1, train.forcing.shape[-1]))
    sm, ss = stats(train.static)
    return fm, fs, sm, ss
