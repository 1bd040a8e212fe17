"""Command-line options shared by several verbs, each declared once.

A verb's module adds the options it takes with these functions, so ``--run``, ``--cube``,
``--threads``, ``--cell``, ``KEY=VALUE`` overrides ... read the same (name, type, default, help)
in every verb.
"""

from __future__ import annotations

import argparse


def run_dir(p: argparse.ArgumentParser, positional: bool = False) -> None:
    help_ = "run directory (config.yaml, split.json, fold_K/best.pt)"
    if positional:
        p.add_argument("run", help=help_)
    else:
        p.add_argument("--run", required=True, help=help_)


def cube(p: argparse.ArgumentParser, help_: str = "cube (default: the run's cube)") -> None:
    p.add_argument("--cube", default=None, help=help_)


def period(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--period", default=None, help="A:B, e.g. 2003:2005 or 2003-01-01:2003-12-31 (default: the run's period)"
    )


def cell(p: argparse.ArgumentParser, help_: str) -> None:
    p.add_argument("--cell", default=None, help=help_)


def threads(p: argparse.ArgumentParser, default: int = 2) -> None:
    p.add_argument("--threads", type=int, default=default, help=f"torch CPU threads (default {default})")


def batch_cells(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-cells", type=int, default=256, help="cells simulated together (memory ~ this)")


def device(p: argparse.ArgumentParser) -> None:
    """``--device`` and ``--compile`` of the verbs that simulate a run's fold models."""
    p.add_argument("--device", default="cpu", help="where the models run: cpu, cuda or cuda:N")
    p.add_argument(
        "--compile",
        action="store_true",
        help="compiled daily loops (CUDA graphs on a GPU): for many cells; about a minute to compile on CPU",
    )


def quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def config(p: argparse.ArgumentParser, help_: str = "YAML file or preset (paper, demo)") -> None:
    p.add_argument("--config", required=True, help=help_)


def overrides(p: argparse.ArgumentParser, example: str = "train.epochs=5") -> None:
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=f"config overrides, e.g. {example}")


def seed(p: argparse.ArgumentParser, default: int = 0, help_: str = "random seed") -> None:
    p.add_argument("--seed", type=int, default=default, help=f"{help_} (default {default})")


def parse_cell(text: str | None) -> tuple[float, float] | None:
    """``"LAT,LON"`` -> (lat, lon); None or '' -> None."""
    if not text:
        return None
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--cell must be LAT,LON (e.g. -15.5,27.5), got {text!r}") from None
    return a, b
