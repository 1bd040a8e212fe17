"""``h2cm predict``, ``evaluate`` and ``report`` on a run of the pure LSTM baseline (``model: lstm``):
the store holds only what the LSTM predicts, evaluation computes what it can and lists what it
leaves out, the report notes the figures it cannot draw, and asking for an unpredicted variable
is a clear error."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from h2cm.baselines import LSTM_OUTPUT_KEYS, LSTMBaseline
from h2cm.cli import main
from h2cm.data.cube import land_cells, load_cells, open_cube
from h2cm.evaluation.evaluate import evaluate
from h2cm.evaluation.predict import predict
from h2cm.evaluation.rundir import RunDir
from h2cm.layout import EVAL_FILES
from h2cm.report.html import build_report
from h2cm.schema import CONSTANT_KEYS, STATIC_PARAMETER_KEYS, variable
from h2cm.training.cv import run_cv
from training_fixtures import tiny_overrides

pytestmark = pytest.mark.slow  # builds a trained run or a world per module

STATS = ("", "_min", "_max", "_fold")


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    """Two folds of the LSTM trained for one epoch on the tiny twin world, their daily store at
    the test cells and the evaluation (about 5 s)."""
    base = tmp_path_factory.mktemp("lstm_run")
    ov = tiny_overrides("model=lstm", "train.epochs=1", "train.initial_validation=false")
    res = run_cv("demo", base / "run", folds="0-1", jobs=1, overrides=ov)
    assert all(isinstance(m, LSTMBaseline) for m in RunDir.open(res.run_dir).load_models())
    run = base / "run"
    sims = predict(run, base / "sims.zarr", threads=1, progress=False)
    ev = evaluate(run, maps_cells="test", threads=1, progress=False)
    return {"base": base, "run": run, "sims": sims, "evaluation": ev}


def test_predict_writes_exactly_the_lstm_variables_with_cf_attributes(lstm_run):
    with xr.open_zarr(lstm_run["sims"]) as ds:
        assert set(ds.data_vars) == {f"{k}{s}" for k in LSTM_OUTPUT_KEYS for s in STATS}
        assert not {*STATIC_PARAMETER_KEYS, *CONSTANT_KEYS, "sm", "rh", "ter", "tr"} & set(ds.variables)
        assert ds.attrs["h2cm_model"] == "lstm" and "LSTM" in ds.attrs["title"]
        for key in LSTM_OUTPUT_KEYS:
            spec = variable(key)
            for name in (f"{key}{s}" for s in STATS):
                assert ds[name].attrs["units"] == spec.units, name
                assert ds[name].attrs["long_name"].startswith(spec.long_name), name
            assert ds[key].dims == ("time", "lat", "lon") and "cell_methods" in ds[key].attrs
        # finite at the test cells, NaN elsewhere; fold 0 equals the model run directly (with spin-up)
        rd = RunDir.open(lstm_run["run"])
        cube = open_cube(rd.cube_path)
        ii, jj = land_cells(cube)
        test = rd.test_cells
        gpp = ds["gpp_fold"].values  # (fold, time, lat, lon)
        assert np.isfinite(gpp[:, :, ii[test], jj[test]]).all()
        assert np.isfinite(gpp[0, 0]).sum() == len(test)
        data = load_cells(cube, cell_index=test, period=rd.period)
        with torch.no_grad():
            sim = rd.load_models()[0](data.forcing, data.static)
        for key in ("gpp", "tws", "fapar"):
            stored = ds[f"{key}_fold"].values[0][:, ii[test], jj[test]]
            np.testing.assert_allclose(stored, sim.outputs[key].numpy(), rtol=1e-4, atol=1e-5)


def test_predict_cli_monthly_netcdf_without_folds(lstm_run, tmp_path):
    out = tmp_path / "m.nc"
    args = ["predict", "--run", str(lstm_run["run"]), "--out", str(out), "--monthly", "--no-folds", "--quiet"]
    assert main([*args, "--threads", "1"]) == 0
    with xr.open_dataset(out) as ds:
        bounds = {"time_bnds", "lat_bnds", "lon_bnds"}  # CF bounds, plain variables in NetCDF (outputs.py)
        assert set(ds.data_vars) == {f"{k}{s}" for k in LSTM_OUTPUT_KEYS for s in STATS[:3]} | bounds
        assert ds.sizes["time"] == 6 and ds["et"].attrs["cell_methods"] == "time: mean"
    assert [p.name for p in tmp_path.iterdir()] == ["m.nc"]


def test_asking_for_a_variable_the_lstm_does_not_predict_is_a_clear_error(lstm_run, tmp_path):
    with pytest.raises(ValueError) as err:
        predict(lstm_run["run"], tmp_path / "x.zarr", keys=["gpp", "rh", "sm"], progress=False)
    msg = str(err.value)
    assert "rh, sm" in msg and str(lstm_run["run"]) in msg and "pure LSTM baseline" in msg
    assert "predicts only " + ", ".join(LSTM_OUTPUT_KEYS) in msg
    assert not list(tmp_path.iterdir())  # nothing written
    out = predict(lstm_run["run"], tmp_path / "y.zarr", keys=["gpp"], per_fold=False, threads=1, progress=False)
    with xr.open_zarr(out) as ds:
        assert set(ds.data_vars) == {"gpp", "gpp_min", "gpp_max"}


def test_evaluate_scores_what_the_lstm_predicts_and_lists_the_rest(lstm_run):
    ev = lstm_run["evaluation"]
    for name in EVAL_FILES:
        assert (ev / name).is_file(), name
    s = pd.read_csv(ev / "metrics_summary.csv")
    obs = s[(s.reference == "obs") & (s.metric == "r")]
    for key, view in (("gpp", "msc"), ("et", "msc"), ("tws", "monthly"), ("cue", "spatial")):
        r = obs[(obs.target == key) & (obs.view == view)]["median"]
        assert len(r) == 1 and np.isfinite(r.iloc[0]) and abs(r.iloc[0]) <= 1, key
    truth = set(s[s.reference == "truth"].target)
    assert {"gpp", "et", "npp", "tws"} <= truth and not truth & {"rh", "ter", "tr", "sm", "smmax", "alpha_t"}
    assert pd.read_csv(ev / "constants.csv").empty  # the header only: the LSTM has no constants
    info = json.loads((ev / "summary.json").read_text())
    assert info["model"] == "lstm" and info["outputs"] == list(LSTM_OUTPUT_KEYS) and info["parameters"] == []
    skipped = {d["what"]: d["missing"] for d in info["not_evaluated"]}
    assert {"rh", "ter", "tr", "sm"} <= set(skipped["skill against the hidden truth"])
    assert skipped["learned global constants"] == list(CONSTANT_KEYS)
    assert any(w.startswith("derived efficiency WUE") and m == ["tr"] for w, m in skipped.items())
    assert set(skipped["daily series at one cell (Fig. 7)"]) == {"rh", "ter"}
    md = (ev / "metrics.md").read_text()
    assert "## Not evaluated" in md and "pure LSTM baseline" in md and "| gpp | msc |" in md
    assert "None: a pure LSTM baseline (model: lstm) has no learned global constants" in md
    with xr.open_dataset(ev / "maps.nc") as maps:
        assert {"model_gpp", "model_cue", "model_lue", "model_pue", "model_apar"} <= set(maps.data_vars)
        assert not {"model_wue", "model_tr", "model_ter"} & set(maps.data_vars)
        assert np.isfinite(maps["model_gpp"].values).all()
    with xr.open_dataset(ev / "regional.nc") as reg:
        assert "model_gpp" in reg and "model_ter" not in reg


def test_evaluate_cli_reads_the_predict_store(lstm_run, tmp_path, capsys):
    rd = RunDir.open(lstm_run["run"])
    cell = load_cells(open_cube(rd.cube_path), cell_index=rd.test_cells[:1])
    lat, lon = float(cell.lat[0]), float(cell.lon[0])
    args = ["evaluate", "--run", str(rd.path), "--out", str(tmp_path / "ev"), "--maps-cells", "test"]
    args += ["--simulations", str(lstm_run["sims"]), "--cell", f"{lat},{lon}", "--threads", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "simulating instead" not in printed
    assert "constants: none; a pure LSTM baseline" in printed and "Not evaluated for want of" in printed
    a = pd.read_csv(lstm_run["evaluation"] / "metrics_folds.csv")
    b = pd.read_csv(tmp_path / "ev" / "metrics_folds.csv")
    merged = a.merge(b, on=["reference", "target", "view", "metric", "fold"])
    assert len(merged) == len(a) == len(b)
    np.testing.assert_allclose(merged["value_x"], merged["value_y"], rtol=1e-3, atol=1e-4, equal_nan=True)


def test_report_notes_what_it_cannot_show(lstm_run):
    index = build_report(lstm_run["run"], out=lstm_run["base"] / "report", progress=False)
    folder = index.parent
    for name in ("skill_bars.png", "maps_gpp_nee.png", "maps_efficiency.png", "regional_msc.png", "daily_cell.png"):
        assert (folder / name).stat().st_size > 5000, name
    assert not (folder / "constants.png").exists()
    page = index.read_text()
    assert "Not evaluated" in page and "has no learned global constants" in page
    assert "WUE: not shown for tr, which this run's pure LSTM baseline (model: lstm) does not produce" in page
