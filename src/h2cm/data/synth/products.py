"""Other simulation products shipped with every twin world (``products/*`` groups of the store).

The paper compares H2CM with FLUXCOM-X-BASE (a data-driven upscaling of flux towers) and the
TRENDY ensemble (process models with fixed parameters) in its Fig. 6. The twin world ships one
product of each kind, so ``h2cm evaluate --compare`` can draw the same three-way comparison:

- ``process_ensemble`` (TRENDY-like, :mod:`.process_ensemble`): the world's own process equations
  (:func:`h2cm.physics.day_step`, as the truth runs them) with globally constant daily parameters
  drawn for :data:`N_MEMBERS` members from :data:`MEMBER_RANGES`; the product is the ensemble
  median of the members' monthly means. Made block by block (:meth:`WorldProducts.add_block`).
- ``data_driven`` (FLUXCOM-like, :mod:`.upscaling`): a small neural network trained on the truth's
  monthly GPP, TER and NEE at a sparse set of "tower" cells (with tower-like noise), from monthly
  features that exist everywhere (forcing, the fAPAR observation, static features, per-cell
  climate), then applied to every cell. Made once all blocks are known (:meth:`WorldProducts.finish`).

This module lays out both product groups (names, variables, attributes, empty templates) and
makes them alongside the world's blocks (:class:`WorldProducts`). Both are monthly CF datasets on
the world's grid, ``(time, lat, lon)`` with ``time`` the month starts, gC m-2 d-1, NaN outside the
land mask. Formulas, ranges, known weaknesses and measured skill: docs/data.md ("Products").
Randomness: ``numpy.random.default_rng([seed, 7])`` (members), ``[seed, 8]`` (towers and their
noise), ``[seed, 9]`` (network initialisation).
"""

from __future__ import annotations

from collections.abc import Mapping

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from ...schema import COORD_ATTRS, cf_attrs
from ..gridio import write_cells
from .observe import monthly_means
from .process_ensemble import (
    MEMBER_RANGES,
    N_MEMBERS,
    SPINUP_YEARS,
    draw_members,
    fapar_climatology,
    run_members,
)
from .upscaling import (
    FEATURES,
    HIDDEN,
    MIN_TOWERS,
    MONTHLY_FEATURES,
    TARGETS,
    TOWER_FRACTION,
    TOWER_NOISE,
    feature_matrix,
    fit_upscaler,
    static_inputs,
    tower_cells,
    tower_observations,
)

PRODUCTS_GROUP = "products"
PROCESS_ENSEMBLE = "process_ensemble"
DATA_DRIVEN = "data_driven"
PRODUCT_KEYS: dict[str, tuple[str, ...]] = {
    PROCESS_ENSEMBLE: ("gpp", "npp", "rh", "ter", "nee"),
    DATA_DRIVEN: ("gpp", "ter", "nee"),
}
PRODUCT_GROUPS: tuple[str, ...] = tuple(f"{PRODUCTS_GROUP}/{name}" for name in PRODUCT_KEYS)


# --- the world's product groups -----------------------------------------------------------------


