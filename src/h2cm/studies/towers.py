"""Multi-site tower study (``h2cm study towers FILES... --out DIR``): leave-one-site-out CV and a
temporal split, hybrid vs the constant-parameter and LSTM baselines, several seeds.

The files become one cube, one cell per site (:func:`h2cm.data.tower_cube.tower_cube`), each record
shifted by a multiple of 4 years onto a common axis (:func:`h2cm.data.tower_cube.align_years`:
same days of year and leap days, each site's own CO2; the model has no calendar input), so every
training step runs over the longest record rather than the union of all. Splits:

* ``loso:SITE``: train on every other site (all their years), test on SITE (all its years);
* ``temporal``: train on every site with its last calendar year's fluxes removed, test each site
  on that year.

Every model kind is trained with the same loss (the site study's: ET and GPP monthly mean seasonal
cycle, NEE monthly values; :func:`h2cm.studies.site.site_config`) and the same budget (epochs;
all training cells in one batch, so one optimiser step per epoch), once per seed. No early
stopping and no model selection on the test site: the validation set is the training cells and is
scored only after the last epoch. Trainings run in ``jobs`` spawned worker processes; each writes
``runs/SEED/KIND/SPLIT/sim.npz`` (the daily outputs of every cell), which ``--resume`` keeps.
Scoring: :mod:`h2cm.studies.towers_scores`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .. import runtime
from ..atomic import atomic_path, write_json
from ..data.cube import load_cells, open_cube, save_cube
from .site import SITE_MODELS, site_config
from .towers_report import write_results
from .towers_scores import score_all, site_records

SIM_KEYS = ("gpp", "nee", "et", "ter", "rh")


@dataclass(frozen=True)
class Task:
    cube: str
    out: str
    kind: str
    seed: int
    split: str  # "loso:SITE" or "temporal"
    epochs: int
    threads: int
    overrides: tuple[str, ...]

    @property
    def dir(self) -> Path:
        return Path(self.out) / "runs" / str(self.seed) / self.kind / self.split.replace(":", "_")


def _train_data(task: Task):
    """(train, val) CellData of a task's split."""
    import torch

    ds = open_cube(task.cube, dask=False)
    cells = load_cells(ds)
    records = site_records(ds)
    if task.split == "temporal":
        train = cells
        for j, (_, _, end) in enumerate(records):
            last = np.asarray(cells.months.year == end.year)
            for v in train.constraints.values():
                if v.dim() == 2:
                    v[torch.as_tensor(last), j] = float("nan")
        return train, train
    site = task.split.split(":", 1)[1]
    others = [j for j, r in enumerate(records) if r[0] != site]
    train = cells.subset(others)
    return train, train


def run_task(task: Task) -> str:
    """Train one (kind, seed, split) and write the daily outputs of every cell (worker entry point)."""
    from ..training.checkpoint import load_model
    from ..training.trainer import BEST, FoldTrainer
    from .common import simulate

    runtime.configure(threads=task.threads)
    out = task.dir / "sim.npz"
    if out.exists():
        return str(out)
    train, val = _train_data(task)
    cfg = site_config(
        task.kind,
        task.epochs,
        task.threads,
        [
            f"seed={task.seed}",
            f"train.batch_size={train.n_cells}",
            f"train.validate_every={task.epochs}",
            "train.compile=false",  # a compilation per training costs more than it saves at these budgets
            *task.overrides,
        ],
    )
    t0 = time.perf_counter()
    result = FoldTrainer(cfg, 0, task.dir, train, val).fit()
    seconds = time.perf_counter() - t0
    model = load_model(task.dir / BEST)
    sim = simulate(model, load_cells(task.cube), SIM_KEYS if task.kind != "lstm" else ("gpp", "nee", "et", "npp"))
    arrays = {k: sim[k].astype(np.float32) for k in SIM_KEYS if k in sim}
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    write_json(task.dir / "task.json", {"seconds": round(seconds, 1), "best_epoch": result.best_epoch})
    return str(out)


def run_towers(
    files: Sequence[str | Path],
    out: str | Path,
    epochs: int = 30,
    baseline_epochs: int | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    models: Sequence[str] = SITE_MODELS,
    threads: int = 1,
    jobs: int = 2,
    sites: str | Path | None = None,
    opts=None,
    overrides: Sequence[str] = (),
    temporal: bool = True,
    plots: bool = True,
    log=print,
) -> dict[str, object]:
    """Import ``files``, train every (kind, seed, split) and score them (module docstring).
    Writes ``towers.nc``, ``runs/``, ``metrics.csv``, ``table_*.csv``, ``rain_pulse.csv``,
    ``results.md``, ``summary.json`` and figures into ``out``; returns the summary."""
    from ..data.tower_cube import tower_cube

    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cube = out / "towers.nc"
    ds = tower_cube(files, sites, opts=opts, log=log, align=True)
    if len(site_records(ds)) < 2:
        raise ValueError(f"{files}: leave-one-site-out needs at least two sites; got {ds.attrs['h2cm_sites']}")
    if not cube.exists():
        save_cube(ds, cube)
    splits = [f"loso:{s}" for s, _, _ in site_records(ds)] + (["temporal"] if temporal else [])
    tasks = [
        Task(str(cube), str(out), kind, int(seed), split,
             epochs if kind == "hybrid" or baseline_epochs is None else baseline_epochs, threads, tuple(overrides))
        for seed in seeds for kind in models for split in splits
    ]  # fmt: skip
    tasks.sort(key=lambda t: (t.kind == "lstm", t.seed, t.split))  # slow kinds first: better packing
    todo = [t for t in tasks if not (t.dir / "sim.npz").exists()]
    log(f"{len(tasks)} trainings ({len(tasks) - len(todo)} already done), {jobs} at once")
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            for n, path in enumerate(pool.map(run_task, todo), 1):
                log(f"[{n}/{len(todo)}] {path}")
    else:
        for n, t in enumerate(todo, 1):
            log(f"[{n}/{len(todo)}] {run_task(t)}")
    train_seconds = time.perf_counter() - t_start
    scores = score_all(ds, tasks)
    summary = write_results(out, ds, tasks, scores, plots=plots)
    summary["seconds"] = {"total": round(time.perf_counter() - t_start, 1), "training": round(train_seconds, 1)}
    summary["settings"] = {
        "epochs": epochs,
        "baseline_epochs": baseline_epochs or epochs,
        "seeds": list(seeds),
        "models": list(models),
        "jobs": jobs,
        "threads": threads,
        "overrides": list(overrides),
    }
    write_json(out / "summary.json", summary, default=str)
    return summary
