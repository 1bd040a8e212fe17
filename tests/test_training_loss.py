"""Loss terms of docs/training.md on hand-made tensors with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from h2cm.aggregate import month_index
from h2cm.data.cells import CellData
from h2cm.physics import Constants
from h2cm.training.loss import (
    LossStats,
    active_terms,
    cue_loss,
    model_cue,
    monthly_loss,
    msc_loss,
    nee_anomaly_loss,
    prior_loss,
    total_loss,
    tws_loss,
)

NAN = float("nan")


def t(*rows):
    return torch.tensor(rows, dtype=torch.float64)


# --- single terms ---------------------------------------------------------------------------------


def test_monthly_known_answer_and_zscore():
    model = t([1.0, 0.0], [3.0, 2.0], [5.0, 4.0])  # (M=3, N=2)
    obs = t([1.0, 2.0], [1.0, NAN], [1.0, 0.0])
    # z = (x - 1) / 2: cell 0 errors (0, 1, 2) -> (0 + 1 + 4) / 3 = 5/3;
    # cell 1 valid months 0, 2: errors (-1, 2) -> (1 + 4) / 2 = 5/2; mean over cells
    assert float(monthly_loss(model, obs, mean=1.0, std=2.0)) == pytest.approx((5 / 3 + 5 / 2) / 2)


def test_monthly_cell_without_data_is_left_out():
    model = t([1.0, 100.0], [2.0, 100.0])
    obs = t([0.0, NAN], [0.0, NAN])
    assert float(monthly_loss(model, obs, 0.0, 1.0)) == pytest.approx((1 + 4) / 2)


def test_tws_anomalies():
    model = t([1.0], [2.0], [3.0])
    obs = t([0.0], [0.0], [3.0])
    # anomalies: model (-1, 0, 1), obs (-1, -1, 2): errors (0, 1, -1) -> 2/3
    assert float(tws_loss(model, obs, 5.0, 1.0)) == pytest.approx(2 / 3)
    # a constant offset between model and data does not matter
    assert float(tws_loss(model + 7.0, obs, 0.0, 1.0)) == pytest.approx(2 / 3)
    # a missing month: means over the valid months only: model (1, 3) -> (-1, 1); obs (0, 3) -> (-1.5, 1.5)
    obs_gap = t([0.0], [NAN], [3.0])
    assert float(tws_loss(model, obs_gap, 0.0, 1.0)) == pytest.approx(0.25)
    # std 2 scales the loss by 1/4
    assert float(tws_loss(model, obs_gap, 0.0, 2.0)) == pytest.approx(0.25 / 4)


def test_mean_seasonal_cycle():
    moy = torch.tensor([0, 1, 0, 1])
    model = t([1.0], [2.0], [3.0], [4.0])
    obs = t([0.0], [0.0], [2.0], [NAN])
    # valid months 0, 1, 2: model MSC Jan (1+3)/2 = 2, Feb 2; obs MSC Jan 1, Feb 0 -> (1 + 4) / 2
    assert float(msc_loss(model, obs, moy, 0.0, 1.0)) == pytest.approx(2.5)
    # the seasonal cycle ignores year-to-year variability: same MSC, different years
    model2 = t([2.0], [3.0], [2.0], [3.0])
    obs2 = t([1.0], [5.0], [3.0], [1.0])
    assert float(msc_loss(model2, obs2, moy, 0.0, 1.0)) == pytest.approx(0.0)


def test_nee_anomaly_area_weighted_batch_mean():
    moy = torch.tensor([0, 1, 0, 1])
    model = t([1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 4.0])
    # model anomalies: cell 0 (-1, -1, 1, 1), cell 1 (0, -2, 0, 2); weights (1, 3)
    # batch means: -0.25, -1.75, 0.25, 1.75; data: 0.75 every month
    obs = t([0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0])
    area = torch.tensor([1.0, 3.0], dtype=torch.float64)
    expected = ((-1.0) ** 2 + 2.5**2 + 0.5**2 + 1.0**2) / 4
    assert float(nee_anomaly_loss(model, obs, moy, area, 0.0, 1.0)) == pytest.approx(expected)
    assert float(nee_anomaly_loss(model, obs, moy, area, 3.0, 2.0)) == pytest.approx(expected / 4)


def test_nee_anomaly_missing_values():
    moy = torch.tensor([0, 1, 0, 1])
    model = t([1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 4.0])
    obs = t([0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, NAN])
    area = torch.tensor([1.0, 3.0], dtype=torch.float64)
    # cell 1's MSC over its valid months is (0, 0): anomalies (0, 0, 0, -); month 3 only has cell 0
    # model means: -0.25, -0.25, 0.25, 1; data means: 0.75, 0.75, 0.75, 0
    expected = (1.0 + 1.0 + 0.25 + 1.0) / 4
    assert float(nee_anomaly_loss(model, obs, moy, area, 0.0, 1.0)) == pytest.approx(expected)
    assert float(nee_anomaly_loss(model, torch.full_like(obs, NAN), moy, area, 0.0, 1.0)) == 0.0


def test_cue():
    gpp = t([2.0, 0.04, 1.0], [2.0, 0.06, 1.0])  # (T=2, N=3): means 2, 0.05, 1
    npp = t([0.5, 0.04, 0.7], [1.5, 0.0, 0.9])  # means 1, 0.02, 0.8
    assert model_cue(npp, gpp).tolist() == pytest.approx([0.5, 0.5, 0.8])  # 0.5 where mean GPP < 0.1
    obs = torch.tensor([0.4, 0.5, NAN], dtype=torch.float64)
    # z-scored with std 0.1: errors (1, 0); cell 2 has no data
    assert float(cue_loss(npp, gpp, obs, 0.5, 0.1)) == pytest.approx(0.5)


def test_priors():
    assert float(prior_loss(torch.tensor(1.8), 1.5, 0.3)) == pytest.approx(1.0)
    assert float(prior_loss(torch.tensor(0.0025), 0.0015, 0.0005)) == pytest.approx(4.0)


def test_no_nan_gradient_from_missing_values():
    """NaN data (and NaN model months without days) must give finite gradients everywhere."""
    moy = torch.tensor([0, 1, 0, 1])
    model = t([1.0, 2.0], [NAN, 0.0], [3.0, 1.0], [4.0, 4.0]).requires_grad_()
    obs = t([0.0, 1.0], [NAN, 1.0], [NAN, 1.0], [0.0, NAN])
    area = torch.tensor([1.0, 3.0], dtype=torch.float64)
    loss = (
        tws_loss(model, obs, 0, 1)
        + msc_loss(model, obs, moy, 0, 1)
        + monthly_loss(model, obs, 0, 1)
        + nee_anomaly_loss(model, obs, moy, area, 0, 1)
    )
    assert math.isfinite(float(loss.detach()))
    loss.backward()
    assert torch.isfinite(model.grad).all()
    assert model.grad[1, 0] == 0  # the NaN month gets no gradient
    assert model.grad[0, 0] != 0


def test_nan_model_value_where_data_exists_is_not_hidden():
    model = t([1.0], [NAN])
    obs = t([1.0], [2.0])
    assert math.isnan(float(monthly_loss(model, obs, 0, 1)))


# --- all terms on CellData ------------------------------------------------------------------------


def _cells(constraints: dict[str, torch.Tensor], days: int = 62, cells: int = 2) -> CellData:
    time = pd.date_range("2001-01-01", periods=days, freq="D")
    months = pd.date_range("2001-01-01", periods=3, freq="MS")  # March has no simulated day
    return CellData(
        forcing=torch.zeros(days, cells, 5),
        static=torch.zeros(cells, 3),
        constraints=constraints,
        cell_area=torch.ones(cells),
        lat=np.zeros(cells),
        lon=np.zeros(cells),
        time=time,
        months=months,
        day_month=torch.from_numpy(month_index(time, months)),
    )


def test_total_loss_sums_terms_and_skips_absent_constraints():
    days = 59  # January and February 2001
    outputs = {k: torch.ones(days, 2) for k in ("tws", "swe", "et", "runoff", "fapar", "gpp", "npp", "nee")}
    outputs["fapar"][:31] = 0.5  # January 0.5, February 1
    fapar = t([0.0, 0.5], [1.0, 1.0], [9.0, 9.0]).float()  # the March value has no model month: ignored
    data = _cells({"fapar": fapar, "cue": torch.tensor([1.0, NAN])}, days=days)
    stats = LossStats({"fapar": 0.0, "cue": 0.0}, {"fapar": 1.0, "cue": 0.5})
    terms = active_terms(["fapar", "swe", "cue"], stats, priors=True)
    assert terms == ("fapar", "cue", "prior_q10", "prior_beta_co2")
    k = Constants(torch.tensor(1.8), torch.tensor(0.0015), torch.tensor(0.01), torch.tensor(0.9))
    priors = {"q10": (1.5, 0.3), "beta_co2": (0.0015, 0.0005)}
    res = total_loss(outputs, data, stats, terms, k, priors)
    assert set(res) == {"fapar", "cue", "prior_q10", "prior_beta_co2", "total"}
    assert float(res["fapar"]) == pytest.approx((0.25 + 0.0) / 2 / 2)  # cell 0: (0.5^2 + 0)/2, cell 1: 0
    assert float(res["cue"]) == pytest.approx(0.0)  # model CUE 1 = data 1; cell 1 has no data
    assert float(res["prior_q10"]) == pytest.approx(1.0)
    assert float(res["prior_beta_co2"]) == pytest.approx(0.0, abs=1e-9)
    assert float(res["total"]) == pytest.approx(sum(float(v) for k, v in res.items() if k != "total"))


def test_absent_constraint_contributes_nothing():
    days = 59
    outputs = {k: torch.rand(days, 2) for k in ("tws", "swe", "et", "runoff", "fapar", "gpp", "npp", "nee")}
    gpp = torch.rand(3, 2)
    with_swe = _cells({"gpp": gpp, "swe": torch.rand(3, 2) * 100}, days=days)
    without = _cells({"gpp": gpp}, days=days)
    stats = LossStats({"gpp": 0.5, "swe": 50.0}, {"gpp": 0.3, "swe": 20.0})
    terms = active_terms(["gpp", "swe"], stats)
    a = total_loss(outputs, with_swe, stats, terms)
    b = total_loss(outputs, without, stats, terms)
    assert "swe" in a and "swe" not in b
    assert float(b["total"]) == pytest.approx(float(a["gpp"]))
    assert float(a["total"]) == pytest.approx(float(a["gpp"]) + float(a["swe"]))
    # a configured constraint without any training data has no term at all
    stats_no_swe = LossStats.from_cells(without, ["gpp", "swe"])
    assert active_terms(["gpp", "swe"], stats_no_swe) == ("gpp",)


def test_loss_stats_from_training_cells():
    data = _cells({"et": t([1.0, NAN], [3.0, 5.0], [NAN, NAN]).float(), "cue": torch.tensor([0.5, 0.5])})
    stats = LossStats.from_cells(data)
    assert stats.mean["et"] == pytest.approx(3.0)
    assert stats.std["et"] == pytest.approx(2.0)  # sample std of (1, 3, 5)
    assert stats.std["cue"] == 1.0  # constant -> 1, not 0
    assert LossStats.from_dict(stats.to_dict()) == stats
