"""Cross-validation splits (docs/training.md): spatial blocks, a fixed test set, 10 folds.

Cells are grouped into ``block_deg`` x ``block_deg`` blocks. Blocks are shuffled with the seed;
blocks go to the test set until it holds ``test_fraction`` of the cells, the rest are dealt to
``n_folds`` folds, each next block to the fold with the fewest cells so far (folds of nearly equal
size). Fold k validates on fold k and trains on the other folds. Every cell is in exactly one
of test / fold 0..n-1. A split is stored with a run as JSON (cell indices and their lat/lon).
Appendix D's time split (train to 2017, test 2018-2019) is :func:`time_split`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import atomic

SPLIT_VERSION = 1


@dataclass(frozen=True)
class TimeSplit:
    """Train and test periods (inclusive ISO dates)."""

    train_period: tuple[str, str]
    test_period: tuple[str, str]

    def masks(self, time) -> tuple[np.ndarray, np.ndarray]:
        """Boolean (train, test) masks over a daily or monthly time axis."""
        t = pd.DatetimeIndex(time)
        tr = (t >= pd.Timestamp(self.train_period[0])) & (t <= pd.Timestamp(self.train_period[1]))
        te = (t >= pd.Timestamp(self.test_period[0])) & (t <= pd.Timestamp(self.test_period[1]))
        return np.asarray(tr), np.asarray(te)

    def to_dict(self) -> dict:
        return {"train_period": list(self.train_period), "test_period": list(self.test_period)}


def time_split(
    start: str = "2001-01-01",
    train_end: str = "2017-12-31",
    test_start: str = "2018-01-01",
    end: str = "2019-12-31",
) -> TimeSplit:
    """Appendix D: train on ``start``..``train_end``, test on ``test_start``..``end``."""
    if pd.Timestamp(train_end) >= pd.Timestamp(test_start):
        raise ValueError(f"time split: train_end {train_end} must be before test_start {test_start}")
    if pd.Timestamp(start) > pd.Timestamp(train_end) or pd.Timestamp(test_start) > pd.Timestamp(end):
        raise ValueError(f"time split: empty period in {start}..{train_end} / {test_start}..{end}")
    return TimeSplit((start, train_end), (test_start, end))


@dataclass
class Split:
    """A spatial split of cells (indices in ``land_cells`` order of a cube)."""

    test: np.ndarray
    folds: list[np.ndarray]
    seed: int
    block_deg: float
    test_fraction: float
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    time: TimeSplit | None = None
    method: str = "h2cm"  # "h2cm" (spatial_split) or "reference" (the authors', h2cm.data.reference_split)

    @property
    def n_folds(self) -> int:
        return len(self.folds)

    @property
    def n_cells(self) -> int:
        return len(self.test) + sum(len(f) for f in self.folds)

    def fold(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(train_idx, val_idx) of fold ``k``: validate on fold k, train on all other folds."""
        if not 0 <= k < self.n_folds:
            raise IndexError(f"fold {k} out of range: the split has {self.n_folds} folds (0..{self.n_folds - 1})")
        train = np.sort(np.concatenate([f for i, f in enumerate(self.folds) if i != k]))
        return train, np.sort(self.folds[k])

    def validate(self) -> None:
        """Raise ValueError unless every cell is in exactly one set and indices cover 0..n-1."""
        parts = [self.test, *self.folds]
        every = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        if len(np.unique(every)) != len(every):
            raise ValueError("split: a cell is in more than one set (test/folds must be disjoint)")
        if len(every) and not np.array_equal(np.sort(every), np.arange(len(every))):
            raise ValueError(f"split: cell indices do not cover 0..{len(every) - 1} exactly")

    def to_dict(self) -> dict:
        return {
            "version": SPLIT_VERSION,
            "kind": "spatial blocks",
            "method": self.method,
            "seed": int(self.seed),
            "block_deg": float(self.block_deg),
            "test_fraction": float(self.test_fraction),
            "n_cells": int(self.n_cells),
            "n_folds": int(self.n_folds),
            "test": [int(i) for i in self.test],
            "folds": [[int(i) for i in f] for f in self.folds],
            "lat": [float(x) for x in self.lat],
            "lon": [float(x) for x in self.lon],
            "time": self.time.to_dict() if self.time else None,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically (temporary file in the same folder, then rename)."""
        return atomic.write_text(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def from_dict(cls, d: dict) -> Split:
        t = d.get("time")
        split = cls(
            test=np.asarray(d["test"], dtype=np.int64),
            folds=[np.asarray(f, dtype=np.int64) for f in d["folds"]],
            seed=int(d["seed"]),
            block_deg=float(d["block_deg"]),
            test_fraction=float(d["test_fraction"]),
            lat=np.asarray(d.get("lat", []), dtype=np.float64),
            lon=np.asarray(d.get("lon", []), dtype=np.float64),
            time=TimeSplit(tuple(t["train_period"]), tuple(t["test_period"])) if t else None,
            method=str(d.get("method", "h2cm")),
        )
        split.validate()
        return split

    @classmethod
    def load(cls, path: str | os.PathLike) -> Split:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            msg = f"{path}: not a valid split file ({exc}); expected the JSON written by Split.save"
            raise ValueError(msg) from exc


def block_ids(lat: np.ndarray, lon: np.ndarray, block_deg: float = 5.0) -> np.ndarray:
    """Integer id of the ``block_deg`` block that holds each cell centre."""
    bi = np.floor((np.asarray(lat, dtype=np.float64) + 90.0) / block_deg).astype(np.int64)
    bj = np.floor((np.mod(np.asarray(lon, dtype=np.float64) + 180.0, 360.0)) / block_deg).astype(np.int64)
    return bi * 100_000 + bj


def spatial_split(
    lat,
    lon,
    seed: int = 0,
    n_folds: int = 10,
    block_deg: float = 5.0,
    test_fraction: float = 1 / 13,
    time: TimeSplit | None = None,
) -> Split:
    """Split cells (given by centre ``lat``/``lon``) into a test set and ``n_folds`` folds of
    spatial blocks; reproducible from ``seed``."""
    lat = np.asarray(lat, dtype=np.float64).reshape(-1)
    lon = np.asarray(lon, dtype=np.float64).reshape(-1)
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon must have the same length, got {lat.shape} and {lon.shape}")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    ids = block_ids(lat, lon, block_deg)
    blocks, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    need = n_folds + (1 if test_fraction > 0 else 0)
    if len(blocks) < need:
        raise ValueError(
            f"only {len(blocks)} blocks of {block_deg:g} degrees hold cells; {n_folds} folds"
            f"{' and a test set' if test_fraction > 0 else ''} need at least {need} "
            "(use a smaller block_deg or fewer folds)"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(blocks))
    target = test_fraction * len(lat)
    test_blocks: list[int] = []
    n_test = 0
    for pos, b in enumerate(order):
        if n_test >= target or len(order) - pos <= n_folds:
            break
        test_blocks.append(int(b))
        n_test += int(counts[b])
    rest = order[len(test_blocks) :]
    fold_of_block = np.full(len(blocks), -1, dtype=np.int64)
    sizes = np.zeros(n_folds, dtype=np.int64)
    for i, b in enumerate(rest):
        k = i if i < n_folds else int(np.argmin(sizes))  # every fold gets a block, then balance cells
        fold_of_block[b] = k
        sizes[k] += counts[b]
    cell_fold = fold_of_block[inverse]
    test = np.nonzero(np.isin(inverse, test_blocks))[0]
    folds = [np.nonzero(cell_fold == k)[0] for k in range(n_folds)]
    split = Split(test, folds, seed, block_deg, test_fraction, lat, lon, time)
    split.validate()
    return split


def cube_split(ds, seed: int = 0, n_folds: int = 10, block_deg: float = 5.0, test_fraction: float = 1 / 13) -> Split:
    """:func:`spatial_split` of the cells of a cube (``land_cells`` order)."""
    from .cube import land_cells

    li, lj = land_cells(ds)
    lat = np.asarray(ds["lat"].values)[li]
    lon = np.asarray(ds["lon"].values)[lj]
    return spatial_split(lat, lon, seed=seed, n_folds=n_folds, block_deg=block_deg, test_fraction=test_fraction)
