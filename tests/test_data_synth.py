"""The twin world: a valid cube, hidden truth from the model's own equations, plausible weather,
observations that follow the real products' periods and masks."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
import torch

from h2cm import physics
from h2cm.data.check import check_cube
from h2cm.data.cube import land_cells, load_cells, open_cube, open_truth
from h2cm.data.geography import load_geography
from h2cm.data.synth import TRUTH_CONSTANTS, make_twin_world
from h2cm.data.synth import register as register_synth
from h2cm.data.synth.observe import INVERSIONS, grace_months, inversion, monthly_means, smooth_on_land
from h2cm.data.synth.weather import (
    CellClimate,
    LargeScale,
    extraterrestrial_radiation,
    generate_weather,
)
from h2cm.data.synth.world import SIZES, _blocks, world_grid
from h2cm.schema import OUTPUT_KEYS, STATIC_FEATURE_KEYS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("twin") / "tiny.zarr"
    parser = argparse.ArgumentParser()
    register_synth(parser.add_subparsers())
    args = parser.parse_args(["synth", "--size", "tiny", "--seed", "3", "--out", str(path), "--quiet"])
    assert args.func(args) == 0
    return path


@pytest.fixture(scope="module")
def cube(tiny):
    return open_cube(tiny)


@pytest.fixture(scope="module")
def truth(tiny):
    return open_truth(tiny).load()


@pytest.fixture(scope="module")
def cells(cube):
    return load_cells(cube)


def cell_series(ds, key, cube):
    li, lj = land_cells(cube)
    return ds[key].values[:, li, lj]


def test_tiny_is_a_valid_cube(cube):
    assert [p for p in check_cube(cube) if p.severity == "error"] == []
    assert cube.sizes["time"] == 365 * 4 + 1 and str(cube["time"].values[0])[:10] == "2016-01-01"
    assert int(cube["land_mask"].sum()) == 64
    assert [str(f) for f in cube["feature"].values] == list(STATIC_FEATURE_KEYS)
    for key in cube.data_vars:
        assert "units" in cube[key].attrs and "long_name" in cube[key].attrs, key
    assert {"nee", "nee_anomaly", "tws", "swe", "cue"} <= set(cube.data_vars)  # OCO-2 era: every product


def test_truth_group_layout(truth):
    assert set(OUTPUT_KEYS) <= set(truth.data_vars)
    assert truth["gpp"].dims == ("time", "lat", "lon")
    assert truth["smmax"].dims == ("lat", "lon") and truth["alpha_ei"].dims == ("lat", "lon")
    for key, value in TRUTH_CONSTANTS.items():
        assert float(truth[key]) == pytest.approx(value)
    assert float(truth["q10"]) == pytest.approx(1.9) and float(truth["beta_co2"]) == pytest.approx(0.0011)


def test_truth_closes_water_and_carbon_balance(truth, cube):
    s = {k: cell_series(truth, k, cube).astype(np.float64) for k in ("snowfall", "rainfall", "et", "runoff", "tws")}
    residual = (s["snowfall"] + s["rainfall"] - s["et"] - s["runoff"])[1:] - np.diff(s["tws"], axis=0)
    assert np.abs(residual).max() < 1e-3
    nee = cell_series(truth, "nee", cube)
    np.testing.assert_allclose(
        nee,
        cell_series(truth, "ra", cube) + cell_series(truth, "rh", cube) - cell_series(truth, "gpp", cube),
        atol=1e-4,
    )


def test_truth_is_the_models_process_equations(truth, cube, cells):
    """Feeding the stored truth parameters and states through physics.day_step reproduces day t."""
    t = 400
    g = {k: torch.from_numpy(cell_series(truth, k, cube)).double() for k in OUTPUT_KEYS}
    sm_i = truth["smmax"].values[land_cells(cube)]
    ei_i = truth["alpha_ei"].values[land_cells(cube)]
    f = cells.forcing.double()
    state = physics.WaterState(g["swe"][t - 1], g["sm"][t - 1], g["gw"][t - 1])
    day = physics.DayForcing(f[t, :, 0], f[t, :, 1], f[t, :, 2], f[t, :, 4])
    params = physics.DailyParams(*(g[k][t] for k in physics.DailyParams._fields))
    static = physics.StaticParams(torch.from_numpy(sm_i).double(), torch.from_numpy(ei_i).double())
    const = physics.Constants(
        *(torch.tensor(TRUTH_CONSTANTS[k], dtype=torch.float64) for k in physics.Constants._fields)
    )
    _, fluxes = physics.day_step(state, day, params, static, const)
    for key in ("et", "runoff", "gpp", "rh", "nee", "tws"):
        np.testing.assert_allclose(fluxes[key].numpy(), g[key][t].numpy(), rtol=1e-3, atol=2e-3, err_msg=key)


def test_weather_is_plausible(cells):
    f = cells.forcing.numpy()
    south, north = cells.lat < 0, cells.lat > 0
    months = cells.time.month.to_numpy()
    prec_s = f[:, south, 1].mean(1)
    wet = prec_s[np.isin(months, [12, 1, 2])].mean()
    dry = prec_s[np.isin(months, [6, 7, 8, 9])].mean()
    assert wet > 2.0 and dry < 0.1 * wet  # southern African savanna: long dry season, summer rains
    tc = f[:, :, 2] - 273.15
    assert tc[:, north].mean() < 0 < tc[:, south].mean()  # Siberia is cold, southern Africa is warm
    assert tc[np.isin(months, [7]), :][:, north].mean() > tc[np.isin(months, [1]), :][:, north].mean() + 25
    assert (f[:, :, 1] >= 0).all() and (f[:, :, 3] >= 0).all()
    rain_days = (f[:, south, 1] > 0.1).mean()
    assert 0.05 < rain_days < 0.6  # stochastic rain occurrence, not drizzle every day
    annual = pd.Series(f[:, :, 4].mean(1), index=cells.time).groupby(cells.time.year).mean()
    per_year = (annual.iloc[-1] - annual.iloc[0]) / (len(annual) - 1)
    assert 1.7 < per_year < 2.5  # CO2 rises about 2 ppm per year
    north_co2 = pd.Series(f[:, north, 4].mean(1), index=cells.time).groupby(cells.time.month).mean()
    assert north_co2.idxmax() in (4, 5, 6) and north_co2.max() - north_co2.min() > 5  # seasonal cycle


def test_observations_follow_the_products(cube, truth, cells):
    months = pd.DatetimeIndex(cube["month"].values)
    c = cells.constraints
    tws = c["tws"].numpy()
    gap = (months >= "2017-07-01") & (months <= "2018-05-01")  # between GRACE and GRACE-FO
    assert np.isnan(tws[gap]).all() and np.isfinite(tws[months >= "2018-06-01"]).all(axis=1).sum() >= 15
    assert np.isfinite(tws[months < "2017-07-01"]).all(axis=1).sum() >= 9  # 15 % of GRACE months missing
    np.testing.assert_allclose(np.nanmean(tws, axis=0), 0.0, atol=1e-3)  # anomalies over both missions
    assert np.isnan(c["swe"].numpy()[:, cells.lat < 0]).all()  # northern hemisphere only
    et_truth = monthly_means(cell_series(truth, "et", cube), cells.time, months)
    r = np.corrcoef(et_truth.ravel(), c["et"].numpy().ravel())[0, 1]
    assert 0.9 < r < 0.9999  # observed, with noise
    cue = c["cue"].numpy()
    assert ((cue > 0) & (cue < 1)).all()
    fapar = c["fapar"].numpy()
    assert fapar.min() >= 0 and fapar.max() <= 1


def test_truth_parameters_have_the_intended_dependencies(truth, cube, cells):
    tc = cells.forcing[:, :, 2].numpy() - 273.15
    cue = cell_series(truth, "cue", cube)
    assert np.corrcoef(tc.ravel(), cue.ravel())[0, 1] < -0.9  # CUE falls with temperature
    vpd = cells.forcing[:, :, 3].numpy()
    wue = cell_series(truth, "alpha_wue", cube)
    light = 1.0 - np.exp(-np.clip(cells.forcing[:, :, 0].numpy(), 0, None) / 80.0)
    lit = light > 0.3
    assert np.corrcoef(vpd[lit], wue[lit] / light[lit])[0, 1] < -0.5  # at a given light, WUE falls with VPD
    sm_rel = cell_series(truth, "sm", cube) / truth["smmax"].values[land_cells(cube)]
    alpha_t = cell_series(truth, "alpha_t", cube)
    warm = tc > 5
    assert np.corrcoef(sm_rel[warm], alpha_t[warm])[0, 1] > 0.5  # alpha_T falls with soil dryness


def test_rain_pulse_after_dry_spell(truth, cube, cells):
    """Basal respiration jumps on the first big rain after a long dry spell (Birch effect)."""
    prec = cells.forcing[:, :, 1].numpy()
    rb = cell_series(truth, "rb", cube)
    south = np.nonzero(cells.lat < 0)[0]
    jumps = []
    for n in south[:8]:
        dry = 0
        for t in range(1, prec.shape[0]):
            if prec[t, n] > 5 and dry >= 30:
                jumps.append(rb[t, n] / rb[t - 1, n])
            dry = 0 if prec[t, n] > 2 else dry + 1
    assert jumps and np.median(jumps) > 1.5


def test_weather_generator_is_deterministic_and_seeded():
    time = pd.date_range("2001-01-01", periods=60)
    cells = CellClimate(
        lat=np.array([-20.5, 50.5]),
        lon=np.array([25.5, 10.5]),
        elevation=np.array([1000.0, 200.0]),
        elevation_std=np.array([50.0, 100.0]),
        continentality=np.array([0.9, 0.6]),
        wetness=np.ones(2),
        bare=np.zeros(2),
    )
    a = generate_weather(time, cells, LargeScale.generate(60, 1), np.random.default_rng(1))
    b = generate_weather(time, cells, LargeScale.generate(60, 1), np.random.default_rng(1))
    c = generate_weather(time, cells, LargeScale.generate(60, 2), np.random.default_rng(2))
    for key in ("rn", "prec", "tair", "vpd", "co2"):
        np.testing.assert_array_equal(a[key], b[key])
        assert a[key].shape == (60, 2) and a[key].dtype == np.float32
    assert not np.array_equal(a["prec"], c["prec"])


def test_extraterrestrial_radiation():
    ra = extraterrestrial_radiation(np.array([0.0, 80.0, -80.0]), np.array([80.0, 355.0]))
    assert 35 < ra[0, 0] < 39  # equator at the equinox
    assert ra[1, 1] == 0.0 and ra[1, 2] > 40  # polar night in the north, polar day in the south


def test_global_world_grid_and_blocks():
    geo = load_geography()
    rows, cols, mask = world_grid(SIZES["global"], geo)
    assert mask.shape == (180, 360) and 12_000 < mask.sum() < 17_000
    blocks = _blocks(mask, 1000)
    assert blocks[0][0] == 0 and all(b[1] == n[0] for b, n in zip(blocks, blocks[1:], strict=False))
    assert all((b1 - b0) % 5 == 0 or b1 == 180 for b0, b1 in blocks)  # chunk-aligned bands
    assert sum(int(mask[b0:b1].sum()) for b0, b1 in blocks) == int(mask.sum())
    demo_rows, demo_cols, demo_mask = world_grid(SIZES["demo"], geo)
    assert 500 <= demo_mask.sum() <= 1100
    assert (geo.lat[demo_rows][demo_mask.any(axis=1)] > 55).any()  # boreal
    assert ((geo.lat[demo_rows] < -15) & demo_mask.any(axis=1)).any()  # southern Africa


def test_unknown_size_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="tiny, demo, global"):
        make_twin_world("huge", 0, tmp_path / "x.zarr")
    assert list(tmp_path.iterdir()) == []


def test_wue_is_light_limited_and_respiration_moisture_limited(truth, cube, cells):
    """The truth's processes the paper says the hybrid learns (docs/data.md, "Truth parameters")."""
    f = cells.forcing.numpy().astype(np.float64)
    rn, vpd = f[:, :, 0], f[:, :, 3]
    wue = cell_series(truth, "alpha_wue", cube) * 380.0 * TRUTH_CONSTANTS["beta_co2"]
    expected = (1.5 + 3.0 / (1.0 + vpd / 10.0)) * (1.0 - np.exp(-np.clip(rn, 0, None) / 80.0))
    np.testing.assert_allclose(wue, expected, rtol=2e-4, atol=1e-6)  # light limitation, by hand
    south = cells.lat < 0
    months = cells.time.month.to_numpy()
    rb = cell_series(truth, "rb", cube)[:, south]
    wet, dry = np.isin(months, [12, 1, 2]), np.isin(months, [6, 7, 8])
    assert np.median(rb[dry]) < 0.8 * np.median(rb[wet])  # a dry topsoil respires less


