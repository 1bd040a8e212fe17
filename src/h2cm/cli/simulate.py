"""``h2cm simulate``: a thin shell over :func:`h2cm.simulate.simulate_toy`."""

from __future__ import annotations

from . import options


def register(sub) -> None:
    p = sub.add_parser("simulate", help="forward simulation on generated forcing; prints a summary")
    p.add_argument("--cells", type=int, default=64, help="cells simulated (default 64)")
    p.add_argument("--days", type=int, default=730, help="days simulated (default 730)")
    options.seed(p)
    options.threads(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..simulate import simulate_toy, summary

    sim, _, seconds = simulate_toy(args.cells, args.days, args.seed, args.threads)
    print(summary(sim, seconds))
    return 0
