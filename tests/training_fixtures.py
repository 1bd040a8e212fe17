"""Shared helpers of the training tests: the tiny twin world (made once per test process) and a
small configuration for it (reduced networks and period so that a fold trains in seconds)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

# tiny world: 64 cells in two regions, 2016-2019 (every constraint has data in 2016, OCO-2-like NEE
# included; GRACE-like TWS pauses from July 2017 to May 2018).
# 2-degree blocks give 18 blocks: a test set and 4 folds of 3-4 blocks each.
TINY_OVERRIDES = [
    "network.lstm_hidden=16",
    "network.fc_hidden=16",
    "split.method=h2cm",  # the paper preset's reference split and store statistics need the authors' store
    "normalization=fold",
    "split.block_deg=2.0",
    "split.n_folds=4",
    "train.batch_size=16",
    "train.val_batch_size=16",
    "train.chunk_days=60",
    "threads=1",
    "progress=false",
    "train.compile=false",  # compiling takes a minute; tests/test_compiled.py covers it
    # the paper's schedule and a validation every epoch (the demo preset's time-to-skill settings
    # have their own tests in test_training_trainer.py)
    "optimizer.lr=0.005",
    "scheduler.name=step",
    "scheduler.warmup_steps=0",
    "train.spinup_refresh=1",
    "train.validate_every=1",
    "train.initial_validation=true",
]


@lru_cache(maxsize=1)
def tiny_cube() -> Path:
    """Path of the tiny twin world (generated on first use, removed at exit)."""
    from h2cm.data.synth import make_twin_world

    root = Path(tempfile.mkdtemp(prefix="h2cm-tiny-"))
    atexit.register(shutil.rmtree, root, True)
    return make_twin_world("tiny", 0, root / "tiny.zarr", progress=False)


def tiny_overrides(*extra: str, start: str = "2016-01-01", end: str = "2016-06-30") -> list[str]:
    """Overrides for a quick run on the tiny world (default: the 182 days of January-June 2016)."""
    return [f"data.cube={tiny_cube()}", f"data.start={start}", f"data.end={end}", *TINY_OVERRIDES, *extra]
