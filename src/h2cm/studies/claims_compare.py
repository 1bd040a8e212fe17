"""Other simulation products beside the models in the claims study (the paper's Fig. 6 compares
H2CM with FLUXCOM-X-BASE and TRENDY): monthly NEE, GPP and TER of each product at the study's
cells over its window."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .claims_sim import Sims


def compare_series(products: Mapping[str, str], cube: str | Path, like: Sims) -> dict[str, dict[str, np.ndarray]]:
    """name -> variable -> (window months, cells) for every product (``h2cm predict`` layout)."""
    from ..evaluation.compare import product_monthly

    out = {}
    for name, path in products.items():
        out[name] = product_monthly(path, cube, like.cells, like.window_months, ("nee", "gpp", "ter"))
    return out
