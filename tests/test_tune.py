"""``h2cm tune``: Optuna search over dotted configuration keys on the tiny twin world (trials,
objective, best.yaml, continuation), pruning through the trainer's validation hook, bad input."""

from __future__ import annotations

import csv
import json
import math

import optuna
import pytest

from h2cm.cli import main
from h2cm.training.config import load_config
from h2cm.training.tune import DEFAULT_SPACE, STUDY_NAME, load_space, override, run_tune, suggest, trial_config
from training_fixtures import tiny_overrides

SMALL_SPACE = """\
optimizer.lr: {low: 1e-3, high: 3.0e-2, log: true}
network.lstm_hidden: [8, 16]
train.batch_size: {choices: [16, 32]}
"""


def _get(cfg, key: str):
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _study(out):
    return optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}")


def _rows(out) -> list[dict]:
    return list(csv.DictReader((out / "trials.csv").open()))


def test_overrides_and_default_space_make_valid_configs():
    assert override("optimizer.lr", 1e-5) == "optimizer.lr=1.0e-05"  # "1e-05" would be a YAML string
    assert override("scheduler.name", "step") == "scheduler.name=step"
    for preset in ("paper", "demo"):
        base = load_config(preset)
        assert load_space(None, base) == DEFAULT_SPACE
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
        for _ in range(5):
            params = suggest(study.ask(), DEFAULT_SPACE)
            cfg = trial_config(base, params)
            assert {k: _get(cfg, k) for k in params} == params
            assert isinstance(cfg.train.patience, int) and isinstance(cfg.optimizer.lr, float)
    # a space's bounds and choices are checked against the configuration
    spec = load_space({"train.patience": {"low": "3", "high": 9}, "optimizer.lr": {"low": "1e-4", "high": 0.1}}, base)
    assert spec["optimizer.lr"]["low"] == 1e-4


@pytest.mark.parametrize(
    "space, args, message",
    [
        ("network.lstm: [8, 16]\n", [], "'network.lstm' is not a configuration key"),
        ("optimizer.lr: {lo: 1, high: 2}\n", [], "optimizer.lr: unknown field(s) ['lo']"),
        ("train.batch_size: [0, 16]\n", [], "train.batch_size = 0 is not a valid value"),
        ("optimizer.lr: {low: 0.1, high: 0.01}\n", [], "low <= high"),
        ("- a\n", [], "expected a non-empty mapping"),
        (None, ["--trials", "0"], "trials must be at least 1"),
        (None, ["--folds", ""], "no folds to tune on"),
        (None, ["--folds", "0-99"], "out of range"),
        (None, ["data.cube=/nonexistent/cube.zarr"], "data.cube /nonexistent/cube.zarr does not exist"),
        (None, ["optimizer.lrr=1"], "optimizer.lrr: unknown key"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, space, args, message):
    out = tmp_path / "tune"
    argv = ["tune", "--config", "paper", "--out", str(out), "--trials", "2", "--folds", "0"]
    if space is not None:
        (tmp_path / "space.yaml").write_text(space)
        argv += ["--space", str(tmp_path / "space.yaml"), "data.cube=/nonexistent/cube.zarr"]
    assert main([*argv, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.startswith("h2cm tune: error: ") and len(err.strip().splitlines()) <= 3
    assert not out.exists()


@pytest.mark.slow
def test_three_trials_end_to_end_then_continue(tmp_path, capsys):
    out, space = tmp_path / "tune", tmp_path / "space.yaml"
    space.write_text(SMALL_SPACE)
    ov = tiny_overrides("train.epochs=2", end="2016-02-29")
    argv = ["tune", "--config", "demo", "--out", str(out), "--folds", "0", "--space", str(space), *ov]
    assert main([*argv, "--trials", "3"]) == 0
    assert "best: trial" in capsys.readouterr().out
    rows = _rows(out)
    assert [int(r["number"]) for r in rows] == [0, 1, 2]
    assert {r["state"] for r in rows} <= {"COMPLETE", "PRUNED"} and rows[0]["state"] == "COMPLETE"

    # the objective is the fold's best validation loss in its result.json
    for r in rows:
        result = json.loads((out / r["dir"] / "fold_0" / "result.json").read_text())
        if r["state"] == "COMPLETE":
            assert float(r["value"]) == pytest.approx(result["best_val_loss"], rel=1e-12)
        else:
            assert result["stop_reason"] == "pruned"

    # best.yaml: the best complete trial's full run configuration, loadable by h2cm cv
    study = _study(out)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    best = min(complete, key=lambda t: t.value)
    cfg = load_config(out / "best.yaml")
    assert {k: _get(cfg, k) for k in best.params} == best.params
    assert cfg.train.epochs == 2 and cfg.data.end == "2016-02-29" and cfg.network.fc_hidden == 16

    # the same command continues the study: a trial left running by a killed process is marked
    # failed and does not count, one more trial makes four
    study.ask()
    assert main([*argv, "--trials", "4"]) == 0
    rows = _rows(out)
    assert [int(r["number"]) for r in rows] == [0, 1, 2, 3, 4] and rows[3]["state"] == "FAIL"
    assert rows[4]["state"] in ("COMPLETE", "PRUNED")
    # ... but not with another base configuration
    assert main([*argv, "--trials", "5", "optimizer.weight_decay=0.1"]) == 2
    assert "holds a study of another configuration" in capsys.readouterr().err


class PruneAfterFirstStep(optuna.pruners.BasePruner):
    """Prunes every trial at its first report; records the intermediate values it saw."""

    def __init__(self):
        self.seen: list[dict[int, float]] = []

    def prune(self, study, trial) -> bool:
        self.seen.append(dict(trial.intermediate_values))
        return trial.last_step is not None and trial.last_step >= 1


@pytest.mark.slow
def test_a_pruned_trial_stops_its_fold_after_one_epoch(tmp_path):
    out, pruner = tmp_path / "tune", PruneAfterFirstStep()
    space = {"optimizer.lr": {"low": 0.001, "high": 0.01, "log": True}}
    ov = tiny_overrides("train.epochs=3", end="2016-02-29")
    res = run_tune("demo", out, space=space, trials=1, folds="0", pruner=pruner, overrides=ov)
    assert [r["state"] for r in res.rows] == ["PRUNED"] and res.best is None
    assert res.rows[0]["value"] == "" and res.rows[0]["step"] == 1  # a partial sum is no objective
    assert not (out / "best.yaml").exists() and "no trial completed" in res.summary()
    fold = out / "trials" / "0000" / "fold_0"
    result = json.loads((fold / "result.json").read_text())
    assert result["epochs"] == 1 and result["stop_reason"] == "pruned"
    log = list(csv.DictReader((fold / "log.csv").open()))
    assert [int(r["epoch"]) for r in log] == [0, 1]
    # the pruner saw the epoch-1 validation loss, reported at step 1
    assert pruner.seen == [{1: float(log[1]["val_total"])}]
    (trial,) = _study(out).trials
    assert trial.intermediate_values == {1: float(log[1]["val_total"])}
    assert math.isclose(trial.value, float(log[1]["val_total"]))
