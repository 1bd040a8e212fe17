"""``h2cm evaluate``: a thin shell over :func:`h2cm.evaluation.evaluate.evaluate`."""

from __future__ import annotations

from ..evaluation.compare import parse_compare
from . import options


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="skill metrics of a run (CSV + Markdown), diagnostics for the report")
    options.run_dir(p)
    options.cube(p)
    p.add_argument("--out", default=None, help="output folder (default: RUN/evaluation; replaced as a whole)")
    options.period(p)
    p.add_argument(
        "--maps-cells",
        default="all",
        choices=("all", "test"),
        help="cells for maps and regional cycles (all land cells, or only the test cells: faster)",
    )
    options.cell(p, "LAT,LON of the cell for daily plots (default: a southern African savanna test cell)")
    p.add_argument(
        "--simulations",
        default=None,
        help="daily store from 'h2cm predict' (with per-fold values) "
        "to read instead of simulating again; must cover the cells and period",
    )
    p.add_argument(
        "--compare",
        action="append",
        metavar="NAME=PATH",
        help="another simulation product to score beside the model (repeatable; PATH#GROUP for a group, "
        "e.g. world.zarr#products/process_ensemble)",
    )
    options.batch_cells(p)
    options.device(p)
    options.threads(p)
    options.quiet(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..evaluation.evaluate import evaluate

    evaluate(
        args.run,
        cube=args.cube,
        out=args.out,
        period=args.period,
        maps_cells=args.maps_cells,
        cell=options.parse_cell(args.cell),
        batch_cells=args.batch_cells,
        threads=args.threads,
        progress=not args.quiet,
        simulations=args.simulations,
        compare=parse_compare(args.compare),
        device=args.device,
        compile=args.compile,
    )
    return 0
