"""``h2cm import-towers FILE... --out CUBE``: flux-tower files -> one cube, one cell per site."""

from __future__ import annotations

import argparse


def add_site_options(p: argparse.ArgumentParser) -> None:
    """The coordinate and import options every tower verb accepts (docs/cli/import-towers.md)."""
    p.add_argument("--sites", default=None, help="CSV with site,lat,lon[,elevation] (adds to the shipped table)")
    p.add_argument("--lat", type=float, default=None, help="site latitude (one file; else the site table)")
    p.add_argument("--lon", type=float, default=None, help="site longitude, degrees east (one file)")
    p.add_argument("--min-qc", type=float, default=0.5, help="drop daily fluxes whose QC fraction is below this")
    p.add_argument("--max-linear-days", type=int, default=5, help="forcing gaps up to this long are linear in time")
    p.add_argument("--max-filled", type=float, default=0.2, help="drop a year with more filled forcing than this")
    p.add_argument(
        "--flux-variant", choices=("VUT", "CUT"), default=None, help="flux variant (default: VUT if it has data)"
    )


def tower_options(args: argparse.Namespace):
    from ..data.towers import TowerOptions

    return TowerOptions(
        min_qc=args.min_qc, max_linear_days=args.max_linear_days, max_filled=args.max_filled, variant=args.flux_variant
    )


def run(args: argparse.Namespace) -> int:
    from ..data.tower_cube import import_towers

    path = import_towers(args.files, args.out, args.sites, args.lat, args.lon, tower_options(args))
    print(f"wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "import-towers",
        help="flux-tower files (FLUXNET2015/ONEFlux DD, HH, HR; FluxDataKit daily) -> one cube, one cell per site",
    )
    p.add_argument("files", nargs="+", help="tower CSV files, one per site")
    p.add_argument("--out", required=True, help="output cube (zarr directory, or .nc)")
    add_site_options(p)
    p.set_defaults(func=run)
    p = sub.add_parser("import-fluxnet", help="convert one flux-tower file to a one-cell cube (= import-towers FILE)")
    p.add_argument("file", help="a FLUXNET2015/ONEFlux DD, HH or HR file or a FluxDataKit daily file")
    p.add_argument("--out", required=True, help="output cube (zarr directory, or .nc)")
    p.add_argument("--lat", type=float, default=None, help="site latitude (needed unless the site is known)")
    p.add_argument("--lon", type=float, default=None, help="site longitude (degrees east)")
    p.add_argument("--min-qc", type=float, default=0.5, help="drop daily fluxes whose *_QC is below this")
    p.set_defaults(func=import_fluxnet)


def import_fluxnet(args: argparse.Namespace) -> int:
    """``h2cm import-fluxnet``: the one-file form of ``h2cm import-towers``."""
    from ..data.tower_cube import import_towers
    from ..data.towers import TowerOptions

    path = import_towers([args.file], args.out, lat=args.lat, lon=args.lon, opts=TowerOptions(min_qc=args.min_qc))
    print(f"wrote {path}")
    return 0
