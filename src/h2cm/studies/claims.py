"""``h2cm study claims``: the paper's carbon claims tested on a twin world observed like the
paper's world (docs/studies/claims.md).

Runs the paper's setup on the twin world: the 10-fold spatial cross-validation with a fixed test
set, for the hybrid model, the hybrid with the Appendix-E priors, the process model with constant
parameters and the pure LSTM, each with the same loss, data and budget, for one or more seeds
(model initialisation and data order; the split stays the same). Models train on 2015-2017 (the
OCO-2-like and GRACE-like years; 2018-2019 stay unseen for the spatio-temporal test of the
paper's Appendix D). Every claim is then scored on out-of-sample simulations
(:mod:`.claims_sim`) against the hidden truth and the observations (:mod:`.claims_analysis`),
and written as tables (CSV), figures (PNG) and ``results.md`` with a "paper says / we find"
table (:mod:`.claims_report`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from .. import runtime
from ..data.synth import make_twin_world
from ..training.config import RunConfig, load_config
from ..training.cv import run_cv

# name -> (model kind, priors); the priors variant is trained for the first seed only
VARIANTS: dict[str, tuple[str, bool]] = {
    "hybrid": ("hybrid", False),
    "hybrid_priors": ("hybrid", True),
    "constant": ("constant", False),
    "lstm": ("lstm", False),
}
TRAIN_PERIOD = ("2015-01-01", "2017-12-31")  # OCO-2-like NEE and GRACE-like TWS; 2018-2019 unseen
WINDOW = ("2015-01-01", "2019-12-31")  # the OCO-2-like period: regional cycles, maps, processes
TIME_SPLIT = {"train years": ("2015-01-01", "2017-12-31"), "test years": ("2018-01-01", "2019-12-31")}
# the study's training budget on top of the demo preset (docs/studies/claims.md explains each)
STUDY_OVERRIDES: list[str] = [
    f"data.start={TRAIN_PERIOD[0]}",
    f"data.end={TRAIN_PERIOD[1]}",
    "data.max_train_cells=192",  # 1.5x the demo's cells per fold: what fits 2 seeds x 3 models in an hour
    "train.epochs=16",  # the budget and validation of docs/studies/claims.md, pinned: the demo
    "train.patience=16",  # preset has moved on since (validation at 32 cells every 8th epoch)
    "train.val_batch_size=128",
    "train.validate_every=3",
    "progress=false",
]
# what each baseline needs to converge on the same cells and data (docs/studies/claims.md, measured
# on fold 0): 13 scalars of the constant model move too slowly at lr 0.01 (validation loss 5.89
# after 16 epochs, 4.27 at lr 0.1, 4.21 after 48 epochs at 0.05); the LSTM needs more epochs
# (3.92 after 16, its best 3.36 after 36 of 48). The hybrid is the budget-limited one.
VARIANT_OVERRIDES: dict[str, list[str]] = {
    "constant": ["optimizer.lr=0.1"],
    "lstm": ["train.epochs=40", "train.patience=40"],
}
QUICK_OVERRIDES: list[str] = [  # the tiny world in CI: small networks, 2 folds, a few days of work
    "network.lstm_hidden=16",
    "network.fc_hidden=16",
    "split.block_deg=2.0",
    "split.n_folds=2",
    "train.batch_size=16",
    "train.val_batch_size=32",
    "train.chunk_days=120",
    "train.compile=false",
    "data.max_train_cells=24",
    "data.start=2016-01-01",
    "data.end=2017-12-31",
    "train.epochs=1",
    "train.initial_validation=false",
]
QUICK_WINDOW = ("2016-01-01", "2019-12-31")


def variant_config(
    variant: str, cube: Path, seed: int, quick: bool, threads: int, overrides: Sequence[str] = ()
) -> RunConfig:
    """The configuration of one variant and seed: ``demo`` preset, the study's settings, kind."""
    kind, priors = VARIANTS[variant]
    ov = [
        *STUDY_OVERRIDES,
        *VARIANT_OVERRIDES.get(variant, []),
        *(QUICK_OVERRIDES if quick else []),
        f"data.cube={cube}",
        f"model={kind}",
        f"name=claims-{variant}-seed{seed}",
        f"loss.priors={'true' if priors else 'false'}",
        f"seed={seed}",
        f"threads={threads}",
        *overrides,
    ]
    return load_config("demo", ov)


def runs_of(seeds: Sequence[int], variants: Sequence[str]) -> list[tuple[str, int]]:
    """(variant, seed) of every run: all variants for the first seed, all but the priors variant
    for the others."""
    out = []
    for i, s in enumerate(seeds):
        out += [(v, s) for v in variants if i == 0 or v != "hybrid_priors"]
    return out


def run_dir(out: Path, variant: str, seed: int) -> Path:
    return out / "runs" / f"seed_{seed}" / variant


def _simulate_task(run: str, cube: str, window: tuple[str, str], path: str, threads: int) -> str:
    from .claims_sim import save_sims, simulate_run

    runtime.configure(threads=threads)
    save_sims(simulate_run(run, cube, window), path)
    return path


def run_claims(
    out: str | Path,
    cube: str | Path | None = None,
    size: str = "demo",
    seeds: Sequence[int] = (0, 1),
    variants: Sequence[str] = tuple(VARIANTS),
    quick: bool = False,
    jobs: int = 2,
    threads: int = 1,
    resume: bool = False,
    compare: dict[str, str] | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, object]:
    """Train, simulate and score; write the study into ``out`` and return its summary.

    ``cube``: a twin world (default: ``OUT/world.zarr``, made with ``size``; ``quick`` uses the
    tiny world and tiny networks). ``jobs`` folds (and later runs) at once with ``threads``
    threads each. ``resume``: keep finished folds and simulations. ``compare``: other products
    (name -> ``h2cm predict`` store) drawn beside the models in the regional cycles."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    if not seeds:
        raise ValueError("no seed given")
    runtime.configure(threads=threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if cube is None:
        cube = out / "world.zarr"
        if not cube.exists():
            make_twin_world("tiny" if quick else size, 0, cube, progress=False)
    cube = Path(cube).resolve()
    window = QUICK_WINDOW if quick else WINDOW
    timing: dict[str, float] = {}
    configs: dict[str, RunConfig] = {}
    for variant, seed in runs_of(seeds, variants):
        cfg = variant_config(variant, cube, seed, quick, threads, overrides)
        configs[f"{variant}/{seed}"] = cfg
        t = time.perf_counter()
        res = run_cv(cfg, run_dir(out, variant, seed), jobs=jobs, resume=resume)
        if res.failed:
            raise RuntimeError(f"{variant} seed {seed}: training failed\n{res.summary()}")
        timing[f"train {variant} seed {seed}"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    sims_dir = out / "sims"
    todo = []
    for variant, seed in runs_of(seeds, variants):
        path = sims_dir / f"{variant}_seed{seed}.npz"
        if not (resume and path.exists()):
            todo.append((str(run_dir(out, variant, seed)), str(cube), window, str(path), threads))
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            list(pool.map(_simulate_task, *zip(*todo, strict=True)))
    else:
        for task in todo:
            _simulate_task(*task)
    timing["simulate"] = round(time.perf_counter() - t, 1)

    from .claims_report import write_report

    timing["total before scoring"] = round(time.perf_counter() - t0, 1)
    summary = write_report(
        out, cube, runs_of(seeds, variants), configs, window, quick=quick, compare=compare or {}, seconds=timing
    )
    timing["total"] = round(time.perf_counter() - t0, 1)
    summary["seconds"] = timing
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary
