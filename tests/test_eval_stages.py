"""The stages of ``h2cm evaluate`` and their contract with the report (h2cm.layout.EVAL_FILES)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eval_fixtures import LAT, LON, make_cube, make_run, tiny_world
from h2cm.evaluation.evaluate import evaluate
from h2cm.evaluation.plan import plan_evaluation
from h2cm.layout import EVAL_FILES

pytestmark = pytest.mark.slow


def test_evaluation_folder_is_exactly_the_contract(tmp_path_factory):
    ev = tiny_world(tmp_path_factory)["evaluation"]
    assert sorted(p.name for p in ev.iterdir()) == sorted(EVAL_FILES)


def test_default_daily_cell_is_a_test_cell_and_an_explicit_one_is_honoured(tmp_path_factory):
    world = tiny_world(tmp_path_factory)
    plan = plan_evaluation(world["run"], maps_cells="all")
    assert plan.fig_cell in set(plan.test.tolist())
    # an explicit cell may be any mapped cell: the nearest one is taken
    far = [c for c in plan.map_cells if c not in set(plan.test.tolist())][0]
    plan = plan_evaluation(world["run"], maps_cells="all", cell=(plan.lat[far], plan.lon[far]))
    assert plan.fig_cell == far
    info = json.loads((world["evaluation"] / "summary.json").read_text())
    assert info["daily_cell"]["cell"] in set(plan.test.tolist())


def test_a_truth_group_without_usable_variables_is_said_loudly(tmp_path, capsys):
    cube = make_cube(tmp_path / "cube.zarr", truth=False)
    unrelated = xr.Dataset({"soil_carbon": (("lat", "lon"), np.ones((len(LAT), len(LON)), np.float32))})
    unrelated.assign_coords(lat=LAT, lon=LON).to_zarr(cube, group="truth", mode="w")
    run = make_run(tmp_path / "run", cube)
    ev = evaluate(run, out=tmp_path / "ev", maps_cells="test", threads=1, progress=False)
    err = capsys.readouterr().err
    assert "warning: no skill against the hidden truth" in err and "soil_carbon" in err
    info = json.loads((ev / "summary.json").read_text())
    assert info["twin_world"] and "soil_carbon" in info["truth_unused"]
    assert "Not scored:" in (ev / "metrics.md").read_text()


def test_a_truth_variable_off_the_layout_is_named_and_the_rest_scored(tmp_path, capsys):
    cube = make_cube(tmp_path / "cube.zarr")
    truth = xr.open_zarr(cube, group="truth").load()
    truth["gpp"] = truth["gpp"].isel(time=0, drop=True)  # a daily output without its time axis
    truth.to_zarr(tmp_path / "t.zarr", mode="w")
    import shutil

    shutil.rmtree(cube / "truth")
    xr.open_zarr(tmp_path / "t.zarr").load().to_zarr(cube, group="truth", mode="w")
    run = make_run(tmp_path / "run", cube)
    ev = evaluate(run, out=tmp_path / "ev", maps_cells="test", threads=1, progress=False)
    err = capsys.readouterr().err
    assert "not scored against the truth: truth/gpp: dims ('lat', 'lon')" in err
    info = json.loads((ev / "summary.json").read_text())
    assert info["truth_unused"] is None and info["truth_skipped"][0].startswith("truth/gpp")
    s = pd.read_csv(ev / "metrics_summary.csv")
    truth_targets = set(s[s.reference == "truth"].target)
    assert "gpp" not in truth_targets and {"nee", "ter", "et"} <= truth_targets


def test_the_fold_ensemble_is_scored_against_the_truth(tmp_path_factory):
    """summary.json's ensemble_truth: r of the mean of the folds (area-weighted mean over test
    cells) against the truth, recomputed here by hand from monthly_test.nc. Three folds, so that
    the mean differs from the median."""
    base = tmp_path_factory.mktemp("three_folds")
    run = make_run(base / "run", make_cube(base / "cube.zarr"), folds=3)
    ev = evaluate(run, out=base / "ev", maps_cells="test", threads=1, progress=False)
    info = json.loads((ev / "summary.json").read_text())
    ens = info["ensemble_truth"]
    assert {"gpp", "nee"} <= set(ens) and set(ens["nee"]) == {"monthly", "msc", "anomaly"}
    with xr.open_dataset(ev / "monthly_test.nc") as ds:
        assert ds.sizes["fold"] == 3
        w = ds["cell_area"].values
        for k in ("gpp", "nee"):
            model = (ds[f"model_{k}"].mean("fold").values * w).sum(-1) / w.sum()
            truth = (ds[f"truth_{k}"].values * w).sum(-1) / w.sum()
            moy = pd.DatetimeIndex(ds["month"].values).month.values
            msc = [np.array([x[moy == m].mean() for m in range(1, 13)]) for x in (model, truth)]
            assert ens[k]["monthly"] == pytest.approx(np.corrcoef(model, truth)[0, 1], abs=1e-6)
            assert ens[k]["msc"] == pytest.approx(np.corrcoef(*msc)[0, 1], abs=1e-6)
    from h2cm.evaluation.evaluate import summary_text

    summary = pd.read_csv(ev / "metrics_summary.csv")
    constants = pd.read_csv(ev / "constants.csv")
    text = summary_text(summary, constants, info)
    assert f"nee={ens['nee']['msc']:.3f}" in text.split("fold ensemble (mean of folds)")[1]
