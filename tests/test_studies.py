"""The studies of issue #6 at tiny sizes: ``h2cm study site`` on the real FLUXNET file and
``h2cm study twin --size tiny`` write their tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from h2cm.cli import main
from h2cm.evaluation.views import anomalies, month_of_year, msc
from training_fixtures import tiny_cube

# the real tower beside the repository (as in CI: ../shared next to the clone); skipped without it
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FLUXNET_FILE = SHARED / "fluxnet" / "FLX_US-AR1_FLUXNET2015_SUBSET_DD_2009-2012_1-3.csv"
SMALL = ["network.lstm_hidden=8", "network.fc_hidden=8"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
@pytest.mark.skipif(not FLUXNET_FILE.exists(), reason="FLUXNET test file not available")
def test_site_study_on_the_real_tower(tmp_path):
    out = tmp_path / "site"
    # overrides after the options: collected although argparse has closed the positional list
    # eager: compiling blocks of days for one epoch costs minutes (223 s vs 14 s here)
    rc = main(["study", "site", str(FLUXNET_FILE), "--out", str(out), "--epochs", "1", *SMALL, "train.compile=false"])
    assert rc == 0
    text = (out / "results.md").read_text()
    assert "held-out year" in text and "2012" in text
    rows = _rows(out / "metrics.csv")
    seen = {(r["variable"], r["model"], r["scale"]) for r in rows}
    for var in ("GPP", "NEE", "ET", "RECO"):
        for model in ("hybrid", "constant", "lstm"):
            for scale in ("daily", "monthly"):
                assert (var, model, scale) in seen
    assert all(r["r"] not in ("", "nan") for r in rows)
    assert (out / "site_daily.png").stat().st_size > 0 and (out / "site_monthly.png").exists()


@pytest.mark.slow
def test_twin_study_tiny_writes_its_tables(tmp_path):
    out = tmp_path / "twin"
    args = ["study", "twin", "--size", "tiny", "--cube", str(tiny_cube()), "--out", str(out), "--epochs", "1"]
    assert main([*args, *SMALL, "data.max_train_cells=16", "train.initial_validation=false"]) == 0
    text = (out / "results.md").read_text()
    for heading in ("Acceptance", "against the hidden truth", "Recovered global constants", "Rh after the first rains"):
        assert heading in text
    rows = _rows(out / "skill.csv")
    truth = {(r["variable"].split(" ")[0], r["model"]) for r in rows if r["reference"] == "truth"}
    assert ("ter", "hybrid") in truth and ("rh", "lstm") in truth and ("sm", "constant") in truth
    assert ("sm", "lstm") not in truth  # the LSTM has no soil moisture
    consts = {r["model"]: r for r in _rows(out / "constants.csv")}
    assert {"truth", "hybrid", "hybrid_priors", "constant"} <= set(consts) and "lstm" not in consts
    assert _rows(out / "acceptance.csv")
    parts = {r["variable"] for r in rows if r["model"] == "hybrid"}
    assert {"nee (seasonal cycle)", "nee (anomaly)", "rh (seasonal cycle)"} <= parts
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["fold_seconds"]) == {"hybrid", "hybrid_priors", "constant", "lstm"}
    assert summary["fold_seconds"]["hybrid"] > 0 and min(summary["fold_seconds"].values()) >= 0
    # a second call with --resume keeps the trained folds: same skill, no training
    assert main([*args, "--resume", *SMALL, "data.max_train_cells=16", "train.initial_validation=false"]) == 0
    again = json.loads((out / "summary.json").read_text())
    assert again["fold_seconds"] == summary["fold_seconds"]
    assert _rows(out / "skill.csv") == rows


def test_seasonal_cycle_and_anomaly_parts_by_hand():
    # the split the twin study scores NEE, Rh and GPP with: two years of two cells, Jan and Feb
    months = pd.DatetimeIndex(["2002-01-01", "2002-02-01", "2003-01-01", "2003-02-01"])
    x = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [6.0, 60.0]])
    np.testing.assert_allclose(
        msc(x, months)[month_of_year(months)], [[2.0, 20.0], [4.0, 40.0], [2.0, 20.0], [4.0, 40.0]]
    )
    np.testing.assert_allclose(anomalies(x, months), [[-1.0, -10.0], [-2.0, -20.0], [1.0, 10.0], [2.0, 20.0]])


def test_study_errors_exit_2(tmp_path, capsys):
    assert main(["study", "site", str(tmp_path / "missing_DD_.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "error" in capsys.readouterr().err