def product_attrs(name: str, seed: int, size: str, **extra) -> dict[str, object]:
    """Global attributes of a product: what it is, what it mimics and how it was made."""
    common = {
        "Conventions": "CF-1.10",
        "h2cm_product": name,
        "h2cm_world_size": size,
        "h2cm_world_seed": seed,
        "comment": "monthly means; for comparison only (training never reads it); docs/data.md, 'Products'",
    }
    if name == PROCESS_ENSEMBLE:
        ranges = "; ".join(f"{k} {a:g}-{b:g}" for k, (a, b) in MEMBER_RANGES.items())
        return {
            **common,
            "title": "process-model ensemble of the twin world (TRENDY-like)",
            "like": "TRENDY v11 ensemble median (process models, S3: CO2 and climate)",
            "source": f"h2cm.physics.day_step with globally constant daily parameters, {N_MEMBERS} members, "
            "ensemble median of the members' monthly means",
            "h2cm_members": N_MEMBERS,
            "h2cm_parameter_ranges": f"uniform: {ranges}",
            "h2cm_fapar": "the truth's monthly fAPAR climatology of each cell x fapar_scale (at most 0.95)",
            "h2cm_rb": "per cell steady state: rb_balance x mean NPP / mean Q10 factor over the period",
            "h2cm_spinup": f"the first {SPINUP_YEARS} years once from empty storages",
            "h2cm_weaknesses": "no rain pulse of respiration, no moisture limitation of respiration, no light or VPD "
            "limitation of water-use efficiency, climatological phenology (no interannual fAPAR)",
            **extra,
        }
    return {
        **common,
        "title": "data-driven upscaling of the twin world (FLUXCOM-like)",
        "like": "FLUXCOM-X-BASE (machine-learning upscaling of eddy-covariance towers)",
        "source": "a neural network (features -> GPP, TER, NEE; two hidden layers of "
        f"{HIDDEN} tanh units) fitted to the truth's monthly fluxes at synthetic tower cells "
        f"({TOWER_FRACTION:.0%} of the cells, at least {MIN_TOWERS}) with tower-like noise, applied to every cell",
        "h2cm_features": ", ".join(FEATURES),
        "h2cm_tower_noise": f"NEE + N(0, {TOWER_NOISE['nee']:g}); GPP x (1 + N(0, {TOWER_NOISE['gpp']:g})); "
        "TER = NEE + GPP",
        "h2cm_weaknesses": "no memory beyond last month's rain (NEE, respiration after rain, legacy of dry "
        "years), NEE predicted separately from GPP and TER, few towers",
        **extra,
    }


def _lazy_grid(nm: int, ny: int, nx: int) -> da.Array:
    return da.full((nm, ny, nx), np.nan, dtype=np.float32, chunks=(nm, ny, nx))  # one dask chunk: see world._lazy


def product_template(name: str, months, lat_coord: xr.DataArray, lon_coord: xr.DataArray, attrs) -> xr.Dataset:
    """An empty (NaN, lazy) product on the world's grid, CF attributes from the schema."""
    ny, nx = len(lat_coord), len(lon_coord)
    data = {k: (("time", "lat", "lon"), _lazy_grid(len(months), ny, nx)) for k in PRODUCT_KEYS[name]}
    if name == DATA_DRIVEN:
        data["tower"] = (("lat", "lon"), np.zeros((ny, nx), dtype=np.int8))
    ds = xr.Dataset(data, coords={"time": pd.DatetimeIndex(months), "lat": lat_coord, "lon": lon_coord})
    for k in PRODUCT_KEYS[name]:
        ds[k].attrs = {**cf_attrs(k, "output"), "cell_methods": "time: mean"}
    if "tower" in ds:
        ds["tower"].attrs = {"units": "1", "long_name": "synthetic flux tower used for training (1 = tower)"}
    ds["time"].attrs = {**COORD_ATTRS["time"], "long_name": "time (first day of the month of each monthly mean)"}
    ds.attrs.update(attrs)
    return ds


