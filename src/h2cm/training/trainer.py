"""Train one fold of a run: :func:`train_fold` prepares the run directory, the split and the
fold's cells, and trains them with a :class:`~h2cm.training.fold_trainer.FoldTrainer` (or, with
``train.data_parallel`` > 1, with Ray Train workers: :mod:`h2cm.training.distributed`).

The pieces, bottom up: :mod:`.foldstate` (the trainer state, RNG states and learning-rate
schedule that ``last.pt`` restores), :mod:`.spinup_cache` (the warm spin-up cache),
:mod:`.foldlog` (the fold directory's file names, ``log.csv`` rows and ``result.json``),
:mod:`.fold_trainer` (the steps and the epoch loop). The ``h2cm train`` verb is
:mod:`h2cm.cli.train`.

Resume semantics (docs/training.md): ``last.pt`` is written atomically at the end of every epoch
and every ``train.checkpoint_every`` batches inside an epoch. It holds the model, optimiser,
scheduler, RNG states (torch, numpy, python), the data-order generator's state at the start of the
current epoch, the number of batches of that epoch already done, the epoch's running loss sums and
the log so far. Resuming regenerates the epoch's batch order from the saved generator state and
continues with the next batch, so a run killed at any point and resumed (same seed, CPU, same
threads) ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from .. import layout, runtime
from ..data.cells import CellData
from .config import RunConfig, load_config
from .fold_trainer import FoldTrainer
from .foldlog import BEST, LAST, LOG, RESULT, FoldResult
from .folds import ensure_split, fold_seed, load_fold_data, require_cube
from .foldstate import TrainerState, make_scheduler, seed_everything
from .run import prepare_run_dir, update_manifest
from .spinup_cache import SpinupCache

# names other modules (studies, benchmarks, tests) import from here
__all__ = [
    "BEST",
    "LAST",
    "LOG",
    "RESULT",
    "FoldResult",
    "FoldTrainer",
    "SpinupCache",
    "TrainerState",
    "make_scheduler",
    "seed_everything",
    "train_fold",
]


def train_fold(
    config: RunConfig | str | os.PathLike,
    fold: int,
    out_dir: str | os.PathLike,
    resume: bool = False,
    data: CellData | None = None,
    overrides: list[str] | None = None,
    on_validation: Callable[[int, float], bool] | None = None,
) -> FoldResult:
    """Train fold ``fold`` of a run in ``out_dir`` (``RUN/fold_K``) and return its summary.

    config: a :class:`RunConfig`, YAML path or preset name (with ``overrides``). resume: continue
    from ``fold_K/last.pt`` if it exists (a finished fold returns its result at once); without it
    an existing fold is trained again from scratch. data: cells to use instead of ``data.cube``
    (split indices are then positions in ``data``). on_validation: called after every validation
    with (epoch, validation total); returning True stops the fold (stop reason ``pruned``)."""
    cfg = config if isinstance(config, RunConfig) and not overrides else load_config(config, overrides)
    if cfg.train.data_parallel > 1:  # one Ray Train worker per shard of every batch
        from .distributed import train_fold_data_parallel

        if on_validation is not None:
            raise ValueError("on_validation (h2cm tune) does not support train.data_parallel > 1")
        return train_fold_data_parallel(cfg, fold, out_dir, resume, data)
    runtime.configure(threads=cfg.threads, seed=fold_seed(cfg.seed, fold))
    if data is None:
        require_cube(cfg)  # before anything is written to the run directory
    run_dir = Path(out_dir)
    ensure_split(cfg, run_dir, data)  # made once per run; a split that cannot be made leaves nothing behind
    prepare_run_dir(cfg, run_dir)
    fold_dir = layout.fold_dir(run_dir, fold)
    fold_dir.mkdir(parents=True, exist_ok=True)
    update_manifest(run_dir, cfg, folds={str(fold): {"status": "running", "started": time.time()}})
    try:
        t0 = time.perf_counter()
        fd = load_fold_data(cfg, fold, run_dir, data)
        load_seconds = time.perf_counter() - t0
        trainer = FoldTrainer(cfg, fold, fold_dir, fd.train, fd.val)
        trainer.on_validation = on_validation
        if resume and (fold_dir / LAST).exists():
            trainer.restore(fold_dir / LAST)
        elif not resume:
            for name in (LAST, BEST, LOG, RESULT):
                (fold_dir / name).unlink(missing_ok=True)
        result = trainer.fit()
    except BaseException as e:
        update_manifest(run_dir, cfg, folds={str(fold): {"status": "failed", "error": repr(e)}})
        raise
    update_manifest(
        run_dir,
        cfg,
        folds={
            str(fold): {
                "status": "done",
                "finished": time.time(),
                "load_seconds": round(load_seconds, 2),
                **{k: v for k, v in result.to_dict().items() if not k.startswith(("val_", "train_"))},
            }
        },
    )
    return result
