"""The run configuration checked against its cube before anything is trained or written.

Called when a run's split is first made (:func:`h2cm.training.folds.ensure_split`, so by ``h2cm
train``, ``h2cm cv`` and ``h2cm tune`` before they write anything): the cube's layout (variables,
dims, units), the period inside the cube's days, every configured constraint in the cube, and
enough cells for the test set and every fold. Each problem is one :class:`ConfigError` line naming
the key, what was found and what was expected (exit status 2 from the ``h2cm`` command).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import ConfigError, RunConfig


def _period(cfg: RunConfig, days: pd.DatetimeIndex, cube: str) -> None:
    if len(days) == 0:
        raise ConfigError(f"data.cube {cube} has no days; expected a daily time axis")
    first, last = days[0], days[-1]
    span = f"the cube {cube} holds {first.date()}..{last.date()}"
    for key, value in (("data.start", cfg.data.start), ("data.end", cfg.data.end)):
        if value is not None and not first <= pd.Timestamp(value) <= last:
            raise ConfigError(f"{key} {value} is outside the cube's days: {span}; expected a date inside it")


def _constraints(cfg: RunConfig, ds, cube: str) -> None:
    missing = [k for k in cfg.data.constraints if k not in ds.data_vars]
    if missing:
        have = [k for k in cfg.data.constraints if k in ds.data_vars]
        raise ConfigError(
            f"data.constraints lists {missing}, absent from the cube {cube} (it has {have}); expected constraints "
            f"the cube holds, e.g. data.constraints=[{','.join(have)}]"
        )


def _folds(cfg: RunConfig, lat: np.ndarray, lon: np.ndarray, cube: str) -> None:
    from .runsplit import make_split

    n = len(lat)
    if n == 0:
        raise ConfigError(f"data.cube {cube} has no cell (land_mask == 1 nowhere); expected at least one")
    split = make_split(cfg, lat, lon)
    for k in range(cfg.split.n_folds):
        train, val = split.fold(k)
        if len(train) == 0 or len(val) == 0:
            raise ConfigError(
                f"split: the cube's {n} cells give fold {k} {len(train)} training and {len(val)} validation cells "
                f"(split.n_folds={cfg.split.n_folds}, block_deg={cfg.split.block_deg:g}, test set {len(split.test)}); "
                "expected at least one of each: lower split.n_folds or split.block_deg, or use a larger cube"
            )


def validate_against_cube(cfg: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """ConfigError (or CubeError for a broken cube) unless ``cfg`` can be trained on its cube;
    returns the (lat, lon) of the cube's cells."""
    from ..data.check import require_structure
    from ..data.cube import land_cells, open_cube
    from .runsplit import require_cube

    cube = require_cube(cfg)
    ds = open_cube(cube)
    require_structure(ds, cube)
    _period(cfg, pd.DatetimeIndex(ds["time"].values), cube)
    _constraints(cfg, ds, cube)
    li, lj = land_cells(ds)
    lat, lon = np.asarray(ds["lat"].values)[li], np.asarray(ds["lon"].values)[lj]
    _folds(cfg, lat, lon, cube)
    return lat, lon
