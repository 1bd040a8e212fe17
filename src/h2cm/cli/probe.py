"""``h2cm probe RUN``: the controlled experiments of :func:`h2cm.evaluation.probe.probe` (tables
and summary), then their figures (:mod:`h2cm.report.probe_figures`) drawn beside them in the same
folder, where ``h2cm report`` finds them (docs/cli/probe.md)."""

from __future__ import annotations

import io

from .. import atomic
from . import options


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    from ..report.style import DPI

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def draw_figures(res) -> None:
    """``pulse.png`` and ``curves.png`` of a :class:`~h2cm.evaluation.probe.ProbeResult` in its
    folder (each written atomically), drawn from the tables as computed."""
    from ..report.probe_figures import curves_figure, pulse_figure

    atomic.write_bytes(res.out / "pulse.png", _png(pulse_figure(res.pulse, res.summary)))
    atomic.write_bytes(res.out / "curves.png", _png(curves_figure(res.curves, res.summary)))


def probe_with_figures(run, progress: bool = True, **kwargs):
    """:func:`h2cm.evaluation.probe.probe` (same arguments), then its figures; with ``progress``
    the summary lines and the folder are printed at the end."""
    from ..evaluation.probe import probe, summary_lines

    res = probe(run, progress=progress, **kwargs)
    draw_figures(res)
    if progress:
        for line in summary_lines(res.summary):
            print(line)
        print(f"probe written to {res.out}")
    return res


def run(args) -> int:
    probe_with_figures(
        args.run,
        cube=args.cube,
        cells=[options.parse_cell(c) for c in args.cell] if args.cell else None,
        dry_days=args.dry_days,
        rain_mm=args.rain_mm,
        out=args.out,
        threads=args.threads,
        progress=not args.quiet,
    )
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "probe",
        help="controlled experiments on a trained run: rain pulse and parameter response curves (with the truth)",
    )
    options.run_dir(p, positional=True)
    options.cube(p)
    p.add_argument(
        "--cell",
        action="append",
        default=None,
        help="LAT,LON of a cell to probe (repeat for more; default: the test cells with the longest dry spells)",
    )
    p.add_argument("--dry-days", type=int, default=60, help="days without rain before the rain day (default 60)")
    p.add_argument("--rain-mm", type=float, default=20.0, help="precipitation of the rain day, mm (default 20)")
    p.add_argument("--out", default=None, help="output folder (default: RUN/probe; replaced as a whole)")
    options.threads(p)
    options.quiet(p)
    p.set_defaults(func=run)
