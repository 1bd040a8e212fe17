"""The cells ``h2cm probe`` experiments on: chosen by hand (``--cell LAT,LON``,
:func:`cell_at`) or, by default, the run's test cells with the longest dry spells
(:func:`default_cells`), and loaded with their real forcing over the run's period
(:func:`load_probe_cells`). Definitions: docs/cli/probe.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..schema import FORCING_KEYS
from . import io

N_CELLS = 3  # default number of cells
DRY_DAY_MM = 1.0  # mm d-1: a day with less precipitation (and above 0 degC) is dry
MIN_MEAN_PREC = 0.8  # mm d-1 (about 300 mm a year): default cells need at least this
_F = {k: i for i, k in enumerate(FORCING_KEYS)}


@dataclass
class ProbeCell:
    """A probed cell: its position, why it was chosen, its real forcing and static inputs."""

    index: int
    lat: float
    lon: float
    why: str
    forcing: np.ndarray  # (days, 5) over the run's period, physical units
    static: np.ndarray  # (features,)
    time: pd.DatetimeIndex


def longest_dry_spell(prec: np.ndarray, tair: np.ndarray) -> np.ndarray:
    """Per cell, the most consecutive days with precipitation below :data:`DRY_DAY_MM` and air
    temperature above 0 degC; ``prec``, ``tair``: ``(days, cells)``."""
    run = np.zeros(prec.shape[1], dtype=np.int64)
    best = run.copy()
    dry = (np.nan_to_num(prec, nan=np.inf) < DRY_DAY_MM) & (tair > 273.15)
    for d in dry:
        run = np.where(d, run + 1, 0)
        best = np.maximum(best, run)
    return best


def default_cells(ds, candidates: np.ndarray, period, n: int = N_CELLS) -> list[tuple[int, str]]:
    """The ``n`` candidates with the longest dry spells (:func:`longest_dry_spell`) among those
    with a mean precipitation of at least :data:`MIN_MEAN_PREC` (all candidates when none has):
    cells with a dry season, savannas first. Ties: the wetter cell first."""
    spells, wet = [], []
    for start in range(0, len(candidates), 256):
        d = io.load_cells(ds, candidates[start : start + 256], period)
        prec = d.forcing[..., _F["prec"]].numpy()
        spells.append(longest_dry_spell(prec, d.forcing[..., _F["tair"]].numpy()))
        wet.append(np.nanmean(prec, axis=0))
    spell, mean_p = np.concatenate(spells), np.concatenate(wet)
    ok = mean_p >= MIN_MEAN_PREC
    if not ok.any():
        ok[:] = True
    pos = np.flatnonzero(ok)
    order = pos[np.lexsort((-mean_p[pos], -spell[pos]))][:n]
    return [
        (
            int(candidates[i]),
            f"test cell with a dry spell of {int(spell[i])} days (mean precipitation {mean_p[i]:.2f} mm d-1)",
        )
        for i in order
    ]


def cell_at(ds, lat: float, lon: float) -> int:
    """The land cell whose grid box holds (lat, lon); a clear error when none does."""
    ii, jj = io.land_grid_index(ds)
    lats = np.asarray(ds["lat"].values, dtype=np.float64)
    lons = np.asarray(ds["lon"].values, dtype=np.float64)
    dlat = float(np.median(np.abs(np.diff(lats)))) if len(lats) > 1 else 1.0
    dlon = float(np.median(np.abs(np.diff(lons)))) if len(lons) > 1 else 1.0
    clat, clon = lats[ii], lons[jj]
    dl = np.abs(clat - lat)
    do = np.abs(((clon - lon) + 180.0) % 360.0 - 180.0)
    best = int(np.argmin((dl / dlat) ** 2 + (do / dlon) ** 2))
    if dl[best] > dlat / 2 + 1e-6 or do[best] > dlon / 2 + 1e-6:
        raise ValueError(
            f"--cell {lat:g},{lon:g} is not in a land cell of the cube "
            f"(nearest land cell: {latlon(clat[best], clon[best])})"
        )
    return best


def latlon(lat: float, lon: float) -> str:
    """``15.50 S, 26.50 E`` style position (as the report writes it)."""
    return f"{abs(lat):.2f} {'S' if lat < 0 else 'N'}, {abs(lon):.2f} {'W' if lon < 0 else 'E'}"


def choose_cells(ds, candidates: np.ndarray, cells, period, n: int = N_CELLS) -> list[tuple[int, str]]:
    """(land-cell index, why) of the probed cells: the cells holding ``cells`` (``[(lat, lon),
    ...]``) if given, else :func:`default_cells` among ``candidates`` (the run's test cells)."""
    if cells:
        return [(cell_at(ds, float(a), float(b)), f"--cell {float(a):g},{float(b):g}") for a, b in cells]
    return default_cells(ds, candidates, period, n)


def load_probe_cells(ds, chosen: list[tuple[int, str]], period, cube_path, per) -> tuple[list[ProbeCell], object]:
    """The chosen cells with their forcing and static inputs over ``period`` (``per``: the run's
    period as written in its configuration, for the error message), and their
    :class:`~h2cm.data.cells.CellData`."""
    data = io.load_cells(ds, [c for c, _ in chosen], period)
    if len(data.time) < 2:
        raise ValueError(f"the run's period {per} has fewer than two days in {cube_path}")
    return [
        ProbeCell(
            c,
            float(data.lat[j]),
            float(data.lon[j]),
            why,
            data.forcing[:, j].double().numpy(),
            data.static[j].numpy(),
            data.time,
        )
        for j, (c, why) in enumerate(chosen)
    ], data
