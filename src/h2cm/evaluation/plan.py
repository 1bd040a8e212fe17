"""Stage 1 of ``h2cm evaluate``: the plan. What will be evaluated, decided before anything runs.

:func:`plan_evaluation` opens the run and the cube, resolves the period, picks the cells (test
cells for skill, all land cells or the test cells for maps and regional cycles, one cell for the
daily figure), loads every fold's model and states what the model kind can be scored on
(:class:`~h2cm.evaluation.coverage.Coverage`). The other stages (:mod:`.gather`, :mod:`.score`,
:mod:`.write`) only read the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from torch import nn

from ..data.regions import region_index
from ..schema import OUTPUT_KEYS
from . import io
from .compare import load_products
from .coverage import Coverage
from .predict import resolve_cube, select_cells
from .rundir import RunDir
from .views import monthly_means

# default cell for Fig. 7: a southern African savanna (Zambia / Angola miombo belt)
SAVANNA_BOX = (-20.0, -8.0, 12.0, 40.0)  # lat_min, lat_max, lon_min, lon_max
SAVANNA_CENTRE = (-15.0, 27.0)
SAVANNA_FEATURES = ("lc_sav", "lc_wsa", "lc_gra")
REGIONAL_KEYS: tuple[str, ...] = ("gpp", "ter", "nee")  # products' regional cycles (Fig. 6)


@dataclass
class EvalPlan:
    """Everything the later stages need: run, cube, period, cells, models, products."""

    rd: RunDir
    cube_path: Path
    ds: xr.Dataset
    days: pd.DatetimeIndex
    months: pd.DatetimeIndex
    test: np.ndarray  # cell indices scored for skill
    map_cells: np.ndarray  # cell indices for maps and regional cycles
    maps_cells: str  # "all" or "test"
    fig_cell: int  # the cell of the daily figure (Fig. 7)
    ii: np.ndarray  # lat position of every land cell
    jj: np.ndarray  # lon position of every land cell
    lat: np.ndarray  # of every land cell
    lon: np.ndarray
    area: np.ndarray
    regions: np.ndarray  # TransCom region of every land cell (0: none)
    models: list[nn.Module]
    cov: Coverage
    compare: dict[str, str] = field(default_factory=dict)
    prod_test: dict = field(default_factory=dict)  # product -> key -> (months, test cells)
    prod_map: dict = field(default_factory=dict)  # product -> key -> (months, map cells)

    @property
    def folds(self) -> list[int]:
        return self.rd.folds

    @property
    def cells(self) -> np.ndarray:
        """Every cell simulated: test cells, map cells and the figure's cell."""
        return np.unique(np.concatenate([self.test, self.map_cells, [self.fig_cell]]))

    @property
    def period(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return self.days[0], self.days[-1]


def plan_evaluation(run, cube=None, period=None, maps_cells: str = "all", cell=None, compare=None) -> EvalPlan:
    """Open ``run`` and its cube (or ``cube``) and decide what to evaluate (see the module doc).

    ``period``: ``"A:B"`` or (first, last) or None (the run's period); ``cell``: (lat, lon) of the
    daily figure's cell (the nearest map cell) or None (a savanna test cell, :func:`choose_cell`);
    ``compare``: product name -> path, each checked here, before anything is simulated."""
    rd = RunDir.open(run)
    cube_path = resolve_cube(rd, cube)
    ds = io.open_cube(cube_path)
    days = io.period_days(ds["time"].values, period, rd.period)
    months, _ = monthly_means(np.zeros(len(days)), days)
    test = select_cells(rd, ds, "test")
    map_cells = select_cells(rd, ds, maps_cells) if maps_cells != "test" else test
    ii, jj = io.land_grid_index(ds)
    lat = np.asarray(ds["lat"].values, dtype=np.float64)[ii]
    lon = np.asarray(ds["lon"].values, dtype=np.float64)[jj]
    area = np.asarray(ds["cell_area"].values, dtype=np.float64)[ii, jj]
    # the daily figure's cell: by default a test cell (scored out of sample, and in a predict store)
    fig_cell = choose_cell(ds, map_cells if cell is not None or not len(test) else test, lat, lon, cell)
    compare = dict(compare or {})
    prod_test, (prod_map,) = load_products(
        compare, OUTPUT_KEYS, months, lat, lon, test, extra=[(map_cells, REGIONAL_KEYS)]
    )
    models = rd.load_models()
    return EvalPlan(
        rd=rd,
        cube_path=Path(cube_path),
        ds=ds,
        days=days,
        months=months,
        test=test,
        map_cells=map_cells,
        maps_cells=maps_cells,
        fig_cell=fig_cell,
        ii=ii,
        jj=jj,
        lat=lat,
        lon=lon,
        area=area,
        regions=region_index(lat, lon),
        models=models,
        cov=Coverage.of(models),
        compare=compare,
        prod_test=prod_test,
        prod_map=prod_map,
    )


def choose_cell(ds: xr.Dataset, candidates: np.ndarray, lat: np.ndarray, lon: np.ndarray, near=None) -> int:
    """The cell for daily rain-pulse plots, among ``candidates`` (the test cells when the run has
    them): the candidate nearest ``near`` (lat, lon) if given; else the most savanna-covered
    candidate in the southern African savanna belt; else the candidate nearest that belt's centre."""
    candidates = np.asarray(candidates, dtype=np.int64)
    clat, clon = lat[candidates], lon[candidates]
    if near is not None:
        d = (clat - near[0]) ** 2 + (((clon - near[1]) + 180) % 360 - 180) ** 2
        return int(candidates[np.argmin(d)])
    la0, la1, lo0, lo1 = SAVANNA_BOX
    inside = (clat >= la0) & (clat <= la1) & (clon >= lo0) & (clon <= lo1)
    if inside.any() and "feature" in ds.coords:
        feats = [str(f) for f in ds["feature"].values]
        cols = [feats.index(f) for f in SAVANNA_FEATURES if f in feats]
        if cols:
            ii, jj = io.land_grid_index(ds)
            sel = candidates[inside]
            st = np.asarray(ds["static"].isel(feature=cols).values)  # (lat, lon, k)
            score = st[ii[sel], jj[sel]].sum(axis=-1)
            if np.isfinite(score).any():
                return int(sel[np.nanargmax(score)])
    d = (clat - SAVANNA_CENTRE[0]) ** 2 + (clon - SAVANNA_CENTRE[1]) ** 2
    return int(candidates[np.argmin(d)])
