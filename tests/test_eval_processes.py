"""Process diagnostics (rain pulse, light response, seasonal peak) on hand-made series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from h2cm.evaluation.processes import (
    RainEvents,
    event_windows,
    light_response,
    peak_month,
    pulse_ratio,
    rain_events,
    running_mean,
)

SPEC = RainEvents(rain_mm=5.0, dry_days=10, dry_mm=3.0, before=2, after=2, window=3)


def test_rain_events_find_the_first_rain_after_a_dry_spell():
    prec = np.zeros((40, 3))
    prec[15, 0] = 8.0  # after 15 dry days: an event
    prec[17, 0] = 9.0  # two days later: same dry season, not a second event
    prec[5, 1] = 8.0  # only 5 days into the series: no full dry spell before it
    prec[20, 1] = 4.0  # too little rain
    prec[12, 2] = 2.5  # 2.5 mm in the dry spell (< 3): still dry ...
    prec[22, 2] = 6.0  # ... so this rain is an event
    prec[38, 2] = 20.0  # too close to the end for a full window
    tair = np.full((40, 3), 290.0)
    assert rain_events(prec, tair, SPEC) == [(15, 0), (22, 2)]
    assert rain_events(prec, np.full((40, 3), 260.0), SPEC) == []  # frozen: snow, not rain


def test_pulse_ratio_by_hand():
    x = np.ones((30, 2))
    x[10:12, 0] = [4.0, 2.0]  # event at day 10, cell 0: mean(4, 2) / mean(1, 1) = 3
    x[20:22, 1] = [1.0, 2.0]  # event at day 20, cell 1: baseline days 18-19 = (1, 0.5)
    x[18:20, 1] = [1.0, 0.5]
    events = [(10, 0), (20, 1)]
    assert pulse_ratio(x, events, SPEC) == pytest.approx((3.0 + 1.5 / 0.75) / 2)
    w = event_windows(x, events, SPEC)
    assert w.shape == (2, 2 + 1 + 3) and w[0].tolist() == [1.0, 1.0, 4.0, 2.0, 1.0, 1.0]
    assert np.isnan(pulse_ratio(x, [], SPEC))


def test_light_response_recovers_a_known_slope():
    rng = np.random.default_rng(0)
    days, cells = 120, 4
    seasonal = np.linspace(100, 200, days)[:, None]
    rn = seasonal + 30.0 * rng.standard_normal((days, cells))
    gpp = 0.02 * rn + 1.0  # every watt counts: slope 0.02, r 1
    res = light_response(gpp, rn, np.ones(days, dtype=bool))
    assert res["slope"] == pytest.approx(0.02, rel=1e-9) and res["r"] == pytest.approx(1.0) and res["cells"] == 4
    flat = light_response(np.tile(np.linspace(1, 3, days)[:, None], (1, cells)), rn, np.ones(days, dtype=bool))
    assert abs(flat["r"]) < 0.1  # a smooth seasonal rise alone is not a light response


def test_running_mean_and_peak_month():
    x = np.arange(5.0)[:, None]
    np.testing.assert_allclose(running_mean(x, 3)[:, 0], [0.5, 1.0, 2.0, 3.0, 3.5])
    months = pd.date_range("2015-01-01", periods=24, freq="MS")
    series = np.where(months.month == 10, 1.0, 0.0)[:, None] + np.zeros((1, 3))
    assert peak_month(series, months) == 10
