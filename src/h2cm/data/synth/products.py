"""Other simulation products shipped with every twin world (``products/*`` groups of the store).

The paper compares H2CM with FLUXCOM-X-BASE (a data-driven upscaling of flux towers) and the
TRENDY ensemble (process models with fixed parameters) in its Fig. 6. The twin world ships one
product of each kind, so ``h2cm evaluate --compare`` can draw the same three-way comparison:

- ``process_ensemble`` (TRENDY-like): the world's own process equations
  (:func:`h2cm.physics.day_step`, as the truth runs them) with globally constant daily parameters
  drawn for :data:`N_MEMBERS` members from :data:`MEMBER_RANGES`; the product is the ensemble
  median of the members' monthly means. Made block by block (:meth:`WorldProducts.add_block`).
- ``data_driven`` (FLUXCOM-like): a small neural network trained on the truth's monthly GPP, TER
  and NEE at a sparse set of "tower" cells (with tower-like noise), from monthly features that
  exist everywhere (forcing, the fAPAR observation, static features, per-cell climate), then
  applied to every cell. Made once all blocks are known (:meth:`WorldProducts.finish`).

Both are monthly CF datasets on the world's grid, ``(time, lat, lon)`` with ``time`` the month
starts, gC m-2 d-1, NaN outside the land mask. Formulas, ranges, known weaknesses and measured
skill: docs/data.md ("Products"). Randomness: ``numpy.random.default_rng([seed, 7])`` (members),
``[seed, 8]`` (towers and their noise), ``[seed, 9]`` (network initialisation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import dask.array as da
import numpy as np
import pandas as pd
import torch
import xarray as xr

from ...physics import Constants, DailyParams, DayForcing, StaticParams, WaterState, day_step
from ...schema import COORD_ATTRS, cf_attrs
from .observe import monthly_means
from .truth import WUE_REFERENCE_CO2

PRODUCTS_GROUP = "products"
PROCESS_ENSEMBLE = "process_ensemble"
DATA_DRIVEN = "data_driven"
PRODUCT_KEYS: dict[str, tuple[str, ...]] = {
    PROCESS_ENSEMBLE: ("gpp", "npp", "rh", "ter", "nee"),
    DATA_DRIVEN: ("gpp", "ter", "nee"),
}
PRODUCT_GROUPS: tuple[str, ...] = tuple(f"{PRODUCTS_GROUP}/{name}" for name in PRODUCT_KEYS)

# --- process-model ensemble (TRENDY-like) ---------------------------------------------------------

N_MEMBERS = 5
SPINUP_YEARS = 5  # the first five years (or the whole period if shorter) once, from empty storages
FAPAR_CAP = 0.95
# uniform ranges of each member's constants (order = order of the draws)
MEMBER_RANGES: dict[str, tuple[float, float]] = {
    "alpha_smelt": (2.0, 4.0),  # mm degC-1 d-1
    "alpha_rsoil": (0.6, 0.9),
    "alpha_rgw": (0.3, 0.6),
    "alpha_t": (0.5, 0.9),
    "alpha_es": (0.1, 0.3),
    "wue": (2.0, 4.0),  # gC per kg H2O at 380 ppm: alpha_wue = wue / (380 beta_co2)
    "cue": (0.35, 0.55),
    "q10": (1.4, 2.2),
    "beta_co2": (0.0008, 0.0016),  # ppm-1
    "beta_baseflow": (0.002, 0.008),  # d-1
    "beta_snow": (0.8, 1.0),
    "fapar_scale": (0.85, 1.15),  # x the truth's monthly fAPAR climatology of the cell
    "smmax_scale": (0.7, 1.3),  # x the truth's soil capacity of the cell
    "rb_balance": (0.9, 1.1),  # Rb = rb_balance x mean NPP / mean Q10 factor (steady-state soil)
}


@dataclass(frozen=True)
class Member:
    """The constants of one ensemble member (names and ranges: :data:`MEMBER_RANGES`)."""

    alpha_smelt: float
    alpha_rsoil: float
    alpha_rgw: float
    alpha_t: float
    alpha_es: float
    wue: float
    cue: float
    q10: float
    beta_co2: float
    beta_baseflow: float
    beta_snow: float
    fapar_scale: float
    smmax_scale: float
    rb_balance: float

    @property
    def alpha_wue(self) -> float:
        """gC kgH2O-1 ppm-1 per beta_CO2: WUE at the reference CO2 is ``wue``."""
        return self.wue / (WUE_REFERENCE_CO2 * self.beta_co2)


def draw_members(seed: int, n: int = N_MEMBERS) -> list[Member]:
    """``n`` members, each constant drawn uniformly from :data:`MEMBER_RANGES` (``[seed, 7]``)."""
    rng = np.random.default_rng([seed, 7])
    names = [f.name for f in fields(Member)]
    return [Member(**{k: float(rng.uniform(*MEMBER_RANGES[k])) for k in names}) for _ in range(n)]


def fapar_climatology(fapar_daily: np.ndarray, time: pd.DatetimeIndex) -> np.ndarray:
    """Mean fAPAR of each calendar month over all years, (12, cells), from daily (days, cells)."""
    months = pd.date_range(time[0], time[-1], freq="MS")
    mon = monthly_means(fapar_daily, time, months).astype(np.float64)
    moy = months.month.to_numpy() - 1
    return np.stack([np.nanmean(mon[moy == m], axis=0) for m in range(12)])


def run_members(
    forcing: Mapping[str, np.ndarray],
    smmax: np.ndarray,
    alpha_ei: np.ndarray,
    fapar_clim: np.ndarray,
    time: pd.DatetimeIndex,
    members: list[Member],
    period: np.ndarray | None = None,
    spinup_days: int | None = None,
) -> dict[str, np.ndarray]:
    """Run every member with :func:`h2cm.physics.day_step` for all cells at once (float64).

    forcing: ``rn prec tair co2`` as (days, cells); ``smmax``, ``alpha_ei`` (cells,) the truth's
    static parameters; ``fapar_clim`` (12, cells). Each member's daily parameters are its
    constants (fAPAR: ``min(fapar_scale x fapar_clim[calendar month], 0.95)``, soil capacity
    ``smmax_scale x smmax``). The first ``spinup_days`` (default :data:`SPINUP_YEARS` years, at
    most the period) are run once from empty storages, then the whole period from that state.

    ``period`` (days,) gives each day's output row (default: calendar months in order); returns
    the mean over each row's days of ``gpp npp ra rh ter nee`` as (rows, members, cells) and
    ``rb`` (members, cells): Rh = Q10^((T - 15) / 10) Rb with each cell's steady-state Rb,
    ``rb_balance`` x the mean NPP over the mean temperature factor of the whole period (Rb does
    not feed back on water or GPP, so it is set after the run).
    """
    t = pd.DatetimeIndex(time)
    n_days = len(t)
    if period is None:
        key = t.year.to_numpy() * 12 + t.month.to_numpy()
        period = np.unique(key, return_inverse=True)[1]
    period = np.asarray(period, dtype=np.int64)
    n_rows = int(period.max()) + 1
    spinup = min(n_days, SPINUP_YEARS * 365) if spinup_days is None else min(int(spinup_days), n_days)
    f = {k: torch.as_tensor(np.asarray(forcing[k]), dtype=torch.float64) for k in ("rn", "prec", "tair", "co2")}
    n = f["tair"].shape[1]

    def col(name: str) -> torch.Tensor:  # (members, 1)
        return torch.tensor([[getattr(m, name)] for m in members], dtype=torch.float64)

    const = Constants(col("q10"), col("beta_co2"), col("beta_baseflow"), col("beta_snow"))
    smmax_t = torch.as_tensor(np.asarray(smmax), dtype=torch.float64)
    sp = StaticParams(col("smmax_scale") * smmax_t, torch.as_tensor(np.asarray(alpha_ei), dtype=torch.float64))
    clim = torch.as_tensor(np.asarray(fapar_clim), dtype=torch.float64)  # (12, n)
    fapar_by_month = torch.clamp(col("fapar_scale")[None] * clim[:, None, :], 0.0, FAPAR_CAP)  # (12, K, n)
    moy = torch.as_tensor(t.month.to_numpy() - 1)
    fixed = {k: col(k) for k in ("alpha_smelt", "alpha_rsoil", "alpha_rgw", "alpha_t", "alpha_es", "cue")}
    fixed["alpha_wue"] = torch.tensor([[m.alpha_wue] for m in members], dtype=torch.float64)
    ones = torch.ones((len(members), 1), dtype=torch.float64)  # Rb = 1: the day's Rh is its Q10 factor
    zeros = torch.zeros((len(members), n), dtype=torch.float64)
    state = WaterState(zeros, zeros.clone(), zeros.clone())
    sums = {k: torch.zeros((n_rows, len(members), n), dtype=torch.float64) for k in ("gpp", "npp", "factor")}
    counts = torch.as_tensor(np.bincount(period, minlength=n_rows), dtype=torch.float64)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-day ops are small
    try:
        with torch.no_grad():
            for record, days in ((False, range(spinup)), (True, range(n_days))):
                for d in days:
                    day = DayForcing(f["rn"][d], f["prec"][d], f["tair"][d], f["co2"][d])
                    params = DailyParams(rb=ones, fapar=fapar_by_month[moy[d]], **fixed)
                    state, fl = day_step(state, day, params, sp, const)
                    if record:
                        p = int(period[d])
                        sums["gpp"][p] += fl["gpp"]
                        sums["npp"][p] += fl["npp"]
                        sums["factor"][p] += fl["rh"]
    finally:
        torch.set_num_threads(threads)
    total_npp, total_factor = sums["npp"].sum(0), sums["factor"].sum(0)
    rb = col("rb_balance") * total_npp / torch.clamp(total_factor, min=1e-12)
    mean = {k: (v / counts[:, None, None]) for k, v in sums.items()}
    out = {"gpp": mean["gpp"], "npp": mean["npp"], "ra": mean["gpp"] - mean["npp"], "rh": rb[None] * mean["factor"]}
    out["ter"] = out["ra"] + out["rh"]
    out["nee"] = out["ter"] - out["gpp"]
    res = {k: v.numpy() for k, v in out.items()}
    res["rb"] = rb.numpy()
    return res


# --- data-driven upscaling (FLUXCOM-like) ---------------------------------------------------------

TOWER_FRACTION = 0.05
MIN_TOWERS = 8
TEMPERATE_BAND = (30.0, 55.0)  # degrees north: FLUXNET's dense networks (United States, Europe)
TEMPERATE_WEIGHT = 5.0  # a cell in that band is this many times as likely to hold a tower
# NEE: additive sd and per-tower systematic offset sd (gC m-2 d-1); GPP: multiplicative sd
TOWER_NOISE = {"nee": 0.25, "nee_site": 0.15, "gpp": 0.10}
MONTHLY_FEATURES: tuple[str, ...] = ("rn", "prec", "prec_previous", "tair", "vpd", "fapar")
CLIMATE_FEATURES: tuple[str, ...] = ("rn_mean", "prec_mean", "tair_mean", "fapar_mean", "fapar_amplitude")
STATIC_FEATURES: tuple[str, ...] = ("tree_cover", "herbaceous", "barren", "water_holding_capacity", "sand")
FEATURES: tuple[str, ...] = (*MONTHLY_FEATURES, *CLIMATE_FEATURES, *STATIC_FEATURES)
TARGETS: tuple[str, ...] = ("gpp", "ter", "nee")
HIDDEN = 32
STEPS = 800
LEARNING_RATE = 0.01
MAX_SAMPLES = 60_000  # tower months used for fitting (a random subset beyond this)


def tower_cells(n_cells: int, seed: int, lat: np.ndarray) -> np.ndarray:
    """Sorted indices of the tower cells: 5 % of the cells, at least 8 (all if fewer), drawn
    without replacement, a cell between 30 and 55 N five times as likely as any other (like
    FLUXNET, dense in the United States and Europe, sparse in the tropics, Africa and Siberia)."""
    n = min(n_cells, max(MIN_TOWERS, int(round(TOWER_FRACTION * n_cells))))
    lat = np.asarray(lat, dtype=np.float64)
    w = np.where((lat >= TEMPERATE_BAND[0]) & (lat <= TEMPERATE_BAND[1]), TEMPERATE_WEIGHT, 1.0)
    return np.sort(np.random.default_rng([seed, 8]).choice(n_cells, size=n, replace=False, p=w / w.sum()))


def tower_observations(truth_monthly: Mapping[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Eddy-covariance-like monthly GPP, TER, NEE (months, towers) from the truth: NEE plus a
    per-tower systematic offset N(0, 0.15) and N(0, 0.25) per month; GPP x (1 + N(0, 0.1)),
    >= 0 (partitioning); TER = NEE + GPP."""
    shape = truth_monthly["nee"].shape
    site = TOWER_NOISE["nee_site"] * rng.standard_normal(shape[1:])
    nee = truth_monthly["nee"] + site + TOWER_NOISE["nee"] * rng.standard_normal(shape)
    gpp = np.clip(truth_monthly["gpp"] * (1 + TOWER_NOISE["gpp"] * rng.standard_normal(nee.shape)), 0.0, None)
    return {"gpp": gpp, "ter": nee + gpp, "nee": nee}


