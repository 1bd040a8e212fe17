"""``h2cm import-checkpoint`` and ``h2cm split``: thin shells over :mod:`h2cm.reference`."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser(
        "import-checkpoint",
        help="convert checkpoints of the authors' code (Lightning, one per fold) into an h2cm run",
    )
    p.add_argument("checkpoints", nargs="+", metavar="CKPT", help="the authors' .ckpt files, one per fold")
    p.add_argument("--cube", required=True, help="the cube imported from their store (h2cm import-h2cm)")
    p.add_argument("--out", required=True, help="new run directory")
    p.add_argument(
        "--fold",
        type=int,
        nargs="+",
        default=None,
        metavar="K",
        help="fold of each checkpoint (default: the checkpoint's hyper-parameter k, else its position)",
    )
    p.set_defaults(func=import_checkpoint)
    _register_split(sub)


def _register_split(sub) -> None:
    from ..training.config import SplitConfig

    d = SplitConfig()
    p = sub.add_parser("split", help="a cube's cross-validation split (h2cm's or the authors') as JSON and a map")
    p.add_argument("cube", help="the cube whose land cells are split")
    p.add_argument("--method", choices=("h2cm", "reference"), default="h2cm", help="h2cm (default) or the authors'")
    p.add_argument("--out", default=None, help="write the split here (JSON) instead of printing it")
    p.add_argument("--figure", default=None, help="also draw the split as a map (PNG)")
    p.add_argument("--seed", type=int, default=d.seed, help="h2cm method: shuffling seed")
    p.add_argument("--n-folds", type=int, default=d.n_folds, help="number of folds (the paper: 10)")
    p.add_argument("--block-deg", type=float, default=d.block_deg, help="h2cm method: block size in degrees")
    p.add_argument("--test-fraction", type=float, default=d.test_fraction, help="h2cm method: test share")
    p.set_defaults(func=split)


def import_checkpoint(args) -> int:
    from ..layout import fold_of
    from ..reference.convert import import_checkpoints

    out = import_checkpoints(args.checkpoints, args.cube, args.out, args.fold)
    folds = sorted(k for p in out.iterdir() if (k := fold_of(p)) is not None)
    print(f"wrote {out}: folds {', '.join(map(str, folds))} (split.method reference, normalization store)")
    return 0


def split(args) -> int:
    from ..reference.splitcmd import cube_split_by_method, split_figure

    options = {"n_folds": args.n_folds}
    if args.method == "h2cm":
        options.update(seed=args.seed, block_deg=args.block_deg, test_fraction=args.test_fraction)
    result = cube_split_by_method(args.cube, args.method, **options)
    if args.figure:
        split_figure(result, args.figure)
    if args.out:
        result.save(args.out)
        sizes = ", ".join(str(len(f)) for f in result.folds)
        print(f"wrote {args.out}: {args.method} split, {len(result.test)} test cells, folds of {sizes} cells")
    else:
        print(json.dumps(result.to_dict(), indent=1))
    return 0
