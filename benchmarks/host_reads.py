"""Where a training step reads values back to the host: on a GPU each such read makes the host
wait for the device. Counts, over one batch of a fold's training step (forward with spin-up, every
loss term, backward) on the tiny twin world, the operators that need a value on the host (a
scalar read, a boolean index or ``nonzero`` with their data-dependent shapes), by the line of h2cm
that called them.

    python benchmarks/host_reads.py [--end 2016-12-31]

Runs on the CPU, where such reads are free; what it counts is what would wait on a GPU, except
reads of tensors that stay on the CPU (the printed lines say which). docs/performance.md quotes
the result.
"""

from __future__ import annotations

import argparse
import tempfile
import traceback
from collections import Counter
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

HOST_READS = ("aten._local_scalar_dense", "aten.nonzero", "aten.masked_select", "aten.is_nonzero")


class HostReads(TorchDispatchMode):
    """Counts host reads by (operator, the innermost h2cm source line that led to it)."""

    def __init__(self):
        super().__init__()
        self.counts: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket)
        if name == "aten.index" and any(getattr(i, "dtype", None) == torch.bool for i in args[1] if i is not None):
            name = "boolean index"
        if name in HOST_READS or name == "boolean index":
            frames = [f for f in traceback.extract_stack() if "/h2cm/" in f.filename]
            where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno} {frames[-1].line}" if frames else "?"
            self.counts[(name, where)] += 1
        return func(*args, **(kwargs or {}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--end", default="2016-12-31", help="last day of the training period (from 2016-01-01)")
    args = ap.parse_args()
    from h2cm.data.synth import make_twin_world
    from h2cm.training.config import load_config
    from h2cm.training.folds import load_fold_data
    from h2cm.training.trainer import FoldTrainer

    root = Path(tempfile.mkdtemp(prefix="h2cm-host-reads-"))
    cube = make_twin_world("tiny", 0, root / "tiny.zarr", progress=False)
    overrides = [
        f"data.cube={cube}",
        "data.start=2016-01-01",
        f"data.end={args.end}",
        "network.lstm_hidden=16",
        "network.fc_hidden=16",
        "split.block_deg=2.0",
        "split.n_folds=4",
        "train.batch_size=16",
        "train.compile=false",
        "train.spinup_refresh=1",
        "progress=false",
    ]
    cfg = load_config("demo", overrides)
    fd = load_fold_data(cfg, 0, root)
    trainer = FoldTrainer(cfg, 0, root / "fold_0", fd.train, fd.val)
    batch = torch.arange(cfg.train.batch_size)
    with HostReads() as reads:
        terms = trainer._forward_terms(trainer.train_data, batch, cfg.train.batch_size, grad=True)
        terms["total"].backward()
    print(f"loss terms: {', '.join(k for k in terms if k != 'total')}")
    print(f"host reads in one training step (forward with spin-up, loss, backward): {sum(reads.counts.values())}")
    for (name, where), n in sorted(reads.counts.items(), key=lambda kv: -kv[1]):
        print(f"{n:5d}  {name:28s} {where}")


if __name__ == "__main__":
    main()
