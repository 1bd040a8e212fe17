"""h2cm study towers: leave-one-site-out and temporal split end to end on three tiny made-up towers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from h2cm.cli import main
from test_towers import dd_table, write

pytestmark = pytest.mark.slow
SMALL = ["network.lstm_hidden=8", "network.fc_hidden=8"]


def _dry_site(seed: int) -> pd.DataFrame:
    """Two years with a rain-free summer and a first autumn rain on 1 October (a rain-pulse event)."""
    df = dd_table("2010-01-01", 730, seed=seed)
    t = pd.to_datetime(df["TIMESTAMP"])
    summer = (t.dt.month >= 6) & (t.dt.month <= 9)
    df.loc[summer, "P_F"] = 0.0
    df.loc[(t.dt.month == 10) & (t.dt.day == 1), "P_F"] = 20.0
    return df


def test_towers_study_end_to_end(tmp_path, capsys):
    sites = tmp_path / "sites.csv"
    sites.write_text("site,lat,lon\nUS-SRM,31.8,-110.9\nXX-Bbb,50.0,10.0\nXX-Ccc,60.0,25.0\n")
    files = [
        write(_dry_site(0), tmp_path / "FLX_US-SRM_DD.csv"),
        write(dd_table(seed=1), tmp_path / "FLX_XX-Bbb_DD.csv"),
        write(dd_table(seed=2), tmp_path / "FLX_XX-Ccc_DD.csv"),
    ]
    out = tmp_path / "study"
    argv = ["study", "towers", *map(str, files), "--out", str(out), "--sites", str(sites), "--epochs", "1",
            "--seeds", "0", "--jobs", "1", "--no-plots", *SMALL]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"] == 3 * 4  # 3 kinds x (3 held-out sites + temporal)
    metrics = pd.read_csv(out / "metrics.csv")
    loso = metrics[(metrics["split"] == "loso") & (metrics["site"] == "XX-Bbb")]
    assert set(loso["kind"]) == {"hybrid", "constant", "lstm"}
    assert set(loso["scale"]) == {"daily", "monthly", "msc", "anomaly"}
    temporal = metrics[(metrics["split"] == "temporal") & (metrics["scale"] == "monthly")]
    assert (temporal[temporal["site"] != "pooled"]["n"] <= 12).all()  # the last year only
    pooled = metrics[(metrics["site"] == "pooled") & (metrics["scale"] == "monthly") & (metrics["split"] == "loso")]
    assert set(pooled["variable"]) == {"NEE", "GPP", "ET", "RECO"} and np.isfinite(pooled["r"]).all()
    assert len(pooled[pooled["kind"] == "hybrid"]) == 4  # one pooled row per kind, seed and variable ...
    by_site = metrics[(metrics["split"] == "loso") & (metrics["scale"] == "monthly") & (metrics["kind"] == "hybrid")]
    nee = pooled[(pooled["kind"] == "hybrid") & (pooled["variable"] == "NEE")]
    assert int(nee["n"].iloc[0]) == by_site[(by_site["variable"] == "NEE") & (by_site["site"] != "pooled")]["n"].sum()
    pulse = pd.read_csv(out / "rain_pulse.csv")
    assert pulse["dates"].iloc[0] == "2010-10-01 2011-10-01"
    assert list(pulse["site"]) == ["US-SRM"] and int(pulse["events"].iloc[0]) == 2  # 1 October 2010 and 2011
    text = (out / "results.md").read_text()
    assert "Leave-one-site-out: pooled" in text and "| NEE | r |" in text
    # --resume semantics: a second call trains nothing
    assert main(argv) == 0
    assert "12 trainings (12 already done)" in capsys.readouterr().out


def test_site_study_takes_a_fluxdatakit_file(tmp_path):
    df = dd_table("2010-01-01", 730).drop(columns=["VPD_F", "LW_IN_F", "NETRAD", "RECO_NT_VUT_REF"])
    df["TMIN_F_MDS"], df["TMAX_F_MDS"] = df["TA_F"] - 5, df["TA_F"] + 5
    df["TA_F_DAY"], df["VPD_F_DAY"] = df["TA_F"] + 2, 8.0
    path = write(df, tmp_path / "FLX_XX-Fdk_DD_2010-2011.csv")
    from h2cm.studies.site import run_site

    run_site(path, tmp_path / "site", epochs=1, plots=False, lat=31.8, lon=-110.9,
             overrides=["train.compile=false", *SMALL])  # fmt: skip
    metrics = pd.read_csv(tmp_path / "site" / "metrics.csv")
    assert set(metrics["variable"]) == {"GPP", "NEE", "ET"}  # no RECO in this file: not scored
    assert set(metrics["model"]) == {"hybrid", "constant", "lstm"}
