"""``h2cm bench``: a thin shell over :func:`h2cm.bench.run_bench` and :mod:`h2cm.bench_history`."""

from __future__ import annotations

import json
from pathlib import Path

from . import options


def register(sub) -> None:
    p = sub.add_parser("bench", help="throughput (cell-days/s) of forward, training and inference, fast vs plain")
    p.add_argument("--batch", type=int, default=128, help="cells per batch (default 128)")
    p.add_argument("--days", type=int, default=365, help="days per sequence (default 365)")
    options.threads(p)
    p.add_argument("--repeat", type=int, default=2, help="timed repetitions after one warm-up (best is kept)")
    p.add_argument("--chunk-days", type=int, default=365, help="days per recomputed chunk in training")
    p.add_argument(
        "--memory-days",
        type=int,
        default=0,
        help="also measure peak memory of one training step over this many days (e.g. 6940)",
    )
    p.add_argument("--no-plain", action="store_true", help="skip the plain reference path")
    p.add_argument("--compile", action="store_true", help="also measure the torch.compile'd daily loop (*_compiled)")
    p.add_argument("--block-days", type=int, default=4, help="days per compiled call with --compile")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--json", action="store_true", help="print one JSON object on one line")
    p.add_argument("--save", action="store_true", help="append the result (machine, commit, time) to --history")
    p.add_argument(
        "--compare", action="store_true", help="print ratios against the last --history entry of this machine"
    )
    p.add_argument("--history", default="benchmarks/history.jsonl", help="history file of --save/--compare")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import bench_history as bh
    from ..bench import run_bench, train_step_memory

    history = bh.read_history(Path(args.history)) if args.save or args.compare else []  # bad file: exit 2
    res = run_bench(
        args.batch,
        args.days,
        args.threads,
        args.repeat,
        args.chunk_days,
        plain=not args.no_plain,
        compile=args.compile,
        device=args.device,
        block_days=args.block_days,
    )
    if args.memory_days:
        res["memory"] = train_step_memory(args.batch, args.memory_days, args.threads, args.chunk_days)
    old = None
    if args.save or args.compare:
        res = bh.stamp(res)
        old = bh.last_comparable(history, res) if args.compare else None
        if args.save:
            bh.append(Path(args.history), res)
    print(json.dumps(res) if args.json else json.dumps(res, indent=1))
    if args.compare:
        print(bh.compare_text(res, old))
    return 0
