"""The data-driven upscaling of the twin world (FLUXCOM-like), the ``data_driven`` product.

A small neural network trained on the truth's monthly GPP, TER and NEE at a sparse set of
"tower" cells (:func:`tower_cells`, with tower-like noise: :func:`tower_observations`), from
monthly features that exist everywhere (:func:`feature_matrix`: forcing, the fAPAR observation,
static features, per-cell climate), then applied to every cell (:mod:`.products` does so).
Randomness: ``numpy.random.default_rng([seed, 8])`` (towers and their noise), ``[seed, 9]``
(network initialisation). Known weaknesses and measured skill: docs/data.md ("Products").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

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
