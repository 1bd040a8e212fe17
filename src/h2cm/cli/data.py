"""``h2cm check`` and ``h2cm import-h2cm``: thin shells over :mod:`h2cm.data.check_files` and
:func:`h2cm.data.import_h2cm.import_h2cm`."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("check", help="validate a data cube; prints every problem, exit 1 on errors")
    p.add_argument("cube", help="cube path (zarr directory or .nc file)")
    p.add_argument("--strict", action="store_true", help="also fail (exit 1) on warnings")
    p.add_argument("--errors-only", action="store_true", help="print errors only")
    p.set_defaults(func=check)
    p = sub.add_parser("import-h2cm", help="convert the published H2CM training data (zarr) to an h2cm cube")
    p.add_argument("store", help="the H2CM training data zarr store (Zenodo record 16575309)")
    p.add_argument("--out", required=True, help="output cube (zarr directory, or .nc)")
    p.set_defaults(func=import_h2cm)


def check(args) -> int:
    """Exit 0: valid; 1: problems found (errors, or warnings with --strict); 2: not a readable cube."""
    from ..data.check import CHECK_CHUNKS
    from ..data.check_files import check_path
    from ..data.problems import format_problems

    problems = check_path(args.cube, chunks=CHECK_CHUNKS)  # also the truth group, unreadable chunks
    if any(p.variable == "(store)" for p in problems):
        raise ValueError(f"{args.cube}: {problems[0].message}")
    if args.errors_only:
        problems = [p for p in problems if p.severity == "error"]
    print(format_problems(problems, str(args.cube)))
    if args.strict and problems:
        return 1
    return 1 if any(p.severity == "error" for p in problems) else 0


def import_h2cm(args) -> int:
    from ..data.import_h2cm import import_h2cm as run_import

    print(f"wrote {run_import(args.store, args.out)}")
    return 0
