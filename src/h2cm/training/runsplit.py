"""The run's split made from its configuration, and the configured cube it is made on.

The lowest piece of the fold machinery: :mod:`h2cm.training.folds` (which saves and loads
``RUN/split.json``) and :mod:`h2cm.training.validate` (which checks that every fold of the split
has cells before anything is written) both use it, and it imports neither.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import ConfigError, RunConfig


def _splits():
    from ..data import splits

    return splits


def require_cube(cfg: RunConfig) -> str:
    """The configured cube path; :class:`ConfigError` if unset or missing."""
    if not cfg.data.cube:
        raise ConfigError("data.cube is not set: add data.cube=PATH to the command or the config file")
    if not Path(cfg.data.cube).exists():
        raise ConfigError(f"data.cube {cfg.data.cube} does not exist")
    return cfg.data.cube


def make_split(cfg: RunConfig, lat: np.ndarray, lon: np.ndarray):
    """A new split of cells at (lat, lon) from the ``split`` section of the configuration.

    ``split.method: reference`` (the authors' split) is made on the grid of ``data.cube``, whose
    land cells must be the cells at (lat, lon)."""
    sc = cfg.split
    if sc.method == "reference":
        return _reference_split(cfg, len(np.asarray(lat)))
    try:
        return _splits().spatial_split(
            np.asarray(lat),
            np.asarray(lon),
            seed=sc.seed,
            n_folds=sc.n_folds,
            block_deg=sc.block_deg,
            test_fraction=sc.test_fraction,
        )
    except ValueError as err:
        raise ConfigError(f"split: {err}") from err


def _reference_split(cfg: RunConfig, n_cells: int):
    from ..data.cube import open_cube
    from ..data.reference_split import cube_reference_split

    try:
        split = cube_reference_split(open_cube(require_cube(cfg)), cfg.split.n_folds)
    except ValueError as err:
        raise ConfigError(f"split: {err}") from err
    if split.n_cells != n_cells:
        raise ConfigError(
            f"split.method reference splits the {split.n_cells} land cells of data.cube; the run has {n_cells} "
            "cells (use split.method=h2cm for a subset of a cube's cells)"
        )
    return split
