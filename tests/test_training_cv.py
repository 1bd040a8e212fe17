"""Cross-validation executors on the tiny twin world: local (with a failing fold and its re-run)
and Ray (a local Ray instance, one task per fold)."""

from __future__ import annotations

import sys

import pytest

import h2cm.training.cv as cvmod
from h2cm.cli import main
from h2cm.training.cv import import_ray, parse_folds, rerun_command, run_cv
from h2cm.training.run import read_manifest
from training_fixtures import tiny_cube, tiny_overrides


def test_parse_folds():
    assert parse_folds("0-9", 10) == list(range(10))
    assert parse_folds("1-3,7, 2", 10) == [1, 2, 3, 7]
    assert parse_folds(None, 4) == [0, 1, 2, 3]
    for bad in ("3-1", "a", "0-10"):
        with pytest.raises(ValueError):
            parse_folds(bad, 10)


@pytest.mark.slow
def test_local_executor_reports_a_failed_fold_that_reruns_alone(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    real = cvmod._fold_task

    def flaky(cfg, fold, run_dir, resume, data=None):
        if fold == 1:
            raise RuntimeError("simulated failure of fold 1")
        return real(cfg, fold, run_dir, resume, data)

    monkeypatch.setattr(cvmod, "_fold_task", flaky)
    ov = tiny_overrides("train.epochs=1", end="2016-02-29")
    rc = main(["cv", "--config", "demo", "--out", str(run), "--folds", "0-1", "--jobs", "1", *ov])
    assert rc == 1
    out = capsys.readouterr().out
    assert "simulated failure of fold 1" in out
    assert rerun_command(run, 1) in out
    assert rerun_command(run, 1).startswith(f"h2cm train --config {run / 'config.yaml'} --fold 1 --out {run}")
    m = read_manifest(run)
    assert m["folds"]["0"]["status"] == "done" and m["folds"]["1"]["status"] == "failed"
    assert m["cv"]["failed"] == [1]
    split = (run / "split.json").read_text()

    # the printed command re-runs the failed fold alone, with the run's own config and split
    monkeypatch.setattr(cvmod, "_fold_task", real)
    assert main(["train", "--config", str(run / "config.yaml"), "--fold", "1", "--out", str(run), "--resume"]) == 0
    m = read_manifest(run)
    assert m["folds"]["1"]["status"] == "done" and "error" not in m["folds"]["1"]
    assert (run / "fold_1" / "best.pt").exists()
    assert (run / "split.json").read_text() == split


def test_setup_errors_exit_2_and_write_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", "paper", "--fold", "0", "--out", str(run)]) == 2  # no cube
    # the tiny world has too few 5-degree blocks for 10 folds and a test set
    period = ["data.start=2016-01-01", "data.end=2019-12-31"]  # inside the tiny world's days
    assert main(["cv", "--config", "demo", "--out", str(run), f"data.cube={tiny_cube()}", *period]) == 2
    assert main(["cv", "--config", "demo", "--out", str(run), "train.epoch=3"]) == 2
    assert not run.exists()
    err = capsys.readouterr().err
    assert "data.cube is not set" in err and "need at least 11" in err and "train.epoch: unknown key" in err


def test_ray_is_optional_with_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RuntimeError, match=r"pip install 'h2cm\[ray\]'"):
        import_ray()


@pytest.mark.slow
def test_ray_executor_trains_one_task_per_fold(tmp_path):
    ray = import_ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        # folds 0 and 1 train as two parallel tasks (threads=1 each); "fold 9" does not exist and fails
        res = run_cv(
            "demo",
            tmp_path / "run",
            executor="ray",
            folds=[0, 1, 9],
            overrides=tiny_overrides("train.epochs=1", end="2016-02-29"),
        )
        assert ray.is_initialized()  # a Ray instance the caller started is left running
    finally:
        ray.shutdown()
    assert res.failed == [9]
    failed = next(o for o in res.outcomes if o.fold == 9)
    assert "fold 9 out of range" in failed.error
    assert "--fold 9" in res.summary()
    for k in (0, 1):
        out = next(o for o in res.outcomes if o.fold == k)
        assert out.ok and out.result["epochs"] == 1 and out.result["n_train"] > 0
        assert (tmp_path / "run" / f"fold_{k}" / "best.pt").exists()
    m = read_manifest(tmp_path / "run")
    assert m["cv"]["executor"] == "ray" and m["folds"]["0"]["status"] == "done"
