"""The process model alone: conservation, bounds, and one day computed by hand."""

from __future__ import annotations

import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from h2cm import physics
from h2cm.physics import Constants, DailyParams, DayForcing, StaticParams, WaterState

F32 = torch.float32


def _t(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=F32)


def _random_day(seed: int, n: int, extremes: bool):
    """Random storages, forcing and parameters, including exact zeros and full storages."""
    g = torch.Generator().manual_seed(seed)

    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(n, generator=g)

    smmax = u(1.0, 1000.0)
    sm = u(0.0, 1.0) * smmax
    swe, gw = u(0.0, 2000.0), u(0.0, 5000.0)
    if extremes:  # zero storages, full soil, edge forcing for a third of the cells each
        k = n // 3
        sm[:k], swe[:k], gw[:k] = 0.0, 0.0, 0.0
        sm[k : 2 * k] = smmax[k : 2 * k]
    tc = u(-50.0, 50.0)
    prec = torch.where(torch.rand(n, generator=g) < 0.3, torch.zeros(n), u(0.0, 300.0))
    rn = u(-150.0, 400.0)
    if extremes:
        prec[::7] = 300.0
        tc[::5] = 0.0
        rn[::11] = 400.0
    forcing = DayForcing(rn=rn, prec=prec, tair=tc + 273.15, co2=u(280.0, 800.0))
    params = DailyParams(
        alpha_smelt=u(0.0, 10.0),
        alpha_rsoil=u(0.0, 1.0),
        alpha_rgw=u(0.0, 1.0),
        alpha_t=u(0.0, 1.0),
        alpha_es=u(0.0, 1.0),
        alpha_wue=u(0.0, 50.0),
        cue=u(0.0, 1.0),
        rb=u(0.0, 10.0),
        fapar=u(0.0, 1.0),
    )
    static = StaticParams(smmax=smmax, alpha_ei=u(0.0, 10.0))
    consts = Constants(
        q10=u(1.0, 10.0)[0], beta_co2=u(0.0, 0.01)[0], beta_baseflow=u(0.0, 1.0)[0], beta_snow=u(0.0, 1.0)[0]
    )
    return WaterState(swe, sm, gw), forcing, params, static, consts


def _water_balance_error(prev: WaterState, out: dict[str, torch.Tensor]):
    inflow = out["snowfall"] + out["rainfall"]
    d_store = (out["swe"] - prev.swe) + (out["sm"] - prev.sm) + (out["gw"] - prev.gw)
    outflow = out["et"] + out["runoff"]
    scale = (inflow.abs() + outflow.abs() + prev.swe + prev.sm + prev.gw + out["tws"]).double()
    return (inflow - outflow - d_store).double().abs(), scale


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), extremes=st.booleans())
def test_water_and_carbon_balance_close_for_random_days(seed, extremes):
    prev, forcing, params, static, consts = _random_day(seed, 64, extremes)
    new, out = physics.day_step(prev, forcing, params, static, consts)
    err, scale = _water_balance_error(prev, out)
    assert torch.all(err <= 1e-4 + 1e-5 * scale), f"water balance error {err.max():.3g} mm"
    carbon = (out["nee"] - (out["ra"] + out["rh"] - out["gpp"])).abs()
    assert torch.all(carbon <= 1e-5 * (out["gpp"].abs() + out["rh"].abs() + out["ra"].abs()) + 1e-6)
    for key in ("swe", "sm", "gw"):
        assert torch.all(out[key] >= 0.0), key
    assert torch.all(out["sm"] <= static.smmax * (1 + 1e-6))
    for key, value in out.items():
        assert torch.isfinite(value).all(), key
    # every flux that is a physical amount is non-negative
    for key in (
        "snowfall",
        "rainfall",
        "snowmelt",
        "ei",
        "es",
        "tr",
        "water_input",
        "r_soil",
        "r_gw",
        "q_fast",
        "q_base",
        "runoff",
        "gpp",
        "npp",
        "ra",
        "rh",
    ):
        assert torch.all(out[key] >= 0.0), key
    assert new.swe is out["swe"] and new.sm is out["sm"] and new.gw is out["gw"]


