"""``h2cm synth``: a thin shell over :func:`h2cm.data.synth.make_twin_world`."""

from __future__ import annotations

import time

from . import options


def register(sub) -> None:
    from ..data.synth.world import SIZES

    p = sub.add_parser("synth", help="generate a twin world (cube + hidden truth) from real geography")
    p.add_argument(
        "--size",
        choices=tuple(SIZES),
        default="tiny",
        help="; ".join(f"{s.name}: {s.description}" for s in SIZES.values()),
    )
    options.seed(p)
    p.add_argument("--out", required=True, help="output cube: a zarr directory, or a .nc file")
    p.add_argument("--block-cells", type=int, default=1000, help="cells generated per block (memory bound)")
    options.quiet(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.synth import make_twin_world

    t0 = time.perf_counter()
    path = make_twin_world(args.size, args.seed, args.out, block_cells=args.block_cells, progress=not args.quiet)
    if not args.quiet:
        print(f"wrote {path} ({args.size}, seed {args.seed}) in {time.perf_counter() - t0:.1f} s")
    return 0
