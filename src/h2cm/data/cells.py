"""In-memory data for a set of grid cells: what the model and the loss consume.

This is the contract between the data layer (cube on disk) and training/evaluation: a cube is
opened lazily, the cells of a batch or split are selected and loaded into a :class:`CellData`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor


@dataclass
class CellData:
    """Forcing, static inputs and constraints of N cells.

    forcing: (T, N, 5) physical units, order of ``schema.FORCING_KEYS``.
    static: (N, F) physical units, feature names in ``features``.
    constraints: key -> (M, N) monthly values (NaN = missing) for monthly constraints, and
    ``cue`` -> (N,) for the static one. Absent constraints are simply not in the dict.
    day_month: (T,) index of each day's month in ``months`` (-1 if the month is not listed).
    """

    forcing: Tensor
    static: Tensor
    constraints: dict[str, Tensor]
    cell_area: Tensor
    lat: np.ndarray
    lon: np.ndarray
    time: pd.DatetimeIndex
    months: pd.DatetimeIndex
    day_month: Tensor
    features: tuple[str, ...] = ()
    cell_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_cells(self) -> int:
        return int(self.forcing.shape[1])

    def subset(self, idx) -> CellData:
        """The same data for a subset of cells (positions within this object)."""
        idx_t = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        idx_n = idx_t.numpy()
        return CellData(
            forcing=self.forcing[:, idx_t],
            static=self.static[idx_t],
            constraints={k: (v[idx_t] if v.dim() == 1 else v[:, idx_t]) for k, v in self.constraints.items()},
            cell_area=self.cell_area[idx_t],
            lat=self.lat[idx_n],
            lon=self.lon[idx_n],
            time=self.time,
            months=self.months,
            day_month=self.day_month,
            features=self.features,
            cell_index=self.cell_index[idx_n] if len(self.cell_index) else idx_n,
        )


def pad_cells(idx: Tensor, size: int) -> Tensor:
    """``idx`` (cell positions) with its first cells repeated until it holds ``size`` entries;
    unchanged if it holds as many. How a short batch keeps the shape of a compiled model's graph or
    fills every data-parallel rank: the repeated cells' outputs are dropped or weigh nothing."""
    if len(idx) >= size:
        return idx
    return idx[torch.arange(size) % len(idx)]
