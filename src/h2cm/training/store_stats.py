"""Normalisation statistics from the data store, as the authors' code takes them
(``normalization: store``; docs/training.md, docs/reference.md).

The authors' model z-scores its inputs and targets with the ``mean``/``std`` attributes of the
zarr store's groups: one scalar per forcing variable and per constraint, one list of 30 values
for the static features (in the store's feature order), the same for every fold. ``h2cm
import-h2cm`` keeps them on the cube's variables as ``h2cm_mean``/``h2cm_std``; this module reads
them back. A missing attribute or a wrong length is an error naming the variable.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import xarray as xr

from ..schema import FORCING_KEYS

MEAN_ATTR, STD_ATTR = "h2cm_mean", "h2cm_std"
T_FREEZE = 273.15
_CELSIUS_MEAN = 150.0  # a mean air temperature below this is in degC, not K


class StoreStatisticsError(ValueError):
    """The cube lacks the store statistics ``normalization: store`` needs (names the variable)."""


def _open(cube: str | os.PathLike | xr.Dataset) -> xr.Dataset:
    if isinstance(cube, xr.Dataset):
        return cube
    from ..data.cube import open_cube

    return open_cube(cube)


def _attr(ds: xr.Dataset, var: str, name: str) -> np.ndarray:
    if var not in ds:
        raise StoreStatisticsError(f"the cube has no variable {var!r}, whose attribute {name!r} is needed")
    if name not in ds[var].attrs:
        raise StoreStatisticsError(
            f"variable {var!r} of the cube has no attribute {name!r} (the store's statistics, kept by "
            "h2cm import-h2cm); use normalization=fold for a cube without them"
        )
    value = np.asarray(ds[var].attrs[name], dtype=np.float64).reshape(-1)
    if not np.isfinite(value).all():
        raise StoreStatisticsError(f"variable {var!r}: attribute {name!r} holds non-finite values")
    return value


def _scalar(ds: xr.Dataset, var: str, name: str) -> float:
    value = _attr(ds, var, name)
    if value.size != 1:
        raise StoreStatisticsError(f"variable {var!r}: attribute {name!r} has {value.size} values, expected 1")
    return float(value[0])


def forcing_statistics(ds: xr.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of the five forcing variables in the order of ``FORCING_KEYS``.

    The cube holds air temperature in K; a store that held degC (the importer converts the values,
    not the attributes) has a mean below 150, which is then moved to K."""
    mean = [_scalar(ds, k, MEAN_ATTR) for k in FORCING_KEYS]
    std = [_scalar(ds, k, STD_ATTR) for k in FORCING_KEYS]
    t = FORCING_KEYS.index("tair")
    if mean[t] < _CELSIUS_MEAN:
        mean[t] += T_FREEZE
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


def static_statistics(ds: xr.Dataset, n_features: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of the static features, one value per entry of the cube's ``feature`` axis."""
    n = int(ds.sizes.get("feature", 0)) if n_features is None else int(n_features)
    mean, std = _attr(ds, "static", MEAN_ATTR), _attr(ds, "static", STD_ATTR)
    for name, value in ((MEAN_ATTR, mean), (STD_ATTR, std)):
        if value.size != n:
            raise StoreStatisticsError(
                f"variable 'static': attribute {name!r} has {value.size} values for {n} static features"
            )
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


def input_statistics(cube, n_features: int | None = None):
    """(forcing_mean, forcing_std, static_mean, static_std) for ``H2CM.set_normalization``,
    float32 tensors as the authors' model holds them."""
    ds = _open(cube)
    fm, fs = forcing_statistics(ds)
    sm, ss = static_statistics(ds, n_features)
    return fm, fs, sm, ss


def loss_statistics(cube, keys):
    """:class:`~h2cm.training.loss.LossStats` of the constraints ``keys`` from the store's
    attributes. TWS is compared as anomalies, so its mean is 0 (as in the authors' loss)."""
    from .loss import LossStats

    ds = _open(cube)
    mean, std = {}, {}
    for key in keys:
        mean[key] = 0.0 if key == "tws" else _scalar(ds, key, MEAN_ATTR)
        s = _scalar(ds, key, STD_ATTR)
        std[key] = s if s > 0 and math.isfinite(s) else 1.0
    return LossStats(mean, std)
