"""``h2cm probe``: controlled experiments on a trained run (rain pulse, response curves) with the
twin world's truth run through the same experiments.

Runs of random-weight models (hybrid, constant, pure LSTM) on the tiny twin world, one year."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from h2cm.cli import main
from h2cm.cli.probe import probe_with_figures
from h2cm.data.cube import load_cells, open_cube
from h2cm.data.splits import Split
from h2cm.data.synth.truth import run_truth
from h2cm.evaluation.probe import CURVES, TABLES, dry_season_months, probe, pulse_forcing
from h2cm.evaluation.probe_truth import truth_run, truth_static
from h2cm.kinds import build_model
from h2cm.report.probe_figures import report_section
from h2cm.schema import FORCING_KEYS
from h2cm.toy import toy_model_statistics
from h2cm.training.checkpoint import model_payload, save_checkpoint
from training_fixtures import tiny_cube

pytestmark = pytest.mark.slow  # builds a trained run or a world per module

START, END = "2016-01-01", "2016-12-31"
FILES = {"pulse.csv", "curves.csv", "pulse.png", "curves.png", "summary.json"}
P = FORCING_KEYS.index("prec")


def make_run(path, cube, kind: str, folds: int = 2):
    """A run of random-weight ``kind`` models (tiny networks) normalised on the cube's cells;
    test cells: four southern African cells and two Siberian ones."""
    data = load_cells(open_cube(cube, dask=False), period=(START, END))
    south = [i for i in range(data.n_cells) if data.lat[i] < 0]
    north = [i for i in range(data.n_cells) if data.lat[i] > 0]
    test = south[:4] + north[:2]
    rest = [i for i in range(data.n_cells) if i not in test]
    path.mkdir(parents=True)
    cfg = {"data": {"cube": str(cube), "start": START, "end": END}, "model": kind}
    (path / "config.yaml").write_text(yaml.safe_dump(cfg))
    Split(
        test=np.asarray(test),
        folds=[np.asarray(rest[k::folds]) for k in range(folds)],
        seed=0,
        block_deg=5.0,
        test_fraction=len(test) / data.n_cells,
        lat=data.lat,
        lon=data.lon,
    ).save(path / "split.json")
    stats = toy_model_statistics(data.forcing, torch.nan_to_num(data.static))
    for k in range(folds):
        torch.manual_seed(k)
        model = build_model(kind, n_static=data.static.shape[1], lstm_hidden=8, fc_hidden=8, code_size=4)
        model.set_normalization(*stats)
        save_checkpoint(path / f"fold_{k}" / "best.pt", model_payload(model))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("probe")
    cube = tiny_cube()
    runs = {
        kind: make_run(base / kind, cube, kind, folds=1 if kind == "lstm" else 2)
        for kind in ("hybrid", "constant", "lstm")
    }
    res = probe_with_figures(runs["hybrid"], n_cells=2, threads=1, progress=False)
    return {"base": base, "cube": cube, "runs": runs, "hybrid": res}


def _savanna(world) -> tuple[float, float]:
    c = world["hybrid"].summary["cells"][0]
    return c["lat"], c["lon"]


# --- the controlled forcing, by hand ---------------------------------------------------------------


def test_pulse_forcing_is_exactly_as_documented():
    # two years; precipitation 3 mm d-1 except May-Aug (1.0, 0.5, 0.2, 0.8 mm) and December
    # (0.1 mm, but at -5 degC: too cold to be a dry season); tair 290 K (December 268.15 K)
    time = pd.date_range("2001-01-01", "2002-12-31", freq="D")
    month = time.month.to_numpy()
    prec = np.select([month == 5, month == 6, month == 7, month == 8, month == 12], [1.0, 0.5, 0.2, 0.8, 0.1], 3.0)
    tair = np.where(month == 12, 268.15, 290.0)
    rn = month * 10.0  # W m-2: 10 in January ... 120 in December
    vpd = np.where(month == 7, 20.0, 5.0)
    co2 = np.full(len(time), 400.0)
    forcing = np.stack([rn, prec, tair, vpd, co2], axis=-1)
    assert dry_season_months(prec, tair, time) == [6, 7, 8]

    pf = pulse_forcing(forcing, time, dry_days=30, rain_mm=12.5, spinup_days=100, after_days=20)
    s = pf.series
    assert s.shape == (100 + 30 + 1 + 20, 5) and pf.rain_day == 130 and pf.dry_start == 100
    # spin-up: the mean of every variable over the whole period
    np.testing.assert_allclose(s[:100], np.broadcast_to(forcing.mean(0), (100, 5)))
    # dry spell and after: no precipitation; one rain day of exactly 12.5 mm
    assert (s[100:130, P] == 0).all() and s[130, P] == 12.5 and (s[131:, P] == 0).all()
    # from the dry spell on: rn, tair, vpd, co2 at their means over June, July, August
    in_dry = np.isin(month, [6, 7, 8])
    expected_rn = (60 * 30 + 70 * 31 + 80 * 31) / 92
    assert forcing[in_dry, 0].mean() == pytest.approx(expected_rn)
    expected_vpd = (5 * 30 + 20 * 31 + 5 * 31) / 92
    for t in range(100, s.shape[0]):
        np.testing.assert_allclose(s[t, [0, 2, 3, 4]], [expected_rn, 290.0, expected_vpd, 400.0])
    assert pf.dry_months == [6, 7, 8]


def test_truth_run_reproduces_run_truth(world):
    data = load_cells(open_cube(world["cube"], dask=False), [0, 40], ("2016-01-01", "2016-03-31"))
    st = truth_static(data.features, data.static.numpy())
    f = {k: data.forcing[..., i].double().numpy() for i, k in enumerate(FORCING_KEYS)}
    ref = run_truth(f, st)
    out, _ = truth_run(f, st)
    for k in ("gpp", "rh", "rb", "sm", "fapar", "alpha_t"):
        np.testing.assert_array_equal(out[k].astype(np.float32), ref[k])
    # the truth is only defined on twin-world static features
    assert truth_static(("f0", "f1"), np.zeros((2, 2))) is None


# --- the probe of a hybrid run on the twin world --------------------------------------------------


def test_probe_writes_its_files_atomically(world):
    out = world["hybrid"].out
    assert out == world["runs"]["hybrid"] / "probe"
    assert {p.name for p in out.iterdir()} == FILES  # no temporary files left
    pulse = pd.read_csv(out / "pulse.csv")
    curves = pd.read_csv(out / "curves.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "hybrid" and summary["truth"] and summary["folds"] == [0, 1]
    assert len(summary["cells"]) == 2 and all(c["lat"] < 0 for c in summary["cells"])  # savanna, not Siberia
    assert {"fold_0", "fold_1", "median", "min", "max", "truth"} <= set(pulse.columns) & set(curves.columns)
    assert set(pulse["variable"]) == {"rb", "rh", "nee", "npp"}
    assert set(curves["parameter"]) == {"alpha_wue", "alpha_t", "cue", "rb", "wue"}
    assert np.isfinite(pulse[["fold_0", "fold_1", "truth"]].to_numpy()).all()
    assert np.isfinite(curves[["fold_0", "fold_1", "truth"]].to_numpy()).all()
    for r in summary["pulse_ratio"]["cells"]:
        assert set(r["folds"]) == {"0", "1"} and r["ensemble"] > 0
    with open(out / "pulse.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_probes_forcing_has_the_dry_spell_and_the_rain(world):
    pulse = pd.read_csv(world["hybrid"].out / "pulse.csv")
    one = pulse[(pulse["variable"] == "rh") & (pulse["cell"] == pulse["cell"].iloc[0])]
    days = one["day"].to_numpy()
    assert days[0] == -70 and days[-1] == 20  # 10 days of the spin-up segment, 60 dry, rain, 20 dry
    prec = one["prec"].to_numpy()
    assert (prec[(days >= -60) & (days < 0)] == 0).all() and (prec[days > 0] == 0).all()
    assert prec[days == 0] == [20.0]
    assert (prec[days < -60] > 0).all()  # the cell's mean precipitation before the dry spell


def test_truth_has_a_birch_effect_and_the_documented_response_directions(world):
    summary = world["hybrid"].summary
    ratios = [r["truth"] for r in summary["pulse_ratio"]["cells"]]
    assert min(ratios) > 1.5, ratios
    assert summary["pulse_ratio"]["all_cells"]["truth"] > 1.5
    curves = pd.read_csv(world["hybrid"].out / "curves.csv")
    for cell, at in curves.groupby("cell"):
        truth = {p: g.sort_values("x")["truth"].to_numpy() for p, g in at.groupby("parameter")}
        assert (np.diff(truth["alpha_wue"]) < 0).all(), cell  # WUE falls with VPD
        assert (np.diff(truth["wue"]) < 0).all(), cell
        assert (np.diff(truth["cue"]) < 0).all(), cell  # CUE falls with temperature
        assert (np.diff(truth["alpha_t"]) > 0).all(), cell  # transpiration rises with soil moisture
        assert truth["rb"][-1] > truth["rb"][0], cell  # basal respiration rises with rain
    # the swept inputs: VPD in hPa, SM/SMmax 0..1, air temperature in degC, precipitation from 0
    x = curves.groupby("input")["x"]
    assert x.min()["sm_rel"] == 0 and x.max()["sm_rel"] == 1 and x.min()["prec"] == 0
    assert -40 < x.min()["tair"] < x.max()["tair"] < 45
    assert {c.input for c in CURVES} == set(curves["input"])


def test_report_section_shows_the_probe_figures(world, tmp_path):
    body = report_section(world["hybrid"].out, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"probe_pulse.png", "probe_curves.png"}
    assert 'src="probe_pulse.png"' in body and 'src="probe_curves.png"' in body
    assert "truth" in body and "all cells" in body
    assert report_section(tmp_path / "nothing", tmp_path) == ""


# --- baselines ---------------------------------------------------------------------------------


def test_constant_model_has_flat_curves_and_no_pulse(world):
    res = probe_with_figures(world["runs"]["constant"], cells=[_savanna(world)], threads=1, progress=False)
    curves = pd.read_csv(res.out / "curves.csv")
    for _, g in curves.groupby(["cell", "parameter"]):
        for col in ("fold_0", "fold_1"):
            assert np.ptp(g[col].to_numpy()) == 0
    assert not np.isclose(curves["truth"].min(), curves["truth"].max())
    assert res.summary["pulse_ratio"]["all_cells"]["ensemble"] == pytest.approx(1.0, abs=1e-4)
    assert any("flat" in n for n in res.summary["notes"])


def test_lstm_run_says_it_has_no_parameters(world, capsys):
    lat, lon = _savanna(world)
    run = world["runs"]["lstm"]
    assert main(["probe", str(run), f"--cell={lat},{lon}", "--threads", "1"]) == 0
    printed = capsys.readouterr().out.splitlines()
    said = [line for line in printed if "no process-model parameters" in line]
    assert len(said) == 1 and "pure LSTM" in said[0]
    assert {p.name for p in (run / "probe").iterdir()} == FILES
    pulse = pd.read_csv(run / "probe" / "pulse.csv")
    assert pulse.loc[pulse["variable"] == "rh", "fold_0"].isna().all()
    assert pulse.loc[pulse["variable"] == "nee", "fold_0"].notna().all()
    curves = pd.read_csv(run / "probe" / "curves.csv")
    assert curves["fold_0"].isna().all() and curves["truth"].notna().all()  # the truth alone
    summary = json.loads((run / "probe" / "summary.json").read_text())
    assert summary["pulse_ratio"]["all_cells"]["ensemble"] is None


def test_the_library_writes_the_tables_and_replaces_the_folder_whole(world, tmp_path):
    # h2cm.evaluation.probe writes the tables only (the figures are the CLI's); a rerun replaces
    # the folder as one unit, so the previous figures do not outlive their tables
    out = tmp_path / "probe"
    first = probe_with_figures(world["runs"]["constant"], cells=[_savanna(world)], out=out, threads=1, progress=False)
    assert {p.name for p in out.iterdir()} == FILES
    again = probe(world["runs"]["constant"], cells=[_savanna(world)], out=out, threads=1, progress=False)
    assert {p.name for p in out.iterdir()} == set(TABLES)
    assert (out / "curves.csv").read_text() == again.curves.to_csv(index=False, float_format="%.6g")
    assert again.summary["pulse_ratio"] == first.summary["pulse_ratio"]


def test_an_out_folder_with_other_files_is_refused_untouched(world, capsys):
    other = world["base"] / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert main(["probe", str(world["runs"]["hybrid"]), "--out", str(other)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("h2cm probe: error: ") and "holds other files than a probe's (notes.txt)" in err[0]
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["RUNLESS"], "run directory not found"),
        (["RUN", "--cell=10,10"], "is not in a land cell of the cube"),
        (["RUN", "--dry-days", "-5"], "--dry-days must be an integer >= 7"),
        (["RUN", "--rain-mm", "-1"], "--rain-mm must be a number > 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(world, capsys, args, message):
    run = world["runs"]["hybrid"]
    argv = [a.replace("RUNLESS", str(world["base"] / "missing")).replace("RUN", str(run)) for a in args]
    assert main(["probe", *argv, "--out", str(world["base"] / "bad")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("h2cm probe: error: ") and message in err[0]
    assert not (world["base"] / "bad").exists()
