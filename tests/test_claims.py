"""The claims study's metrics on hand-made arrays, and ``h2cm study claims --quick`` end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from h2cm.cli import main
from h2cm.studies import claims_analysis as ca
from h2cm.studies.claims_report import acceptance
from h2cm.studies.claims_sim import Sims

MONTHS = pd.date_range("2015-01-01", periods=24, freq="MS")


def test_global_and_pooled_views_by_hand():
    # two cells, two years; cell 1 has three times the area of cell 0
    base = np.sin(np.arange(24) / 12 * 2 * np.pi)
    ref = np.stack([base, 2 * base + 1], axis=1)
    area = np.array([1.0, 3.0])
    # a model that swaps the cells: its area-weighted mean (5 base + 1) / 4 against (7 base + 3) / 4
    # is perfectly correlated with the truth's (r 1, SDR 5/7), while per cell it is far off
    sim = ref[:, ::-1].copy()
    g = ca.compare(sim, ref, MONTHS, area, "monthly", "global")
    assert g["r"] == pytest.approx(1.0) and g["sdr"] == pytest.approx(5 / 7)
    same = ca.compare(ref, ref, MONTHS, area, "msc", "global")
    assert same["r"] == pytest.approx(1.0) and same["sdr"] == pytest.approx(1.0) and same["rmse"] == pytest.approx(0.0)
    pooled = ca.compare(sim, ref, MONTHS, area, "monthly", "pooled")
    expected = np.corrcoef(sim.ravel(), ref.ravel())[0, 1]
    assert pooled["r"] == pytest.approx(expected)
    # anomalies: the truth's second year is 0.5 higher (anomalies -0.25, +0.25); a model without
    # interannual variation has anomalies 0, hence RMSE 0.25 and no variability (SDR 0)
    trend = ref + np.repeat([0.0, 0.5], 12)[:, None]
    a = ca.compare(ref, trend, MONTHS, area, "anomaly", "pooled")
    assert a["rmse"] == pytest.approx(0.25) and a["sdr"] == pytest.approx(0.0, abs=1e-12)
    m = ca.compare(trend, trend, MONTHS, area, "anomaly", "global")
    assert m["r"] == pytest.approx(1.0)


def test_view_of_msc_is_broadcast_to_months():
    x = np.arange(24.0)[:, None]
    v = ca.view_of(x, MONTHS, "msc")
    assert v.shape == (24, 1) and v[0, 0] == pytest.approx(6.0) and v[12, 0] == pytest.approx(6.0)


def test_regional_cycles_and_r2_by_hand():
    lat = np.array([-15.5, -16.5, 60.5])  # two southern African cells, one Siberian
    lon = np.array([27.5, 27.5, 100.5])
    regions = ca.cell_regions(lat, lon)
    assert regions.tolist() == [6, 6, 7]
    area = np.array([1.0, 1.0, 1.0])
    cyc = np.tile(np.arange(12.0), 2)[:, None] * np.ones((1, 3))
    truth = {"nee": cyc}
    model = {"nee": cyc + 1.0}  # right shape, biased by 1
    cycles = ca.regional_cycles({"truth": truth, "m": model}, area, regions, MONTHS)
    assert set(cycles) == {"SAfr", "EABo"}
    np.testing.assert_allclose(cycles["SAfr"]["truth"]["nee"], np.arange(12.0))
    rows = ca.regional_table(cycles)
    safr = next(r for r in rows if r["region"] == "SAfr")
    # R2 = 1 - SSE / SST = 1 - 12 * 1 / sum((k - 5.5)^2) = 1 - 12 / 143
    assert safr["r2"] == pytest.approx(1 - 12 / 143) and safr["r"] == pytest.approx(1.0) and safr["rmse"] == 1.0
    assert safr["peak_month"] == 12


def test_efficiency_and_constants_rows():
    means = {
        "truth": {
            "npp": np.array([1.0, 2.0, 3.0]),
            "gpp": np.array([2.0, 4.0, 6.0]),
            "tr": np.ones(3),
            "apar": np.ones(3),
        },
        "m": {"npp": np.array([1.0, 2.0, 3.0]), "gpp": np.array([3.0, 4.0, 5.0]), "tr": np.ones(3), "apar": np.ones(3)},
    }
    rows = {r["diagnostic"]: r for r in ca.efficiency_rows(means, np.array([2.0, 2.0, 2.0]))}
    assert rows["pue"]["r"] == pytest.approx(1.0) and rows["pue"]["rmse"] == pytest.approx(0.0)  # NPP / P
    assert rows["wue"]["bias"] == pytest.approx(0.0)  # mean GPP / T is 4 for both
    sims = Sims(np.arange(2), np.arange(2), MONTHS, MONTHS, pd.DatetimeIndex([]))
    sims.constants = {"q10": np.array([1.4, 1.6, 1.5]), "beta_co2": np.array([1e-3, 2e-3, 3e-3])}
    cons = ca.constants_rows({"h": sims}, {"q10": 1.9, "beta_co2": 0.0011}, {"q10": 1.5, "beta_co2": 0.0015})
    h = cons[-1]
    assert (h["q10"], h["q10_min"], h["q10_max"], h["folds"]) == (1.5, 1.4, 1.6, 3)


def test_acceptance_judges_each_criterion():
    h, c, lstm = "hybrid (seed 0)", "constant (seed 0)", "lstm (seed 0)"
    skill = [
        {"model": h, "variable": v, "reference": "truth", "period": "oco2", "view": view, "aggregation": how, "r": 0.97}
        for v in ("nee", "gpp")
        for view in ("monthly", "msc")
        for how in ("pooled", "global")
    ]
    fluxes = [
        {"model": m, "variable": v, "period": p, "aggregation": how, "r": r}
        for m, r in ((h, 0.96), (c, 0.5), (lstm, 0.97))
        for v in ("ter", "rh", "ra", "npp", "t_et")
        for p in ("oco2 monthly", "oco2 msc")
        for how in ("pooled", "global")
    ]
    regional = [{"region": "SAfr", "source": h, "variable": "nee", "r2": 0.8}]
    pulses = [{"cells": "test", "source": h, "rh_ratio": 2.5}]
    rows = {(r["criterion"], r["aggregation"]): r["met"] for r in acceptance(0, skill, fluxes, regional, pulses)}
    assert rows[("NEE monthly r", "pooled")] == "yes" and rows[("RH msc r", "global")] == "yes"
    assert rows[("rain-pulse ratio of Rh (test cells)", "events")] == "yes"
    assert rows[("Southern Africa NEE seasonal-cycle R2", "region")] == "NO"  # 0.8 < 0.9
    assert rows[("hybrid beats both baselines on ter (r)", "pooled")] == "NO"  # the LSTM has 0.97 > 0.96


@pytest.mark.slow
def test_claims_study_quick_end_to_end(tmp_path):
    out = tmp_path / "claims"
    assert main(["study", "claims", "--quick", "--out", str(out), "--jobs", "1", "--seeds", "0,1"]) == 0
    for name in ("results.md", "test_skill.csv", "regional.csv", "pulses.csv", "acceptance.csv", "summary.json"):
        assert (out / name).exists(), name
    for fig in ("regional_cycles", "rain_pulse", "efficiency", "constants", "nee_test_series"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 1000, fig
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and {a["seed"] for a in summary["acceptance"]} == {0, 1}
    assert "hybrid_priors/0" in summary["runs"] and "hybrid_priors/1" not in summary["runs"]
    text = (out / "results.md").read_text()
    assert "Paper says / we find (seed 1)" in text and "rain pulse" in text
    # resume: nothing is trained or simulated again, the tables are the same
    before = (out / "acceptance.csv").read_text()
    assert main(["study", "claims", "--quick", "--out", str(out), "--jobs", "1", "--seeds", "0,1", "--resume"]) == 0
    assert (out / "acceptance.csv").read_text() == before
