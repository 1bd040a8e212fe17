"""One fold of the demo preset against the clock: seconds per epoch, validation loss, and how many
graphs torch.compile made and how long it spent on them (dynamo's own counters and timers).

    python benchmarks/fold_timeline.py WORLD.zarr OUT [KEY=VALUE ...]

Run it with an empty inductor cache (``TORCHINDUCTOR_CACHE_DIR=$(mktemp -d)``) to see what a
fresh machine pays; docs/performance.md ("What the fast path does") has the results.
"""

from __future__ import annotations

import csv
import json
import sys
import time

import torch._dynamo.utils as dynamo_utils

from h2cm import runtime
from h2cm.layout import LOG, fold_dir
from h2cm.training.trainer import train_fold


def main() -> None:
    cube, out, *extra = sys.argv[1:]
    runtime.configure(threads=1, seed=0)
    t0 = time.perf_counter()
    res = train_fold("demo", 0, out, overrides=[f"data.cube={cube}", "threads=1", "progress=false", *extra])
    wall = time.perf_counter() - t0
    print(dynamo_utils.compile_times(repr="str", aggregate=True))
    print(
        json.dumps(
            {
                "wall": round(wall, 1),
                "train_seconds": res.seconds,
                "graphs": dynamo_utils.counters["stats"]["unique_graphs"],
            }
        )
    )
    with open(fold_dir(out, 0) / LOG) as f:
        for row in csv.DictReader(f):
            print(row["epoch"], row["seconds"], row.get("val_total", ""))


if __name__ == "__main__":
    main()
