"""The multi-constraint loss of docs/training.md, one function per term.

Every monthly term compares model monthly means ``(M, N)`` with a constraint ``(M, N)`` (NaN =
missing): values are z-scored with the constraint's own mean and standard deviation over the
training cells (:class:`LossStats`), a squared error is averaged over each cell's valid entries,
then over the cells that have any. Missing values never reach the arithmetic (they are replaced
before subtracting, so they give neither NaN losses nor NaN gradients). A term without any valid
data in a batch is 0. :func:`total_loss` returns every term by name plus ``total``, their plain
sum; a constraint absent from the data or the configuration has no term at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..aggregate import monthly_mean
from ..constraints import CONSTRAINT_KEYS, CONSTRAINTS, Constraint, cue_of_means
from ..data.cells import CellData
from ..physics import Constants

PRIOR_TERMS = ("prior_q10", "prior_beta_co2")


@dataclass(frozen=True)
class LossStats:
    """Global mean and standard deviation of each constraint over the training cells."""

    mean: dict[str, float]
    std: dict[str, float]

    @classmethod
    def from_cells(cls, data: CellData, keys: Iterable[str] | None = None) -> LossStats:
        """Statistics of every constraint in ``data`` (or of ``keys``) with at least one value.

        A constraint with a zero or undefined standard deviation gets std 1."""
        mean, std = {}, {}
        for key in keys if keys is not None else data.constraints:
            if key not in data.constraints:
                continue
            v = data.constraints[key].double()
            v = v[torch.isfinite(v)]
            if v.numel() == 0:
                continue
            mean[key] = float(v.mean())
            s = float(v.std()) if v.numel() > 1 else 0.0
            std[key] = s if s > 0 and math.isfinite(s) else 1.0
        return cls(mean, std)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {"mean": dict(self.mean), "std": dict(self.std)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Mapping[str, float]]) -> LossStats:
        return cls(dict(d["mean"]), dict(d["std"]))


# --- building blocks ------------------------------------------------------------------------------


def _masked(x: Tensor, valid: Tensor) -> Tensor:
    """``x`` with zeros where not valid (so NaNs there reach neither the loss nor the gradient)."""
    return torch.where(valid, x, torch.zeros_like(x))


def _mean_where(x: Tensor, keep: Tensor) -> Tensor:
    """Mean of ``x`` over the entries where ``keep`` (0 if none). Masked rather than indexed:
    a boolean index has a data-dependent shape, which makes the loss wait for the device on a
    GPU and cannot run on the ``meta`` device the tests use as a stand-in for one."""
    return _masked(x, keep).sum() / keep.sum().clamp(min=1).to(x.dtype)


def per_cell_mse(model: Tensor, obs: Tensor, valid: Tensor) -> Tensor:
    """Squared error over each cell's valid entries (dim 0), averaged over cells with any
    (0 if none has)."""
    n = valid.sum(0)
    se = _masked(model - _masked(obs, valid), valid).square().sum(0)
    return _mean_where(se / n.clamp(min=1), n > 0)


def zscore(x: Tensor, mean: float, std: float) -> Tensor:
    return (x - mean) / std


def _present(obs: Tensor) -> Tensor:
    """Entries where the data is present. Model values there are used as they are: a NaN model
    value makes the loss NaN (and the batch is skipped) rather than being silently ignored."""
    return torch.isfinite(obs)


def _cell_mean(x: Tensor, valid: Tensor) -> Tensor:
    """Mean over dim 0 of the valid entries of each cell (0 where none)."""
    n = valid.sum(0).clamp(min=1)
    return _masked(x, valid).sum(0) / n


def seasonal_cycle(x: Tensor, valid: Tensor, month_of_year: Tensor) -> tuple[Tensor, Tensor]:
    """Mean seasonal cycle ``(12, N)`` of monthly values ``(M, N)`` over their valid entries, and
    which calendar months have any. ``month_of_year``: ``(M,)`` in 0..11."""
    # (M, 12); not F.one_hot, which reads the indices back to the host to check their range
    onehot = (month_of_year.long().unsqueeze(1) == torch.arange(12, device=month_of_year.device)).to(x.dtype)
    vf = valid.to(x.dtype)
    sums = onehot.t() @ _masked(x, valid)
    counts = onehot.t() @ vf
    has = counts > 0
    return sums / counts.clamp(min=1), has


# --- the terms ------------------------------------------------------------------------------------


def tws_loss(model: Tensor, obs: Tensor, mean: float, std: float) -> Tensor:
    """TWS: each cell's mean over its valid months removed from model and data (anomalies), then
    the z-scored squared error per cell, averaged over cells."""
    valid = _present(obs)
    zm, zo = zscore(model, mean, std), zscore(_masked(obs, valid), mean, std)
    am = zm - _cell_mean(zm, valid)
    ao = zo - _cell_mean(zo, valid)
    return per_cell_mse(am, ao, valid)


def msc_loss(model: Tensor, obs: Tensor, month_of_year: Tensor, mean: float, std: float) -> Tensor:
    """ET, runoff, GPP: 12-month mean seasonal cycle of model and data (same valid months)."""
    valid = _present(obs)
    cm, has = seasonal_cycle(zscore(model, mean, std), valid, month_of_year)
    co, _ = seasonal_cycle(zscore(_masked(obs, valid), mean, std), valid, month_of_year)
    return per_cell_mse(cm, co, has)


def monthly_loss(model: Tensor, obs: Tensor, mean: float, std: float) -> Tensor:
    """SWE, fAPAR, NEE: z-scored monthly values."""
    valid = _present(obs)
    return per_cell_mse(zscore(model, mean, std), zscore(_masked(obs, valid), mean, std), valid)


def nee_anomaly_loss(
    model: Tensor, obs: Tensor, month_of_year: Tensor, area: Tensor, mean: float, std: float
) -> Tensor:
    """CarboScope NEE anomalies: model monthly NEE minus its own mean seasonal cycle (over the
    months with data), area-weighted mean over the cells of the batch; the same mean of the data;
    one z-scored MSE over the months where any cell has data."""
    valid = _present(obs)
    msc, _ = seasonal_cycle(model, valid, month_of_year)
    anom = model - msc[month_of_year.long()]
    w = area.to(model.dtype).unsqueeze(0) * valid.to(model.dtype)  # (M, N)
    wsum = w.sum(1)
    denom = wsum.clamp(min=1e-30)  # months without data: 0 / tiny, left out by _mean_where
    m_mean = (w * _masked(anom, valid)).sum(1) / denom
    o_mean = (w * _masked(obs, valid)).sum(1) / denom
    return _mean_where((zscore(m_mean, mean, std) - zscore(o_mean, mean, std)).square(), wsum > 0)


def model_cue(npp: Tensor, gpp: Tensor) -> Tensor:
    """Per-cell ``mean NPP / mean GPP`` of daily ``(T, N)`` series (:func:`h2cm.constraints.cue_of_means`)."""
    return cue_of_means(npp.mean(0), gpp.mean(0))


def cue_loss(npp: Tensor, gpp: Tensor, obs: Tensor, mean: float, std: float) -> Tensor:
    """Mean annual CUE per cell (:func:`model_cue`) against the static constraint ``(N,)``."""
    valid = _present(obs)
    cue = model_cue(npp, gpp)
    return _mean_where((zscore(cue, mean, std) - zscore(_masked(obs, valid), mean, std)).square(), valid)


def prior_loss(value: Tensor, mean: float, sd: float) -> Tensor:
    """Gaussian prior on a global constant: ``(value - mean)^2 / sd^2``."""
    return ((value - mean) / sd).square().reshape(())


# --- all terms ------------------------------------------------------------------------------------


def constraint_term(
    c: Constraint, model: Tensor, obs: Tensor, month_of_year: Tensor, area: Tensor, mean: float, std: float
) -> Tensor:
    """The loss term of a monthly constraint ``c``, by its form (:mod:`h2cm.constraints`)."""
    if c.loss == "cell_anomaly":
        return tws_loss(model, obs, mean, std)
    if c.loss == "msc":
        return msc_loss(model, obs, month_of_year, mean, std)
    if c.loss == "monthly":
        return monthly_loss(model, obs, mean, std)
    if c.loss == "regional_anomaly":
        return nee_anomaly_loss(model, obs, month_of_year, area, mean, std)
    raise ValueError(f"constraint {c.key!r}: loss form {c.loss!r} is not a monthly form")


def month_of_year(data: CellData) -> Tensor:
    return torch.as_tensor(data.months.month.to_numpy() - 1, dtype=torch.long)


def covered_months(data: CellData) -> Tensor:
    """``(M,)`` True for months that have at least one simulated day."""
    dm = data.day_month
    counts = torch.zeros(len(data.months), dtype=torch.long).index_add(
        0, dm[dm >= 0].long(), torch.ones(int((dm >= 0).sum()), dtype=torch.long)
    )
    return counts > 0


def active_terms(constraints: Sequence[str], stats: LossStats, priors: bool = False) -> tuple[str, ...]:
    """Loss terms a run optimises: configured constraints that have training data, then priors."""
    terms = tuple(k for k in CONSTRAINT_KEYS if k in constraints and k in stats.std)
    return terms + (PRIOR_TERMS if priors else ())


def total_loss(
    outputs: Mapping[str, Tensor],
    data: CellData,
    stats: LossStats,
    terms: Sequence[str],
    constants: Constants | None = None,
    priors: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, Tensor]:
    """Every term in ``terms`` (name -> scalar) and ``total`` (their plain sum).

    outputs: daily model outputs ``(T, N)`` (at least those of ``schema.LOSS_OUTPUT_KEYS`` that the
    terms need); data: the same cells' constraints; priors: name -> (mean, sd) for ``q10`` and
    ``beta_co2`` (needs ``constants``). A term whose constraint is missing from ``data`` is
    skipped (not reported)."""
    n_months = len(data.months)
    covered = covered_months(data).to(data.day_month.device)
    moy = month_of_year(data).to(data.day_month.device)
    monthly: dict[str, Tensor] = {}
    dev = next(iter(outputs.values())).device

    def model_monthly(key: str) -> Tensor:
        if key not in monthly:
            monthly[key] = monthly_mean(outputs[key], data.day_month.to(dev), n_months)
        return monthly[key]

    def obs_of(key: str) -> Tensor:
        o = data.constraints[key].to(dev)
        if o.dim() == 2:
            o = torch.where(covered.to(dev).unsqueeze(1), o, torch.full_like(o, float("nan")))
        return o

    res: dict[str, Tensor] = {}
    for term in terms:
        if term in PRIOR_TERMS:
            name = term.removeprefix("prior_")
            if constants is None or priors is None or name not in priors:
                continue
            res[term] = prior_loss(getattr(constants, name), *priors[name])
            continue
        if term not in data.constraints or term not in stats.std:
            continue
        c = CONSTRAINTS.get(term)
        if c is None:
            raise ValueError(f"unknown loss term {term!r}")
        if any(k not in outputs for k in c.reads):
            continue  # the model does not produce what this term needs (e.g. a pure LSTM baseline)
        mu, sd = stats.mean[term], stats.std[term]
        if c.loss == "cue":
            res[term] = cue_loss(*(outputs[k] for k in c.reads), obs_of(term), mu, sd)
        else:
            res[term] = constraint_term(
                c, model_monthly(c.output), obs_of(term), moy.to(dev), data.cell_area.to(dev), mu, sd
            )
    total = torch.zeros((), device=dev)
    for v in res.values():
        total = total + v
    res["total"] = total
    return res
