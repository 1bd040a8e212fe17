"""Metrics, views, skill and derived diagnostics on hand-computed series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from h2cm.constraints import cue_of_means as model_cue
from h2cm.data.regions import REGIONS, region_index
from h2cm.evaluation.diagnostics import PAR_PER_RN, derived_diagnostics, par_from_rn
from h2cm.evaluation.metrics import all_metrics, area_weighted_mean, bias, pearson_r, r_squared, rmse, sdr
from h2cm.evaluation.outputs import ensemble_stats
from h2cm.evaluation.skill import global_skill, summarise
from h2cm.evaluation.views import anomalies, monthly_means, msc, prepare


def test_metrics_hand_computed():
    sim = np.array([1.0, 2.0, 3.0])
    obs = np.array([1.0, 2.0, 5.0])
    assert rmse(sim, obs) == pytest.approx(math.sqrt(4 / 3))
    assert bias(sim, obs) == pytest.approx(-2 / 3)
    # sd(sim) = sqrt(2/3); sd(obs): mean 8/3, deviations -5/3, -2/3, 7/3 -> var 78/27
    assert sdr(sim, obs) == pytest.approx(math.sqrt(2 / 3) / math.sqrt(78 / 27))
    assert pearson_r([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert pearson_r(sim, 2 * sim + 1) == pytest.approx(1.0)
    assert pearson_r(sim, -sim) == pytest.approx(-1.0)
    assert sdr(sim, 2 * sim) == pytest.approx(0.5)
    # R2 = 1 - SSE/SST: SSE 4, SST 78/9
    assert r_squared(sim, obs) == pytest.approx(1 - 4 / (78 / 9))


def test_metrics_skip_missing_pairs_and_degenerate_cases():
    sim = np.array([1.0, np.nan, 3.0, 4.0])
    obs = np.array([2.0, 2.0, np.nan, 4.0])
    assert rmse(sim, obs) == pytest.approx(math.sqrt(0.5))  # pairs (1,2), (4,4)
    assert bias(sim, obs) == pytest.approx(-0.5)
    one = all_metrics([1.0, np.nan], [2.0, 1.0])
    assert one["rmse"] == pytest.approx(1.0)
    assert np.isnan(one["r"]) and np.isnan(one["sdr"])
    assert np.isnan(pearson_r([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))  # constant series
    assert np.isnan(rmse([np.nan], [1.0]))


def test_metrics_along_axis():
    sim = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])  # (time, cells)
    obs = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 7.0]])
    r = rmse(sim, obs, axis=0)
    assert r.shape == (2,)
    assert r[0] == 0.0 and r[1] == pytest.approx(math.sqrt(1 / 3))


def test_area_weighted_mean():
    x = np.array([[1.0, 3.0, np.nan], [2.0, np.nan, np.nan]])
    m = area_weighted_mean(x, [1.0, 3.0, 5.0], axis=-1)
    assert m[0] == pytest.approx((1 * 1 + 3 * 3) / 4)
    assert m[1] == pytest.approx(2.0)
    assert np.isnan(area_weighted_mean(np.array([[np.nan]]), [1.0], axis=-1)[0])


def test_views_on_two_years():
    months = pd.date_range("2001-01-01", periods=24, freq="MS")
    x = np.r_[np.arange(12.0), np.arange(12.0) + 2.0]  # year 2 = year 1 + 2
    cycle = msc(x, months)
    np.testing.assert_allclose(cycle, np.arange(12.0) + 1.0)
    a = anomalies(x, months)
    np.testing.assert_allclose(a, np.r_[-np.ones(12), np.ones(12)])
    x[0] = np.nan  # a missing January: the MSC uses the other year only
    assert msc(x, months)[0] == pytest.approx(2.0)


def test_prepare_tws_removes_cell_means_and_masks_jointly():
    sim = np.array([[10.0, 1.0], [12.0, 2.0], [14.0, 3.0]])
    obs = np.array([[0.0, np.nan], [1.0, 5.0], [2.0, 6.0]])
    s, o = prepare("tws", sim, obs)
    np.testing.assert_allclose(s[:, 0], [-2, 0, 2])
    np.testing.assert_allclose(o[:, 0], [-1, 0, 1])
    assert np.isnan(s[0, 1]) and np.isnan(o[0, 1])  # masked where the data are missing
    np.testing.assert_allclose(s[1:, 1], [-0.5, 0.5])


def test_monthly_means_of_daily():
    time = pd.date_range("2001-01-01", "2001-03-31", freq="D")
    daily = np.arange(len(time), dtype=float)
    months, m = monthly_means(daily, time)
    assert list(months) == list(pd.date_range("2001-01-01", periods=3, freq="MS"))
    np.testing.assert_allclose(m, [15.0, 31 + 13.5, 59 + 15.0])


def test_global_skill_perfect_and_offset():
    months = pd.date_range("2001-01-01", periods=36, freq="MS")
    rng = np.random.default_rng(0)
    obs = rng.random((36, 4)) + np.sin(np.arange(36) / 12 * 2 * np.pi)[:, None]
    model = np.stack([obs, obs + 1.0])  # fold 0 perfect, fold 1 offset by 1
    res = global_skill(model, obs, np.ones(4), months, "gpp")
    for v in ("monthly", "msc", "anomaly"):
        assert res[v]["rmse"][0] == pytest.approx(0.0, abs=1e-12)
        assert res[v]["r"][0] == pytest.approx(1.0)
        assert res[v]["sdr"][0] == pytest.approx(1.0)
        assert res[v]["r"][1] == pytest.approx(1.0)
    assert res["monthly"]["bias"][1] == pytest.approx(1.0)
    assert res["msc"]["bias"][1] == pytest.approx(1.0)
    assert res["anomaly"]["bias"][1] == pytest.approx(0.0, abs=1e-12)  # an offset has no anomaly
    # tws: an offset disappears (each cell's mean removed)
    tws = global_skill(model, obs, np.ones(4), months, "tws")
    assert tws["monthly"]["rmse"][1] == pytest.approx(0.0, abs=1e-12)


def test_summary_median_min_max_across_folds():
    long = pd.DataFrame(
        {"reference": "obs", "target": "gpp", "view": "msc", "metric": "r", "fold": [0, 1, 2], "value": [0.5, 0.9, 0.7]}
    )
    s = summarise(long).iloc[0]
    assert (s["median"], s["min"], s["max"], s["n_folds"]) == (0.7, 0.5, 0.9, 3)


def test_ensemble_stats_hand_checked():
    v = np.array([[1.0, np.nan, 5.0], [3.0, np.nan, np.nan], [2.0, np.nan, 4.0]])  # (folds, cells)
    st = ensemble_stats(v)
    np.testing.assert_allclose(st["median"], [2.0, np.nan, 4.5])
    np.testing.assert_allclose(st["min"], [1.0, np.nan, 4.0])
    np.testing.assert_allclose(st["max"], [3.0, np.nan, 5.0])


def test_model_cue_follows_the_loss_definition():
    np.testing.assert_allclose(model_cue([1.0, 0.01], [2.0, 0.05]), [0.5, 0.5])
    assert model_cue([0.6], [1.0])[0] == pytest.approx(0.6)


def test_par_and_derived_diagnostics():
    assert par_from_rn(100.0) == pytest.approx(7.2)
    assert PAR_PER_RN == pytest.approx(0.5 / 0.6 * 0.0864)
    assert par_from_rn(-50.0) == 0.0
    d = derived_diagnostics(
        {
            "npp": np.array([1.0]),
            "gpp": np.array([2.0]),
            "tr": np.array([0.5]),
            "prec": np.array([4.0]),
            "apar": np.array([8.0]),
        }
    )
    assert d["pue"][0] == pytest.approx(0.25)
    assert d["wue"][0] == pytest.approx(4.0)
    assert d["cue"][0] == pytest.approx(0.5)
    assert d["lue"][0] == pytest.approx(0.25)
    desert = derived_diagnostics(
        {
            "npp": np.array([0.0]),
            "gpp": np.array([0.0]),
            "tr": np.array([0.0]),
            "prec": np.array([0.0]),
            "apar": np.array([0.0]),
        }
    )
    assert all(np.isnan(v[0]) for v in desert.values())


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (-3.0, -60.0, "SATr"),
        (-34.6, -58.4, "SATe"),
        (52.5, 13.4, "Euro"),
        (55.0, 83.0, "EABo"),
        (39.9, 116.4, "EATe"),
        (-6.2, 106.8, "TrAs"),
        (-33.9, 151.2, "Aust"),
        (-15.4, 28.3, "SAfr"),
        (12.0, 8.5, "NAfr"),
        (39.7, -105.0, "NATe"),
        (62.5, -114.4, "NABo"),
        (64.8, 212.3, "NABo"),
    ],
)
def test_transcom_regions_of_known_places(lat, lon, code):
    number = int(region_index(lat, lon))
    assert REGIONS[number - 1][0] == code


def test_ocean_and_antarctica_have_no_region():
    assert int(region_index(-75.0, 0.0)) == 0
    assert int(region_index(-50.0, -120.0)) == 0