def test_one_day_by_hand():
    """A single cell and day, every number worked out below from the spec's equations."""
    prev = WaterState(swe=_t([10.0]), sm=_t([50.0]), gw=_t([100.0]))
    forcing = DayForcing(rn=_t([100.0]), prec=_t([5.0]), tair=_t([278.15]), co2=_t([400.0]))
    params = DailyParams(
        alpha_smelt=_t([2.0]),
        alpha_rsoil=_t([0.5]),
        alpha_rgw=_t([0.3]),
        alpha_t=_t([0.8]),
        alpha_es=_t([0.4]),
        alpha_wue=_t([3.0]),
        cue=_t([0.4]),
        rb=_t([1.0]),
        fapar=_t([0.5]),
    )
    static = StaticParams(smmax=_t([60.0]), alpha_ei=_t([2.0]))
    consts = Constants(q10=_t(2.0), beta_co2=_t(0.0015), beta_baseflow=_t(0.01), beta_snow=_t(0.9))
    new, out = physics.day_step(prev, forcing, params, static, consts)

    # Tc = 5 degC > 0: no snowfall, all precipitation is rain; melt = min(10, 2 * 5) = 10 -> SWE 0
    tc = 5.0
    snowfall, rain, melt = 0.0, 5.0, min(10.0, 2.0 * tc)
    swe = 10.0 + snowfall - melt
    rn_mm = 100.0 * 0.0864 / 2.45  # 3.5265306 mm d-1
    ei = min(rain, 0.5 * 2.0, rn_mm)  # = 1.0 (capacity-limited)
    e1 = rn_mm - ei
    es = (1 - 0.5) * min(e1, 50.0) * 0.4  # 0.5 * 2.5265306 * 0.4 = 0.5053061
    e2, sm1 = e1 - es, 50.0 - es
    tr = 0.5 * min(e2, sm1) * 0.8  # 0.5 * 2.0212245 * 0.8 = 0.8084898
    sm2 = sm1 - tr
    w = rain + melt - ei  # 14
    f_soil = 0.5 * min(1.0, (60.0 - sm2) / w)  # 0.5 * 0.8081283 = 0.4040641
    r_soil = f_soil * w
    r_gw = (1 - f_soil) * 0.3 * w
    q_fast = (1 - f_soil) * 0.7 * w
    q_base = 0.01 * 100.0
    gw = 100.0 + r_gw - q_base
    gpp = tr * 3.0 * 400.0 * 0.0015
    npp = gpp * 0.4
    ra = gpp - npp
    rh = 2.0 ** ((tc - 15.0) / 10.0) * 1.0  # = 0.5
    expected = {
        "snowfall": snowfall,
        "rainfall": rain,
        "snowmelt": melt,
        "swe": swe,
        "ei": ei,
        "es": es,
        "tr": tr,
        "et": ei + es + tr,
        "water_input": w,
        "r_soil": r_soil,
        "r_gw": r_gw,
        "q_fast": q_fast,
        "q_base": q_base,
        "runoff": q_fast + q_base,
        "sm": sm2 + r_soil,
        "gw": gw,
        "tws": swe + sm2 + r_soil + gw,
        "gpp": gpp,
        "npp": npp,
        "ra": ra,
        "rh": rh,
        "ter": ra + rh,
        "nee": ra + rh - gpp,
        "nep": gpp - ra - rh,
        "fapar": 0.5,
    }
    assert set(expected) == set(out)
    for key, value in expected.items():
        assert math.isclose(out[key].item(), value, rel_tol=2e-6, abs_tol=1e-6), (key, out[key].item(), value)
    assert math.isclose(es, 0.50530612, rel_tol=1e-7)
    assert math.isclose(gpp, 1.45528163, rel_tol=1e-7)
    assert new.sm.item() == out["sm"].item()


def test_snow_below_freezing_and_melt_limited_by_pack():
    tc = _t([-5.0, 0.0, 3.0, 20.0])
    snowfall, melt, swe = physics.snow(_t([0.0, 1.0, 2.0, 4.0]), _t([10.0] * 4), tc, _t([1.0] * 4), _t(0.8))
    assert snowfall.tolist() == [8.0, 8.0, 0.0, 0.0]  # Tc <= 0 is snow, including exactly 0 degC
    assert melt.tolist() == [0.0, 0.0, 2.0, 4.0]  # melt is limited by the pack
    assert swe.tolist() == [8.0, 9.0, 0.0, 0.0]
    assert physics.rain(_t([10.0, 10.0]), _t([0.0, 0.1])).tolist() == [0.0, 10.0]


def test_recharge_guard_when_no_water_and_full_soil():
    r_soil, r_gw, q_fast = physics.recharge(
        _t([0.0, 10.0]), _t([20.0, 100.0]), _t([100.0, 100.0]), _t([0.9, 0.9]), _t([0.5, 0.5])
    )
    assert r_soil.tolist() == [0.0, 0.0]  # no water, and no room in a full soil
    assert r_gw.tolist() == [0.0, 5.0] and q_fast.tolist() == [0.0, 5.0]


def test_negative_radiation_gives_no_evaporation():
    assert physics.available_energy(_t([-150.0, 0.0])).tolist() == [0.0, 0.0]


def test_respiration_reference_temperature_and_q10():
    rh = physics.heterotrophic_respiration(_t([15.0, 25.0, 5.0]), _t([2.0, 2.0, 2.0]), _t(1.5))
    assert torch.allclose(rh, _t([2.0, 3.0, 2.0 / 1.5]))


def test_physics_gradients_flow_to_every_parameter():
    prev, forcing, params, static, consts = _random_day(3, 32, False)
    leaves = [p.clone().requires_grad_(True) for p in (*params, *static, *consts)]
    n_p, n_s = len(params), len(static)
    p2 = DailyParams(*leaves[:n_p])
    s2 = StaticParams(*leaves[n_p : n_p + n_s])
    c2 = Constants(*leaves[n_p + n_s :])
    _, out = physics.day_step(prev, forcing, p2, s2, c2)
    (out["gpp"].sum() + out["et"].sum() + out["nee"].sum() + out["runoff"].sum() + out["swe"].sum()).backward()
    names = DailyParams._fields + StaticParams._fields + Constants._fields
    for name, leaf in zip(names, leaves, strict=True):
        assert leaf.grad is not None and torch.isfinite(leaf.grad).all(), name
        assert leaf.grad.abs().sum() > 0, f"no gradient reaches {name}"
