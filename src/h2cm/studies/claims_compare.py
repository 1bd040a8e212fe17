"""Other simulation products beside the models in the claims study (the paper's Fig. 6 compares
H2CM with FLUXCOM-X-BASE and TRENDY): monthly NEE, GPP and TER of each product at the study's
cells over its window.

A twin world ships two such products (``products/data_driven``, FLUXCOM-like, and
``products/process_ensemble``, TRENDY-like; docs/data.md, "Products"): :func:`study_products`
lists them with any ``--compare`` ones, so the study can draw them by default."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .claims_sim import Sims


def shipped_products(cube: str | Path) -> dict[str, str]:
    """The twin world's own comparison products: name -> ``CUBE#products/NAME`` (empty for a
    cube without them)."""
    from ..evaluation.compare import world_products

    return world_products(cube)


def study_products(cube: str | Path, compare: Mapping[str, str] | None = None) -> dict[str, str]:
    """The products the claims study draws: the world's shipped ones, then the ``--compare``
    ones (a ``--compare`` name replaces a shipped product of the same name)."""
    return {**shipped_products(cube), **dict(compare or {})}


def compare_series(products: Mapping[str, str], cube: str | Path, like: Sims) -> dict[str, dict[str, np.ndarray]]:
    """name -> variable -> (window months, cells) for every product (any CF product with h2cm
    output names on the cube's grid, daily or monthly; ``PATH#GROUP`` for a group)."""
    from ..evaluation.compare import product_monthly

    out = {}
    for name, path in products.items():
        out[name] = product_monthly(path, cube, like.cells, like.window_months, ("nee", "gpp", "ter"))
    return out
