"""The twin world: a valid cube, hidden truth from the model's own equations, plausible weather,
observations that follow the real products' periods and masks."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
import torch

from h2cm import physics
from h2cm.cli.synth import register as register_synth
from h2cm.data.check import check_cube
from h2cm.data.cube import land_cells, load_cells, open_cube, open_truth
from h2cm.data.geography import load_geography
from h2cm.data.synth import TRUTH_CONSTANTS, make_twin_world
from h2cm.data.synth.observe import INVERSIONS, grace_months, inversion, monthly_means, smooth_on_land
from h2cm.data.synth.products import (
    MEMBER_RANGES,
    PRODUCT_KEYS,
    draw_members,
    fapar_climatology,
    run_members,
)
from h2cm.data.synth.weather import (
    CellClimate,
    LargeScale,
    extraterrestrial_radiation,
    generate_weather,
)
from h2cm.data.synth.world import SIZES, _blocks, world_grid
from h2cm.schema import FORCING_KEYS, OUTPUT_KEYS, STATIC_FEATURE_KEYS


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


# --- comparison products (h2cm.data.synth.products) -------------------------------------------------


@pytest.fixture(scope="module")
def products(tiny):
    import xarray as xr

    return {n: xr.open_zarr(tiny, group=f"products/{n}", consolidated=False).load() for n in PRODUCT_KEYS}


def test_products_layout_units_and_attributes(tiny, cube, products):
    from h2cm.evaluation.compare import world_products
    from h2cm.schema import cf_attrs

    assert world_products(tiny) == {n: f"{tiny}#products/{n}" for n in ("data_driven", "process_ensemble")}
    li, lj = land_cells(cube)
    land = np.zeros(cube["land_mask"].shape, dtype=bool)
    land[li, lj] = True
    for name, ds in products.items():
        assert ds.attrs["h2cm_product"] == name and ds.attrs["h2cm_world_seed"] == 3
        assert ds.attrs["like"].startswith({"process_ensemble": "TRENDY", "data_driven": "FLUXCOM"}[name])
        assert "h2cm_weaknesses" in ds.attrs and ds.attrs["Conventions"] == "CF-1.10"
        assert (ds["time"].values == cube["month"].values).all()  # month starts of the world
        for k in PRODUCT_KEYS[name]:
            v = ds[k]
            assert v.dims == ("time", "lat", "lon"), k
            assert v.attrs["units"] == "g m-2 d-1" and v.attrs["long_name"] == cf_attrs(k)["long_name"]
            assert v.attrs["cell_methods"] == "time: mean"
            assert np.isfinite(v.values[:, land]).all() and np.isnan(v.values[:, ~land]).all(), (name, k)
    assert set(PRODUCT_KEYS["process_ensemble"]) == {"gpp", "npp", "rh", "ter", "nee"}
    assert products["process_ensemble"]["gpp"].attrs["standard_name"] == cf_attrs("gpp")["standard_name"]
    pe = products["process_ensemble"]
    assert float(pe["gpp"].mean()) > 0.1 and float(pe["rh"].min()) >= 0


def _cell_inputs(truth, cube, cells, n: slice):
    forcing = {k: cells.forcing[:, n, i].numpy() for i, k in enumerate(FORCING_KEYS)}
    clim = fapar_climatology(cell_series(truth, "fapar", cube)[:, n], cells.time)
    li, lj = land_cells(cube)
    return forcing, clim, truth["smmax"].values[li, lj][n], truth["alpha_ei"].values[li, lj][n]


def test_process_ensemble_is_day_step_with_constant_parameters(truth, cube, cells):
    """Hand check: each member is physics.day_step with its documented constants for a few days
    from empty storages, Rh = Q10^((T - 15) / 10) Rb with Rb = rb_balance x sum NPP / sum factor."""
    days = 12
    # a southern African cell: rain and GPP in January
    forcing, clim, smmax, alpha_ei = _cell_inputs(truth, cube, cells, slice(40, 41))
    forcing = {k: v[:days] for k, v in forcing.items()}
    time = cells.time[:days]
    members = draw_members(3)
    assert len(members) == 5 and all(
        lo <= getattr(m, k) <= hi for m in members for k, (lo, hi) in MEMBER_RANGES.items()
    )
    got = run_members(forcing, smmax, alpha_ei, clim, time, members, period=np.arange(days), spinup_days=0)

    def t(x):
        return torch.tensor(np.asarray(x, dtype=np.float64))

    def member_days(m, rb: float) -> dict[str, list[float]]:
        const = physics.Constants(t(m.q10), t(m.beta_co2), t(m.beta_baseflow), t(m.beta_snow))
        static = physics.StaticParams(t(m.smmax_scale * smmax), t(alpha_ei))
        state = physics.WaterState(t([0.0]), t([0.0]), t([0.0]))
        out: dict[str, list[float]] = {"gpp": [], "npp": [], "rh": [], "nee": []}
        for d in range(days):
            params = physics.DailyParams(
                alpha_smelt=t(m.alpha_smelt),
                alpha_rsoil=t(m.alpha_rsoil),
                alpha_rgw=t(m.alpha_rgw),
                alpha_t=t(m.alpha_t),
                alpha_es=t(m.alpha_es),
                alpha_wue=t(m.wue / (380.0 * m.beta_co2)),
                cue=t(m.cue),
                rb=t(rb),
                fapar=t(min(m.fapar_scale * clim[time[d].month - 1, 0], 0.95)),
            )
            day = physics.DayForcing(*(t(forcing[key][d]) for key in ("rn", "prec", "tair", "co2")))
            state, fl = physics.day_step(state, day, params, static, const)
            for key, values in out.items():
                values.append(float(fl[key][0]))
        return out

    tc = forcing["tair"][:, 0].astype(np.float64) - 273.15
    for k, m in enumerate(members):
        factor = m.q10 ** ((tc - 15.0) / 10.0)
        rb = m.rb_balance * sum(member_days(m, 0.0)["npp"]) / factor.sum()  # NPP does not depend on Rb
        want = member_days(m, rb)
        np.testing.assert_allclose(got["rb"][k, 0], rb, rtol=1e-12)
        for key, values in want.items():
            np.testing.assert_allclose(got[key][:, k, 0], values, rtol=1e-10, atol=1e-12, err_msg=f"{key} {k}")
        np.testing.assert_allclose(got["rh"][:, k, 0], rb * factor, rtol=1e-10)
        assert max(want["gpp"]) >= 0


def test_process_ensemble_is_reproduced_from_the_world(truth, cube, cells, products):
    """The stored product is the member median, made again from the stored forcing and truth
    (the same members for the same seed)."""
    n = slice(2, 4)
    forcing, clim, smmax, alpha_ei = _cell_inputs(truth, cube, cells, n)
    res = run_members(forcing, smmax, alpha_ei, clim, cells.time, draw_members(3))
    for key in PRODUCT_KEYS["process_ensemble"]:
        stored = cell_series(products["process_ensemble"], key, cube)[:, n]
        np.testing.assert_allclose(stored, np.median(res[key], axis=1), rtol=1e-5, atol=1e-6, err_msg=key)
    assert draw_members(3) == draw_members(3) and draw_members(3) != draw_members(4)


def test_data_driven_reproduces_gpp_at_its_towers_and_is_deterministic(cube, truth, cells, products):
    from h2cm.data.synth import products as P

    dd = products["data_driven"]
    li, lj = land_cells(cube)
    tower = dd["tower"].values[li, lj] == 1
    assert tower.sum() == 8  # 5 % of 64 cells, at least 8
    assert (np.flatnonzero(tower) == P.tower_cells(len(li), 3, cells.lat)).all()
    months = pd.DatetimeIndex(cube["month"].values)
    tm = {k: monthly_means(cell_series(truth, k, cube), cells.time, months) for k in P.TARGETS}
    gpp = cell_series(dd, "gpp", cube)
    assert np.corrcoef(gpp[:, tower].ravel(), tm["gpp"][:, tower].ravel())[0, 1] > 0.8
    assert np.corrcoef(gpp.ravel(), tm["gpp"].ravel())[0, 1] > 0.7
    # made again from the stored inputs: the same towers, noise and network for the same seed
    monthly = {
        k: monthly_means(cells.forcing[:, :, FORCING_KEYS.index(k)].numpy(), cells.time, months)
        for k in ("rn", "prec", "tair", "vpd")
    }
    monthly["fapar"] = cells.constraints["fapar"].numpy()
    feats = {str(f): cube["static"].sel(feature=f).values[li, lj] for f in cube["feature"].values}
    static = {k: np.asarray(v, dtype=np.float64) for k, v in P.static_inputs(feats).items()}
    x = P.feature_matrix(monthly, static, months)
    obs = P.tower_observations({k: v[:, tower] for k, v in tm.items()}, np.random.default_rng([3, 8, 1]))
    y = np.stack([obs[k] for k in P.TARGETS], axis=-1).reshape(-1, 3)
    model = P.fit_upscaler(x[:, tower].reshape(-1, x.shape[-1]), y, 3)
    pred = model.predict(x)
    np.testing.assert_allclose(gpp, np.clip(pred[..., 0], 0, None), atol=1e-5)
    np.testing.assert_allclose(cell_series(dd, "nee", cube), pred[..., 2], atol=1e-5)


@pytest.mark.slow
def test_products_in_a_netcdf_world(tiny, tmp_path, cube):
    from h2cm.data.synth.world import _to_netcdf
    from h2cm.evaluation.compare import product_monthly, world_products

    nc = tmp_path / "tiny.nc"
    _to_netcdf(tiny, nc)
    assert set(world_products(nc)) == {"data_driven", "process_ensemble"}
    months = pd.DatetimeIndex(cube["month"].values)[:6]
    a = product_monthly(f"{nc}#products/process_ensemble", nc, np.arange(5), months, ("gpp", "nee"))
    b = product_monthly(f"{tiny}#products/process_ensemble", tiny, np.arange(5), months, ("gpp", "nee"))
    for k in ("gpp", "nee"):
        np.testing.assert_array_equal(a[k], b[k])