def test_southern_african_nee_peaks_at_the_end_of_the_dry_season(truth, cube, cells):
    nee = cell_series(truth, "nee", cube)[:, cells.lat < 0].mean(axis=1)
    msc = pd.Series(nee, index=cells.time).groupby(cells.time.month).mean()
    assert msc.idxmax() in (9, 10, 11) and msc.max() > 0.1  # release before the canopy greens up
    assert msc[[1, 2, 3]].mean() < 0  # uptake in the wet season


def test_smooth_on_land_by_hand():
    lat = np.arange(10.0, -10.5, -1.0)  # 21 rows, the equator in the middle
    mask = np.ones((21, 31), dtype=bool)
    mask[:, :3] = False  # "ocean" on the left
    x = np.where(mask, 2.0, 1000.0)
    np.testing.assert_allclose(smooth_on_land(x, mask, lat, 300.0, wrap=False)[mask], 2.0)  # no leak from ocean
    assert np.isnan(smooth_on_land(x, mask, lat, 300.0, wrap=False)[~mask]).all()
    delta = np.zeros((21, 31))
    delta[10, 15] = 1.0
    out = smooth_on_land(delta, mask, lat, 222.4, wrap=False)  # 2 degrees
    assert np.nansum(out) == pytest.approx(1.0, rel=1e-3)  # interior: mass kept
    d_lat = np.arange(21) - 10
    var_lat = (np.nansum(out, axis=1) * d_lat**2).sum()
    assert var_lat == pytest.approx(4.0, rel=0.02)  # variance = sigma^2 (in degrees^2)
    np.testing.assert_allclose(out, out[::-1], atol=1e-12)  # symmetric north-south


