"""Stage 2 of ``h2cm evaluate``: one pass of every fold's model over the planned cells.

The simulations (or a ``h2cm predict`` store holding them) stream in blocks of cells; each block
feeds the reducers of :mod:`.collect` and :class:`ObsCollector` (the observations at the same
cells), so no daily output of many cells is ever held. Returns :class:`Gathered`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..constraints import CONSTRAINTS, MONTHLY_CONSTRAINT_KEYS
from ..data.regions import REGIONS
from . import io
from .collect import DailyCollector, MeanCollector, MonthlyCollector, RegionalCollector
from .ensemble import batches, ensemble_static_keys, run_ensemble, stored_ensemble
from .plan import REGIONAL_KEYS, EvalPlan
from .predict import tile_batches

MAP_KEYS: tuple[str, ...] = ("gpp", "npp", "nee", "ter", "rh", "ra", "tr", "et", "runoff", "fapar")
DAILY_KEYS: tuple[str, ...] = ("nee", "npp", "rh", "gpp", "ter", "et")
REGIONAL_OBS_KEYS: tuple[str, ...] = ("gpp", "nee")


class ObsCollector:
    """The cube's constraints at the test cells (monthly ``(months, cells)``, static ``(cells,)``)
    and the area-weighted regional sums of the regional observation keys at the map cells."""

    def __init__(self, plan: EvalPlan):
        n_m, n_t, n_r = len(plan.months), len(plan.test), len(REGIONS) + 1
        self.monthly = {k: np.full((n_m, n_t), np.nan, dtype=np.float32) for k in MONTHLY_CONSTRAINT_KEYS}
        self.static = {k: np.full(n_t, np.nan, dtype=np.float32) for k, c in CONSTRAINTS.items() if c.static}
        self.regional = {k: np.zeros((n_r, n_m)) for k in REGIONAL_OBS_KEYS}
        self.weight = {k: np.zeros((n_r, n_m)) for k in REGIONAL_OBS_KEYS}
        self.present: set[str] = set()  # constraints the cube has at any test cell
        self._plan = plan
        self._test_pos = {int(c): i for i, c in enumerate(plan.test)}
        self._map = set(plan.map_cells.tolist())

    def add(self, block) -> None:
        if not block.first:  # the observations of a cell are read once, with its first fold
            return
        data, plan = block.data, self._plan
        mpos = plan.months.get_indexer(data.months)
        for j, c in enumerate(block.cells):
            t = self._test_pos.get(int(c))
            if t is not None:
                for k, v in data.constraints.items():
                    self.present.add(k)
                    if k in self.static:
                        self.static[k][t] = float(v[j])
                    elif k in self.monthly:
                        self.monthly[k][mpos[mpos >= 0], t] = v[mpos >= 0, j].numpy()
            if int(c) in self._map:
                r, a = plan.regions[int(c)], plan.area[int(c)]
                for k in REGIONAL_OBS_KEYS:
                    if k in data.constraints:
                        v = data.constraints[k][:, j].numpy().astype(np.float64)
                        ok = np.isfinite(v) & (mpos >= 0)
                        self.regional[k][r, mpos[ok]] += v[ok] * a
                        self.weight[k][r, mpos[ok]] += a


@dataclass
class Gathered:
    monthly: MonthlyCollector  # model monthly means at the test cells
    means: MeanCollector  # model time means at the map cells
    regional: RegionalCollector  # model regional monthly means
    daily: DailyCollector  # model daily series at the figure's cell
    obs: ObsCollector
    seconds: float


def gather(
    plan: EvalPlan,
    simulations=None,
    batch_cells: int = 256,
    progress: bool = True,
    device: str = "cpu",
    compile: bool = False,
) -> Gathered:
    """Simulate (or read from ``simulations``, a ``h2cm predict`` store with per-fold values) every
    planned cell once per fold and reduce the blocks as they come. ``device``, ``compile``: where
    and how the models simulate (:func:`h2cm.evaluation.ensemble.run_ensemble`)."""
    t0 = time.perf_counter()
    cov, nf = plan.cov, len(plan.folds)
    got = Gathered(
        monthly=MonthlyCollector(plan.test, plan.months, cov.outputs, nf),
        means=MeanCollector(plan.map_cells, cov.keep("maps of mean annual fluxes", MAP_KEYS), nf),
        regional=RegionalCollector(
            plan.map_cells,
            plan.regions[plan.map_cells],
            plan.area[plan.map_cells],
            plan.months,
            cov.keep("regional mean seasonal cycles (Fig. 6)", REGIONAL_KEYS),
            nf,
            len(REGIONS),
        ),
        daily=DailyCollector(plan.fig_cell, plan.days, cov.keep("daily series at one cell (Fig. 7)", DAILY_KEYS), nf),
        obs=ObsCollector(plan),
        seconds=0.0,
    )
    for block in _blocks(plan, simulations, batch_cells, progress, device, compile):
        for reducer in (got.monthly, got.means, got.regional, got.daily, got.obs):
            reducer.add(block)
    got.seconds = time.perf_counter() - t0
    return got


def _blocks(plan: EvalPlan, simulations, batch_cells: int, progress: bool, device: str, compile: bool):
    """Blocks read from the ``simulations`` store when it covers the plan, else simulated."""
    cells, outputs = plan.cells, plan.cov.outputs

    def load(c):
        return io.load_cells(plan.ds, c, plan.period)

    if simulations is not None:
        try:
            tiles = tile_batches(plan.ii[cells], plan.jj[cells], cells, 10, batch_cells)
            static = ensemble_static_keys(plan.models)
            return stored_ensemble(
                simulations,
                load,
                tiles,
                plan.ii,
                plan.jj,
                plan.days,
                plan.folds,
                outputs,
                progress=progress,
                static=static,
            )
        except (ValueError, FileNotFoundError, KeyError) as err:
            print(f"not reading {simulations} ({err}); simulating instead")
    return run_ensemble(
        plan.models,
        load,
        batches(cells, batch_cells),
        outputs,
        progress=progress,
        desc="evaluate",
        device=device,
        compile=compile,
    )
