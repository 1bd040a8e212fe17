"""``h2cm predict``: a thin shell over :func:`h2cm.evaluation.predict.predict`."""

from __future__ import annotations

from . import options


def register(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="simulate every fold's model (with spin-up) and write CF-compliant outputs (zarr or NetCDF)",
    )
    options.run_dir(p)
    options.cube(p, "cube to simulate (default: the run's cube)")
    p.add_argument("--cells", default="test", choices=("test", "all"), help="test cells of the split, or all land")
    options.period(p)
    p.add_argument("--out", required=True, help="OUT.zarr (directory) or OUT.nc (NetCDF-4)")
    p.add_argument("--monthly", action="store_true", help="write calendar-month means instead of daily values")
    p.add_argument("--no-folds", action="store_true", help="write only ensemble median/min/max, not each fold")
    options.batch_cells(p)
    options.device(p)
    options.threads(p)
    options.quiet(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..evaluation.predict import predict

    predict(
        args.run,
        args.out,
        cube=args.cube,
        cells=args.cells,
        period=args.period,
        monthly=args.monthly,
        per_fold=not args.no_folds,
        batch_cells=args.batch_cells,
        threads=args.threads,
        progress=not args.quiet,
        device=args.device,
        compile=args.compile,
    )
    return 0