def test_inversions_period_anomalies_and_errors():
    months = pd.date_range("2014-01-01", "2019-12-01", freq="MS")
    lat = np.arange(4.5, -5.5, -1.0)
    mask = np.ones((10, 40), dtype=bool)
    truth = np.zeros((len(months), 10, 40)) + np.sin(np.arange(len(months)) / 12 * 2 * np.pi)[:, None, None]
    oco2 = INVERSIONS["nee"]
    obs = inversion(truth, mask, lat, months, oco2, np.random.default_rng(0))
    assert np.isnan(obs[months < "2015-01-01"]).all() and np.isfinite(obs[months >= "2015-01-01"]).all()
    err = obs[months >= "2015-01-01"] - truth[months >= "2015-01-01"]
    assert err.std() == pytest.approx(np.hypot(oco2.error_sd, oco2.white_sd), rel=0.1)
    cs = INVERSIONS["nee_anomaly"]
    anom = inversion(truth, mask, lat, months, cs, np.random.default_rng(1))
    for m in range(1, 13):
        np.testing.assert_allclose(np.nanmean(anom[months.month == m], axis=0), 0.0, atol=1e-6)
    assert np.nanstd(anom) < 0.2  # the seasonal cycle is gone, errors remain


def test_grace_and_grace_fo_periods():
    months = pd.date_range("2001-01-01", "2019-12-01", freq="MS")
    g = grace_months(months)
    assert not g[months < "2002-04-01"].any() and g[(months >= "2002-04-01") & (months <= "2017-06-01")].all()
    assert not g[(months > "2017-06-01") & (months < "2018-06-01")].any() and g[months >= "2018-06-01"].all()
