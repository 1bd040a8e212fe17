"""``h2cm evaluate`` on the tiny twin world: tables, truth metrics, constants, store reuse."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eval_fixtures import tiny_world
from h2cm.cli import main
from h2cm.constraints import MONTHLY_CONSTRAINT_KEYS
from h2cm.evaluation.evaluate import evaluate
from h2cm.evaluation.metrics import METRICS
from h2cm.evaluation.views import VIEWS
from h2cm.layout import EVAL_FILES
from h2cm.schema import CONSTANT_KEYS

pytestmark = pytest.mark.slow  # builds a world and an evaluated run per module


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory)


@pytest.fixture(scope="module")
def summary(world):
    return pd.read_csv(world["evaluation"] / "metrics_summary.csv")


def test_all_files_written(world):
    for name in EVAL_FILES:
        assert (world["evaluation"] / name).stat().st_size > 0, name
    assert not [p for p in world["evaluation"].iterdir() if p.name.startswith(".")]


def test_every_constraint_view_and_metric(summary):
    obs = summary[summary.reference == "obs"]
    for key in MONTHLY_CONSTRAINT_KEYS:
        for v in VIEWS:
            got = set(obs[(obs.target == key) & (obs.view == v)]["metric"])
            assert got == set(METRICS), (key, v)
    cue = obs[obs.target == "cue"]
    assert set(cue["view"]) == {"spatial"}
    assert (obs["n_folds"] == 2).all()
    assert (obs["min"] <= obs["median"] + 1e-12).all() and (obs["median"] <= obs["max"] + 1e-12).all()


def test_truth_metrics_cover_unconstrained_outputs(summary):
    truth = summary[(summary.reference == "truth") & (summary.view == "monthly") & (summary.metric == "r")]
    for key in ("ter", "rh", "ra", "tr", "sm", "gw", "q_base", "alpha_smelt"):
        assert key in set(truth.target), key
    static = summary[(summary.reference == "truth") & (summary.view == "spatial")]
    assert {"smmax", "alpha_ei"} <= set(static.target)


def test_constants_against_truth(world):
    c = pd.read_csv(world["evaluation"] / "constants.csv").set_index("constant")
    with xr.open_zarr(world["cube"], group="truth") as truth:
        for k in CONSTANT_KEYS:
            assert c.loc[k, "truth"] == pytest.approx(float(truth[k]), rel=1e-6)
            folds = [c.loc[k, "fold_0"], c.loc[k, "fold_1"]]
            assert c.loc[k, "median"] == pytest.approx(np.median(folds))


def test_markdown_and_summary_json(world):
    md = (world["evaluation"] / "metrics.md").read_text()
    assert "## Against observations" in md and "## Against the hidden truth" in md
    assert "| gpp | msc |" in md
    info = json.loads((world["evaluation"] / "summary.json").read_text())
    assert info["twin_world"] is True and info["n_test_cells"] == 5
    assert set(info["headline"]) >= {"tws", "gpp", "nee", "cue"}


def test_per_cell_skill(world):
    with xr.open_dataset(world["evaluation"] / "skill_cells.nc") as ds:
        assert ds["obs_gpp"].dims == ("view", "metric", "cell")
        assert ds.sizes["cell"] == 5
        r = ds["truth_gpp"].sel(view="monthly", metric="r").values
        assert np.isfinite(r).all() and (np.abs(r) <= 1).all()


@pytest.mark.slow
def test_reading_the_store_equals_simulating(world, tmp_path, capsys):
    code = main(
        [
            "evaluate",
            "--run",
            str(world["run"]),
            "--out",
            str(tmp_path / "ev"),
            "--maps-cells",
            "test",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "constraint" in printed and "gpp" in printed and "constants:" in printed
    a = pd.read_csv(world["evaluation"] / "metrics_folds.csv")
    b = pd.read_csv(tmp_path / "ev" / "metrics_folds.csv")
    merged = a.merge(b, on=["reference", "target", "view", "metric", "fold"])
    assert len(merged) == len(a) == len(b)
    np.testing.assert_allclose(merged["value_x"], merged["value_y"], rtol=1e-3, atol=1e-4, equal_nan=True)


@pytest.mark.slow
def test_a_store_that_does_not_cover_the_cells_is_not_used(world, tmp_path, capsys):
    from h2cm.evaluation.predict import predict

    partial = predict(world["run"], tmp_path / "p.zarr", cells=[0], threads=1, progress=False)
    evaluate(world["run"], out=tmp_path / "ev", maps_cells="test", simulations=partial, threads=1, progress=False)
    assert "simulating instead" in capsys.readouterr().out