class WorldProducts:
    """Makes both products of a twin world alongside its blocks.

    ``lat``: the grid's latitudes; ``mask`` its land mask; ``feats``: static features on the grid. Call
    :meth:`templates` (groups to create), :meth:`add_block` for every block in order, then
    :meth:`finish`.
    """

    def __init__(self, size: str, seed: int, time, months, lat, mask: np.ndarray, feats: Mapping[str, np.ndarray]):
        self.size, self.seed = size, seed
        self.time, self.months = pd.DatetimeIndex(time), pd.DatetimeIndex(months)
        self.mask = np.asarray(mask, dtype=bool)
        rows, cols = np.nonzero(self.mask)
        self.n_cells = len(rows)
        self.position = np.full(self.mask.shape, -1, dtype=np.int64)
        self.position[rows, cols] = np.arange(self.n_cells)
        self.members = draw_members(seed)
        st = static_inputs(feats)
        self.static = {k: np.asarray(v, dtype=np.float64)[rows, cols] for k, v in st.items()}
        lat = np.broadcast_to(np.asarray(lat, dtype=np.float64)[:, None], self.mask.shape)[rows, cols]
        self.towers = tower_cells(self.n_cells, seed, lat)
        self.is_tower = np.zeros(self.n_cells, dtype=bool)
        self.is_tower[self.towers] = True
        nm = len(self.months)
        self.monthly = {
            k: np.full((nm, self.n_cells), np.nan, dtype=np.float32) for k in MONTHLY_FEATURES if k != "prec_previous"
        }
        self.tower_truth = {k: np.full((nm, len(self.towers)), np.nan) for k in TARGETS}
        self.tower_rank = np.full(self.n_cells, -1, dtype=np.int64)
        self.tower_rank[self.towers] = np.arange(len(self.towers))

    def templates(self, lat_coord: xr.DataArray, lon_coord: xr.DataArray) -> dict[str, xr.Dataset]:
        """group path -> empty product dataset."""
        return {
            f"{PRODUCTS_GROUP}/{PROCESS_ENSEMBLE}": product_template(
                PROCESS_ENSEMBLE,
                self.months,
                lat_coord,
                lon_coord,
                product_attrs(PROCESS_ENSEMBLE, self.seed, self.size),
            ),
            f"{PRODUCTS_GROUP}/{DATA_DRIVEN}": product_template(
                DATA_DRIVEN,
                self.months,
                lat_coord,
                lon_coord,
                product_attrs(DATA_DRIVEN, self.seed, self.size, h2cm_towers=len(self.towers)),
            ),
        }

    def add_block(self, root, r0: int, r1: int, br: np.ndarray, bc: np.ndarray, weather, truth, obs, truth_static):
        """The process ensemble of the block of rows ``r0:r1`` (cells ``br, bc`` within it; written
        to ``root``), and what the upscaling needs from it (monthly features everywhere, the truth's
        monthly fluxes at tower cells). ``truth_static``: ``smmax`` and ``alpha_ei`` on the grid."""
        clim = fapar_climatology(truth["fapar"], self.time)
        smmax, alpha_ei = (np.asarray(truth_static[k], dtype=np.float64)[br + r0, bc] for k in ("smmax", "alpha_ei"))
        res = run_members(weather, smmax, alpha_ei, clim, self.time, self.members)
        group = root[f"{PRODUCTS_GROUP}/{PROCESS_ENSEMBLE}"]
        for k in PRODUCT_KEYS[PROCESS_ENSEMBLE]:
            write_cells(group[k], np.median(res[k], axis=1), br + r0, bc, (r0, r1))
        pos = self.position[br + r0, bc]
        for k in ("rn", "prec", "tair", "vpd"):
            self.monthly[k][:, pos] = monthly_means(weather[k], self.time, self.months)
        self.monthly["fapar"][:, pos] = obs["fapar"]
        here = self.is_tower[pos]
        if here.any():
            for k in TARGETS:
                mon = monthly_means(truth[k][:, here], self.time, self.months)
                self.tower_truth[k][:, self.tower_rank[pos[here]]] = mon

    def finish(self, root) -> None:
        """Fit the upscaling at the towers and write the data-driven product for every cell."""
        x = feature_matrix(self.monthly, self.static, self.months)  # (M, N, F)
        obs = tower_observations(self.tower_truth, np.random.default_rng([self.seed, 8, 1]))
        y = np.stack([obs[k] for k in TARGETS], axis=-1)  # (M, towers, 3)
        xt = x[:, self.towers].reshape(-1, x.shape[-1])
        yt = y.reshape(-1, len(TARGETS))
        ok = np.isfinite(yt).all(axis=1)
        model = fit_upscaler(xt[ok], yt[ok], self.seed)
        pred = model.predict(x)  # (M, N, 3)
        rows, cols = np.nonzero(self.mask)
        group = root[f"{PRODUCTS_GROUP}/{DATA_DRIVEN}"]
        for i, k in enumerate(TARGETS):
            v = np.clip(pred[..., i], 0.0, None) if k in ("gpp", "ter") else pred[..., i]
            write_cells(group[k], v, rows, cols, (0, self.mask.shape[0]))
        tower = np.zeros(self.mask.shape, dtype=np.int8)
        tower[rows[self.towers], cols[self.towers]] = 1
        group["tower"][:] = tower
