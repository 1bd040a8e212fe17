"""``h2cm import MAPPING.yaml --out CUBE``: CF NetCDF/zarr files -> an h2cm cube (docs/cli/import.md)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..data.cf_import import import_cf

    path, notes = import_cf(args.mapping, args.out)  # bad input: one clear error, exit 2 (h2cm.cli.main)
    if not args.quiet:
        for note in notes:
            print(note)
    print(f"wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "import",
        help="build a cube from CF NetCDF/zarr files described by a YAML mapping (units converted, grids checked)",
    )
    p.add_argument("mapping", help="YAML mapping: cube variable -> files, source variable (docs/cli/import.md)")
    p.add_argument("--out", required=True, help="output cube (zarr directory, or .nc)")
    p.add_argument("--quiet", action="store_true", help="print only the output path, not what was done")
    p.set_defaults(func=run)
