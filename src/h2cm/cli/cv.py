"""``h2cm cv`` and ``h2cm tune``: thin shells over :func:`h2cm.training.cv.run_cv` and
:func:`h2cm.training.tune.run_tune`."""

from __future__ import annotations

from . import options


def register(sub) -> None:
    from ..training.cv import EXECUTORS

    p = sub.add_parser("cv", help="train all folds of a cross-validation run (local processes or Ray)")
    options.config(p)
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--executor", choices=EXECUTORS, default="local")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local instance)")
    p.add_argument("--folds", default=None, help="folds to train, e.g. 0-9 or 0,3,5 (default: all)")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="local executor: folds trained at once in worker processes (default: CPUs // threads; 1: in this process)",
    )
    p.add_argument("--resume", action="store_true", help="continue each fold from its last checkpoint")
    options.overrides(p)
    p.set_defaults(func=cv)
    _register_tune(sub)


def _register_tune(sub) -> None:
    from ..training.tune import PRUNERS

    p = sub.add_parser("tune", help="hyper-parameter search with Optuna (TPE sampler, ASHA pruning)")
    options.config(p, "YAML file or preset (paper, demo): the base configuration")
    p.add_argument("--out", required=True, help="study directory (study.db, trials/, trials.csv, best.yaml)")
    p.add_argument("--trials", type=int, default=20, help="complete + pruned trials wanted in all (default 20)")
    p.add_argument("--folds", required=True, help="folds each trial trains, e.g. 0,1 (sum of best val losses)")
    p.add_argument("--space", default=None, help="YAML file: dotted key -> {low, high[, log, step]} or [choices]")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--pruner", choices=PRUNERS, default="asha", help="asha (default), hyperband or none")
    options.seed(p, help_="seed of the TPE sampler")
    options.overrides(p, "data.cube=demo.zarr")
    p.set_defaults(func=tune)


def cv(args) -> int:
    """Exit 0: every fold trained; 1: a fold failed; 2: bad input (nothing written)."""
    from .. import runtime
    from ..training.cv import run_cv

    runtime.configure(threads=None)
    res = run_cv(
        args.config,
        args.out,
        executor=args.executor,
        folds=args.folds,
        ray_address=args.ray_address,
        jobs=args.jobs,
        resume=args.resume,
        overrides=args.overrides,
    )
    print(res.summary())
    return 1 if res.failed else 0


def tune(args) -> int:
    """Run the search, print one row per trial; exit 1 if no trial completed."""
    from ..training.tune import import_optuna, run_tune

    try:
        import_optuna()
    except RuntimeError as err:
        raise ValueError(str(err)) from None  # one line and exit 2 from h2cm.cli.main
    kw = {k: getattr(args, k) for k in ("space", "trials", "folds", "pruner", "seed", "timeout", "overrides")}
    print((res := run_tune(args.config, args.out, **kw)).summary())
    return 0 if res.best is not None else 1
