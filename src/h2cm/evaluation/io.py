"""Cube access for evaluation: the data layer's readers plus small helpers for gridded outputs.

Cells follow the contract of docs/architecture.md: a cube's cells are its ``land_mask == 1`` grid
points in row-major (lat, lon) order, and a cell index is a position in that list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..data.cells import CellData
from ..data.cube import land_cells, open_cube, open_truth
from ..data.cube import load_cells as _load_cells

__all__ = ["open_cube", "open_truth", "land_grid_index", "parse_period", "period_days", "load_cells"]


def land_grid_index(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(lat position, lon position) of every cell, in cell-index order."""
    return land_cells(ds)


def parse_period(text: str | None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``"A:B"`` (years, months or dates; B inclusive) -> (first day, last day); None stays None."""
    if not text:
        return None
    if ":" not in text:
        raise ValueError(f"period must look like A:B (e.g. 2002:2005 or 2002-01-01:2005-06-30), got {text!r}")
    a, b = (s.strip() for s in text.split(":", 1))
    start = pd.Timestamp(a)
    if len(b) == 4:
        end = pd.Timestamp(f"{b}-12-31")
    elif len(b) == 7:
        end = pd.Period(b, freq="M").end_time.normalize()
    else:
        end = pd.Timestamp(b)
    if end < start:
        raise ValueError(f"period {text!r} ends before it starts")
    return start, end


def period_days(time, period, default=None) -> pd.DatetimeIndex:
    """The days of ``time`` within ``period`` (``"A:B"``, (first, last) with None for open, or None
    for ``default``, e.g. the run's period; None again: every day). No day left is a ValueError."""
    days = pd.DatetimeIndex(time)
    per = parse_period(period) if isinstance(period, str) or period is None else period
    per = per if per is not None else default
    if per is None:
        return days
    lo = pd.Timestamp(per[0]) if per[0] is not None else days[0]
    hi = pd.Timestamp(per[1]) if per[1] is not None else days[-1]
    out = days[(days >= lo) & (days <= hi)]
    if len(out) == 0:
        raise ValueError(f"period {per[0]}:{per[1]} has no day in the cube ({days[0].date()} .. {days[-1].date()})")
    return out


def load_cells(ds: xr.Dataset, cell_index, period=None) -> CellData:
    """Load the given cells (positions in the cube's cell list) for ``period`` (first, last day)."""
    return _load_cells(ds, cell_index=np.asarray(cell_index, dtype=np.int64), period=period)