def static_inputs(feats: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The static features of :data:`STATIC_FEATURES` from the world's static features."""
    herb = sum(feats[k] for k in ("lc_gra", "lc_cro", "lc_sav", "lc_wsa", "lc_cvm", "lc_wet"))
    return {
        "tree_cover": feats["tree_cover"],
        "herbaceous": herb,
        "barren": feats["lc_bar"] + 0.5 * feats["lc_osh"],
        "water_holding_capacity": feats["water_holding_capacity"],
        "sand": feats["sand"],
    }


def feature_matrix(monthly: Mapping[str, np.ndarray], static: Mapping[str, np.ndarray], months) -> np.ndarray:
    """(months, cells, features) in the order of :data:`FEATURES`: the monthly forcing means and
    fAPAR observation, last month's precipitation, each cell's climate (period means of Rn, P, T;
    mean and amplitude of its fAPAR seasonal cycle) and the static features."""
    moy = pd.DatetimeIndex(months).month.to_numpy() - 1
    fapar = monthly["fapar"].astype(np.float64)
    msc = np.stack([np.nanmean(fapar[moy == m], axis=0) for m in range(12) if (moy == m).any()])
    prev = np.concatenate([monthly["prec"][:1], monthly["prec"][:-1]])
    cols = {k: monthly[k] for k in ("rn", "prec", "tair", "vpd", "fapar")}
    cols["prec_previous"] = prev
    nm = len(moy)
    for k in ("rn", "prec", "tair"):
        cols[f"{k}_mean"] = np.broadcast_to(np.nanmean(monthly[k], axis=0), (nm, fapar.shape[1]))
    cols["fapar_mean"] = np.broadcast_to(msc.mean(0), fapar.shape)
    cols["fapar_amplitude"] = np.broadcast_to(msc.max(0) - msc.min(0), fapar.shape)
    for k in STATIC_FEATURES:
        cols[k] = np.broadcast_to(static[k], fapar.shape)
    return np.stack([np.nan_to_num(np.asarray(cols[k], dtype=np.float32)) for k in FEATURES], axis=-1)


@dataclass
class Upscaler:
    """A fitted network: standardisation and weights (two hidden tanh layers)."""

    x_mean: np.ndarray
    x_sd: np.ndarray
    y_mean: np.ndarray
    y_sd: np.ndarray
    weights: list[torch.Tensor]

    def predict(self, x: np.ndarray, batch: int = 200_000) -> np.ndarray:
        """(..., features) -> (..., targets)."""
        flat = x.reshape(-1, x.shape[-1])
        out = np.empty((len(flat), len(self.y_mean)), dtype=np.float32)
        with torch.no_grad():
            for a in range(0, len(flat), batch):
                z = torch.as_tensor((flat[a : a + batch] - self.x_mean) / self.x_sd, dtype=torch.float32)
                out[a : a + batch] = (_forward(self.weights, z).numpy() * self.y_sd + self.y_mean).astype(np.float32)
        return out.reshape(*x.shape[:-1], len(self.y_mean))


def _forward(w: list[torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    h = torch.tanh(z @ w[0] + w[1])
    h = torch.tanh(h @ w[2] + w[3])
    return h @ w[4] + w[5]


def fit_upscaler(x: np.ndarray, y: np.ndarray, seed: int) -> Upscaler:
    """Fit the network to samples ``x`` (samples, features) -> ``y`` (samples, targets): full
    batch Adam (learning rate 0.01, cosine decay over :data:`STEPS` steps), mean squared error of
    standardised targets; weights drawn from ``[seed, 9]``; single-threaded (deterministic)."""
    rng = np.random.default_rng([seed, 9])
    if len(x) > MAX_SAMPLES:
        keep = np.sort(rng.choice(len(x), size=MAX_SAMPLES, replace=False))
        x, y = x[keep], y[keep]
    x_mean, x_sd = x.mean(0), np.maximum(x.std(0), 1e-6)
    y_mean, y_sd = y.mean(0), np.maximum(y.std(0), 1e-6)
    sizes = (x.shape[1], HIDDEN, HIDDEN, y.shape[1])
    w: list[torch.Tensor] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w.append(torch.tensor(rng.normal(0.0, 1.0 / np.sqrt(a), (a, b)), dtype=torch.float32, requires_grad=True))
        w.append(torch.zeros(b, dtype=torch.float32, requires_grad=True))
    xt = torch.as_tensor((x - x_mean) / x_sd, dtype=torch.float32)
    yt = torch.as_tensor((y - y_mean) / y_sd, dtype=torch.float32)
    opt = torch.optim.Adam(w, lr=LEARNING_RATE)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS, eta_min=LEARNING_RATE / 20)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(STEPS):
            opt.zero_grad()
            loss = ((_forward(w, xt) - yt) ** 2).mean()
            loss.backward()
            opt.step()
            sched.step()
    finally:
        torch.set_num_threads(threads)
    return Upscaler(x_mean, x_sd, y_mean, y_sd, [v.detach() for v in w])


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
    return da.full((nm, ny, nx), np.nan, dtype=np.float32, chunks=(nm, 5, 5))


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
        shape = (r1 - r0, self.mask.shape[1])
        for k in PRODUCT_KEYS[PROCESS_ENSEMBLE]:
            group[k][:, r0:r1, :] = _scatter(np.median(res[k], axis=1), br, bc, shape)
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
            group[k][:] = _scatter(v, rows, cols, self.mask.shape)
        tower = np.zeros(self.mask.shape, dtype=np.int8)
        tower[rows[self.towers], cols[self.towers]] = 1
        group["tower"][:] = tower


def _scatter(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    dense = np.full((values.shape[0], *shape), np.nan, dtype=np.float32)
    dense[:, rows, cols] = values
    return dense
