"""``h2cm train``: train one fold of a run (:func:`h2cm.training.trainer.train_fold`) and print its
summary as JSON (docs/cli/train.md)."""

from __future__ import annotations

import json

from . import options


def run(args) -> int:
    """``h2cm train``: train one fold and print its summary as JSON."""
    from ..training.trainer import train_fold

    result = train_fold(args.config, args.fold, args.out, resume=args.resume, overrides=args.overrides)
    print(json.dumps(result.to_dict(), indent=1))
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train one fold of a cross-validation run")
    options.config(p)
    p.add_argument("--fold", type=int, required=True, help="fold to validate on (trains on the others)")
    p.add_argument("--out", required=True, help="run directory (RUN/fold_K is written)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/fold_K/last.pt if it exists")
    options.overrides(p)
    p.set_defaults(func=run)
