"""The twin world: ``h2cm synth --size tiny|demo|global --seed N --out CUBE``.

Real geography from installed packages, a vectorised weather generator, truth parameters that
the networks can learn, the model's own process equations for the daily truth, and observation
operators that mimic the real constraint products. See docs/data.md and docs/cli/synth.md.
"""

from __future__ import annotations

import argparse
import time

from .truth import TRUTH_CONSTANTS
from .world import SIZES, make_twin_world

__all__ = ["SIZES", "TRUTH_CONSTANTS", "make_twin_world", "register"]


def run(args: argparse.Namespace) -> int:
    from ..cube import CubeError

    t0 = time.perf_counter()
    try:
        path = make_twin_world(args.size, args.seed, args.out, block_cells=args.block_cells, progress=not args.quiet)
    except CubeError as exc:
        print(f"error: {exc}")
        return 1
    if not args.quiet:
        print(f"wrote {path} ({args.size}, seed {args.seed}) in {time.perf_counter() - t0:.1f} s")
    return 0


def register(sub) -> None:
    p = sub.add_parser("synth", help="generate a twin world (cube + hidden truth) from real geography")
    p.add_argument(
        "--size",
        choices=tuple(SIZES),
        default="tiny",
        help="; ".join(f"{s.name}: {s.description}" for s in SIZES.values()),
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output cube: a zarr directory, or a .nc file")
    p.add_argument("--block-cells", type=int, default=1000, help="cells generated per block (memory bound)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)
