"""``h2cm report`` and ``h2cm demo``: thin shells over :func:`h2cm.report.html.build_report` and
:func:`h2cm.report.demo.demo`."""

from __future__ import annotations

from . import options


def register(sub) -> None:
    p = sub.add_parser("report", help="self-contained HTML report (figures as PNG beside it) of a run")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--out", default=None, help="report folder (default: RUN/report; replaced as a whole)")
    p.add_argument("--evaluation", default=None, help="evaluation folder (default: RUN/evaluation; made if missing)")
    options.cube(p)
    options.cell(p, "LAT,LON of the cell for the daily rain-pulse figure (default: the evaluation's)")
    options.quiet(p)
    p.set_defaults(func=report)
    _register_demo(sub)


def _register_demo(sub) -> None:
    from ..report.demo import DEMO_PRESET

    p = sub.add_parser("demo", help="end to end: twin world, CV training, predict, evaluate, HTML report")
    p.add_argument("--out", default="h2cm-demo", help="output folder (default: ./h2cm-demo)")
    p.add_argument("--size", default="demo", help="twin world size (demo; tiny for a quick check)")
    p.add_argument("--config", default=DEMO_PRESET, help=f"training preset or YAML (default: {DEMO_PRESET})")
    p.add_argument("--fresh", action="store_true", help="rebuild everything instead of reusing finished steps")
    options.seed(p)
    options.threads(p)
    p.add_argument(
        "--compile",
        action="store_true",
        help="train with torch.compile'd blocks of days (the demo preset already does; for other presets)",
    )
    p.add_argument(
        "--maps-cells",
        default="test",
        choices=("test", "all"),
        help="cells in maps and regional cycles (all = one more simulation of every land cell)",
    )
    options.overrides(p, "train.epochs=3")
    p.set_defaults(func=demo)


def report(args) -> int:
    from ..report.html import build_report

    build_report(
        args.run,
        out=args.out,
        evaluation=args.evaluation,
        cube=args.cube,
        cell=options.parse_cell(args.cell),
        progress=not args.quiet,
    )
    return 0


def demo(args) -> int:
    from ..report.demo import demo as run_demo

    run_demo(
        args.out,
        size=args.size,
        preset=args.config,
        overrides=args.overrides,
        fresh=args.fresh,
        seed=args.seed,
        threads=args.threads,
        maps_cells=args.maps_cells,
        compile=args.compile,
    )
    return 0
