"""``h2cm study twin|claims|site|towers``: thin shells over the studies of :mod:`h2cm.studies`."""

from __future__ import annotations

import argparse

from .import_towers import add_site_options, tower_options


def _run_twin(args: argparse.Namespace) -> int:
    from ..studies.twin import VARIANTS, run_twin

    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    run_twin(
        args.out,
        size=args.size,
        cube=args.cube,
        epochs=args.epochs,
        folds=args.folds,
        variants=variants,
        threads=args.threads,
        seed=args.seed,
        overrides=args.overrides,
        baseline_epochs=args.baseline_epochs,
        jobs=args.jobs,
        resume=args.resume,
    )
    print(f"wrote {args.out}/results.md")
    return 0


def _run_site(args: argparse.Namespace) -> int:
    from ..studies.site import SITE_MODELS, run_site

    models = args.models.split(",") if args.models else list(SITE_MODELS)
    run_site(
        args.file,
        args.out,
        epochs=args.epochs,
        models=models,
        threads=args.threads,
        overrides=args.overrides,
        plots=not args.no_plots,
        baseline_epochs=args.baseline_epochs,
        sites=args.sites,
        lat=args.lat,
        lon=args.lon,
        opts=tower_options(args),
    )
    print(f"wrote {args.out}/results.md")
    return 0


def _run_towers(args: argparse.Namespace) -> int:
    from ..studies.site import SITE_MODELS
    from ..studies.towers import run_towers

    summary = run_towers(
        args.files,
        args.out,
        epochs=args.epochs,
        baseline_epochs=args.baseline_epochs,
        seeds=[int(s) for s in str(args.seeds).split(",") if s.strip()],
        models=args.models.split(",") if args.models else list(SITE_MODELS),
        threads=args.threads,
        jobs=args.jobs,
        sites=args.sites,
        opts=tower_options(args),
        overrides=args.overrides,
        temporal=not args.no_temporal,
        plots=not args.no_plots,
    )
    print(f"wrote {args.out}/results.md ({summary['tasks']} trainings, {summary['seconds']['total']:.0f} s)")
    return 0


def _run_claims(args: argparse.Namespace) -> int:
    from ..evaluation.compare import parse_compare
    from ..studies.claims import VARIANTS, run_claims

    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    summary = run_claims(
        args.out,
        cube=args.cube,
        size=args.size,
        seeds=seeds,
        variants=variants,
        quick=args.quick,
        jobs=args.jobs,
        threads=args.threads,
        resume=args.resume,
        compare=parse_compare(args.compare),
        overrides=args.overrides,
    )
    met = [a for a in summary["acceptance"] if a["met"] != "yes"]
    print(
        f"wrote {args.out}/results.md ({len(summary['acceptance']) - len(met)} of {len(summary['acceptance'])} "
        f"acceptance criteria met; {summary['seconds']['total']:.0f} s)"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen study (bad input: one line and exit 2 from :func:`h2cm.cli.main`)."""
    return args.study_func(args)


def register(sub) -> None:
    p = sub.add_parser("study", help="hybrid vs baselines: twin-world truth recovery, flux-tower temporal split")
    studies = p.add_subparsers(dest="study", metavar="STUDY", required=True)

    t = studies.add_parser("twin", help="train hybrid (with/without priors) and both baselines on a twin world")
    t.add_argument("--size", default="demo", choices=("tiny", "demo"), help="twin-world size and preset")
    t.add_argument("--cube", default=None, help="use this twin world instead of generating OUT/world.zarr")
    t.add_argument("--out", required=True, help="output directory (results.md, CSV tables, runs/)")
    t.add_argument("--epochs", type=int, default=None, help="epochs per fold (default: the demo preset's)")
    t.add_argument("--baseline-epochs", type=int, default=None, help="epochs of constant and lstm (default: --epochs)")
    t.add_argument("--folds", type=int, default=1, help="train folds 0..N-1 of every variant (default 1)")
    t.add_argument("--variants", default=None, help="comma list of hybrid,hybrid_priors,constant,lstm (default all)")
    t.add_argument("--threads", type=int, default=2, help="torch threads per fold")
    t.add_argument("--jobs", type=int, default=1, help="folds trained at once, in worker processes (default 1)")
    t.add_argument("--resume", action="store_true", help="keep folds already trained in OUT/runs")
    t.add_argument("--seed", type=int, default=0, help="twin-world seed (when generating one)")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides for every variant")
    t.set_defaults(func=run, study_func=_run_twin)

    c = studies.add_parser("claims", help="the paper's carbon claims on a twin world observed like the paper's")
    c.add_argument("--out", required=True, help="output directory (results.md, CSV tables, figures/, runs/, sims/)")
    c.add_argument("--cube", default=None, help="use this twin world instead of generating OUT/world.zarr")
    c.add_argument("--size", default="demo", choices=("demo", "global"), help="twin world to generate (no --cube)")
    c.add_argument("--seeds", default="0,1", help="comma list of seeds (model initialisation, data order)")
    c.add_argument("--variants", default=None, help="comma list of hybrid,hybrid_priors,constant,lstm (default all)")
    c.add_argument("--quick", action="store_true", help="tiny world, tiny networks, one epoch (a smoke test, for CI)")
    c.add_argument("--compare", action="append", metavar="NAME=PATH", help="another product for the regional cycles")
    c.add_argument("--jobs", type=int, default=2, help="folds (and simulations) at once in worker processes")
    c.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    c.add_argument("--resume", action="store_true", help="keep finished folds and simulations in OUT")
    c.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides for every run")
    c.set_defaults(func=run, study_func=_run_claims)

    s = studies.add_parser("site", help="train hybrid and both baselines at a FLUXNET site, test on its last year")
    s.add_argument("file", help="a tower file (FLUXNET2015/ONEFlux DD, HH, HR; FluxDataKit daily)")
    s.add_argument("--out", required=True, help="output directory (results.md, metrics.csv, plots, runs/)")
    s.add_argument("--epochs", type=int, default=50, help="epochs per model")
    s.add_argument("--baseline-epochs", type=int, default=None, help="epochs of constant and lstm (default: --epochs)")
    s.add_argument("--models", default=None, help="comma list of hybrid,constant,lstm (default all)")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    s.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides for every model")
    add_site_options(s)
    s.set_defaults(func=run, study_func=_run_site)

    w = studies.add_parser("towers", help="several towers: leave-one-site-out CV and temporal split, 3 model kinds")
    w.add_argument("files", nargs="+", help="tower files, one per site (h2cm import-towers)")
    w.add_argument("--out", required=True, help="output directory (results.md, CSV tables, figures, runs/)")
    w.add_argument("--epochs", type=int, default=30, help="epochs (= optimiser steps) per training")
    w.add_argument("--baseline-epochs", type=int, default=None, help="epochs of constant and lstm (default: --epochs)")
    w.add_argument("--seeds", default="0,1,2", help="comma list of seeds (at least 3 for the median and range)")
    w.add_argument("--models", default=None, help="comma list of hybrid,constant,lstm (default all)")
    w.add_argument("--threads", type=int, default=1, help="torch threads per training")
    w.add_argument("--jobs", type=int, default=2, help="trainings at once, in worker processes")
    w.add_argument("--no-temporal", action="store_true", help="leave-one-site-out only")
    w.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    add_site_options(w)
    w.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides for every model")
    w.set_defaults(func=run, study_func=_run_towers)
