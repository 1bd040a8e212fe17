"""Throughput on a GPU at several batch sizes, and the time of one paper-scale epoch.

    python benchmarks/gpu_bench.py [--batches 128,1024,4096] [--compile-batch 4096] [--out FILE]

Runs :func:`h2cm.bench.run_bench` on ``cuda`` (365 days, fast path beside the plain per-day path
at each batch; the compiled fast path, day blocks captured in CUDA graphs, at ``--compile-batch``)
and prints one JSON line per measurement as it goes. One paper-scale epoch is 62.5 million
cell-days (about 9,000 training cells x 6,940 days), so its time is 62.5e6 / training cell-days/s.
Needs only torch and numpy (no pydantic, zarr or xarray), so it runs on a bare GPU image.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback

import torch

from h2cm.bench import run_bench

PAPER_EPOCH_CELL_DAYS = 62.5e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", default="128,1024,4096")
    ap.add_argument("--compile-batch", type=int, default=4096)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    results = []
    for batch in [int(b) for b in args.batches.split(",")]:
        t0 = time.perf_counter()
        res = run_bench(batch, args.days, threads=4, repeat=2, chunk_days=None, plain=True, device="cuda")
        res["seconds"] = round(time.perf_counter() - t0, 1)
        res["paper_epoch_minutes"] = round(PAPER_EPOCH_CELL_DAYS / res["train"] / 60, 1)
        results.append(res)
        print(json.dumps(res), flush=True)
    if args.compile_batch:
        t0 = time.perf_counter()
        try:
            res = run_bench(
                args.compile_batch,
                args.days,
                threads=4,
                repeat=2,
                chunk_days=None,
                plain=False,
                compile=True,
                device="cuda",
            )
            res["paper_epoch_minutes_compiled"] = round(PAPER_EPOCH_CELL_DAYS / res["train_compiled"] / 60, 1)
        except Exception:  # noqa: BLE001 - report what failed and keep the eager figures
            res = {"batch": args.compile_batch, "compile_error": traceback.format_exc()[-2000:]}
        res["seconds"] = round(time.perf_counter() - t0, 1)
        results.append(res)
        print(json.dumps(res), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "results": results}, f, indent=1
            )


if __name__ == "__main__":
    main()
