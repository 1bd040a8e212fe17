"""Reducers that consume ensemble blocks (:class:`h2cm.evaluation.ensemble.Block`) as they are
produced, so evaluation never holds daily outputs of many cells:

- :class:`MonthlyCollector`: monthly means of chosen outputs at chosen (test) cells, all folds;
- :class:`MeanCollector`: per-cell time means (for maps and derived diagnostics), all folds;
- :class:`RegionalCollector`: area-weighted monthly means per TransCom region, all folds;
- :class:`DailyCollector`: daily outputs at one cell (Fig. 7).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..schema import FORCING_KEYS
from .diagnostics import par_from_rn
from .views import monthly_means

_RN = FORCING_KEYS.index("rn")
_PREC = FORCING_KEYS.index("prec")


def _positions(cells: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions in ``cells`` of the wanted cells present, their positions in ``wanted``)."""
    lookup = {int(c): i for i, c in enumerate(wanted)}
    here = [(i, lookup[int(c)]) for i, c in enumerate(cells) if int(c) in lookup]
    if not here:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    a, b = zip(*here, strict=True)
    return np.asarray(a), np.asarray(b)


def _month_pos(months_all: pd.DatetimeIndex, months: pd.DatetimeIndex) -> np.ndarray:
    pos = months_all.get_indexer(months)
    if (pos < 0).any():
        raise RuntimeError("block months outside the evaluation period")
    return pos


class MonthlyCollector:
    """Monthly means ``(folds, months, cells)`` of ``keys`` at ``cells``."""

    def __init__(self, cells, months: pd.DatetimeIndex, keys: Sequence[str], n_folds: int):
        self.cells = np.asarray(cells, dtype=np.int64)
        self.months = pd.DatetimeIndex(months)
        self.keys = tuple(keys)
        shape = (n_folds, len(self.months), len(self.cells))
        self.values = {k: np.full(shape, np.nan, dtype=np.float32) for k in self.keys}
        self.static: dict[str, np.ndarray] = {}
        self.prec = np.full((len(self.months), len(self.cells)), np.nan, dtype=np.float32)

    def add(self, block) -> None:
        src, dst = _positions(block.cells, self.cells)
        if not len(src):
            return
        months, _ = monthly_means(np.zeros(len(block.time)), block.time)
        mpos = _month_pos(self.months, months)
        for k in self.keys:
            v = block.outputs[k][:, :, src]  # (F, T, n)
            _, m = monthly_means(np.moveaxis(v, 1, 0), block.time)  # (M, F, n)
            self.values[k][:, mpos[:, None], dst[None, :]] = np.moveaxis(m, 0, 1)
        _, p = monthly_means(block.data.forcing[block.days, :, _PREC].numpy()[:, src], block.time)
        self.prec[mpos[:, None], dst[None, :]] = p
        if block.first:
            for k, v in block.static.items():
                self.static.setdefault(k, np.full((v.shape[0], len(self.cells)), np.nan, dtype=np.float32))
                self.static[k][:, dst] = v[:, src]


class MeanCollector:
    """Time means per cell and fold of ``keys`` plus ``prec`` and (with ``fapar`` among the keys)
    ``apar`` (= fAPAR x PAR)."""

    def __init__(self, cells, keys: Sequence[str], n_folds: int):
        self.cells = np.asarray(cells, dtype=np.int64)
        self.keys = tuple(keys)
        self.apar = "fapar" in self.keys
        n = len(self.cells)
        self.sums = {k: np.zeros((n_folds, n)) for k in (*self.keys, *(("apar",) if self.apar else ()))}
        self.prec = np.zeros(n)
        self.count = np.zeros(n)

    def add(self, block) -> None:
        src, dst = _positions(block.cells, self.cells)
        if not len(src):
            return
        for k in self.keys:
            self.sums[k][:, dst] += block.outputs[k][:, :, src].sum(axis=1, dtype=np.float64)
        frc = block.data.forcing[block.days].numpy()[:, src]  # (T, n, 5)
        if self.apar:
            par = par_from_rn(frc[..., _RN])
            self.sums["apar"][:, dst] += (block.outputs["fapar"][:, :, src] * par[None]).sum(axis=1)
        self.prec[dst] += frc[..., _PREC].sum(axis=0)
        self.count[dst] += len(block.time)

    def means(self) -> dict[str, np.ndarray]:
        """key -> (folds, cells) time means; ``prec`` -> (cells,)."""
        n = np.where(self.count > 0, self.count, np.nan)
        out = {k: v / n for k, v in self.sums.items()}
        out["prec"] = self.prec / n
        return out


class RegionalCollector:
    """Area-weighted monthly means ``(folds, regions, months)`` of ``keys`` per region."""

    def __init__(
        self, cells, region: np.ndarray, area: np.ndarray, months, keys: Sequence[str], n_folds: int, n_regions: int
    ):
        self.cells = np.asarray(cells, dtype=np.int64)
        self.region = np.asarray(region, dtype=np.int64)  # per cell, 1..n_regions, 0 = none
        self.area = np.asarray(area, dtype=np.float64)
        self.months = pd.DatetimeIndex(months)
        self.keys = tuple(keys)
        self.n_regions = n_regions
        self.sums = {k: np.zeros((n_folds, n_regions + 1, len(self.months))) for k in self.keys}
        self.weights = np.zeros((n_regions + 1, len(self.months)))

    def add(self, block) -> None:
        src, dst = _positions(block.cells, self.cells)
        if not len(src):
            return
        months, _ = monthly_means(np.zeros(len(block.time)), block.time)
        mpos = _month_pos(self.months, months)
        reg = self.region[dst]
        w = self.area[dst]
        for k in self.keys:
            _, m = monthly_means(np.moveaxis(block.outputs[k][:, :, src], 1, 0), block.time)  # (M, F, n)
            contrib = np.zeros((m.shape[1], self.n_regions + 1, m.shape[0]))
            for r in np.unique(reg):
                sel = reg == r
                contrib[:, r, :] = (m[:, :, sel] * w[sel]).sum(axis=2).T
            self.sums[k][:, :, mpos] += contrib
        for r in np.unique(reg):
            self.weights[r, mpos] += w[reg == r].sum()

    def means(self) -> dict[str, np.ndarray]:
        """key -> (folds, regions 1..n, months) area-weighted means (NaN for an empty region)."""
        w = np.where(self.weights > 0, self.weights, np.nan)
        return {k: (v / w[None])[:, 1:] for k, v in self.sums.items()}


class DailyCollector:
    """Daily ``keys`` (folds, days) and precipitation at one cell."""

    def __init__(self, cell: int, time: pd.DatetimeIndex, keys: Sequence[str], n_folds: int):
        self.cell = int(cell)
        self.time = pd.DatetimeIndex(time)
        self.keys = tuple(keys)
        self.values = {k: np.full((n_folds, len(self.time)), np.nan, dtype=np.float32) for k in self.keys}
        self.prec = np.full(len(self.time), np.nan, dtype=np.float32)
        self.tair = np.full(len(self.time), np.nan, dtype=np.float32)

    def add(self, block) -> None:
        hit = np.flatnonzero(np.asarray(block.cells) == self.cell)
        if not len(hit):
            return
        i = int(hit[0])
        tpos = self.time.get_indexer(block.time)
        for k in self.keys:
            self.values[k][:, tpos] = block.outputs[k][:, :, i]
        frc = block.data.forcing[block.days, i].numpy()
        self.prec[tpos] = frc[:, _PREC]
        self.tair[tpos] = frc[:, FORCING_KEYS.index("tair")]
