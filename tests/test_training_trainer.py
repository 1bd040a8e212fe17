"""The fold trainer on the tiny twin world: learning, skipped batches, early stopping, checkpoints,
and exact resume after SIGKILL."""

from __future__ import annotations

import csv
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from h2cm import runtime
from h2cm.data.cube import load_cells
from h2cm.model import H2CM
from h2cm.training.checkpoint import load_checkpoint, load_model, save_checkpoint
from h2cm.training.config import load_config
from h2cm.training.folds import load_fold_data
from h2cm.training.trainer import FoldTrainer, train_fold
from training_fixtures import tiny_cube, tiny_overrides


def _terms_on(trainer: FoldTrainer, cells) -> dict[str, float]:
    """Loss terms of the trainer's model on any cells (the validation routine on other data)."""
    trainer.val_data, old = cells, trainer.val_data
    try:
        return trainer.validate()
    finally:
        trainer.val_data = old


@pytest.mark.slow
def test_a_few_epochs_reduce_every_loss_term(tmp_path):
    # two years, so that the mean seasonal cycle, TWS anomalies and NEE anomalies are all non-trivial
    cfg = load_config("demo", tiny_overrides("train.epochs=4", "data.max_train_cells=32", end="2017-12-31"))
    runtime.configure(threads=cfg.threads)
    fd = load_fold_data(cfg, 0, tmp_path)
    trainer = FoldTrainer(cfg, 0, tmp_path / "fold_0", fd.train, fd.val)
    assert set(trainer.terms) == {"tws", "swe", "et", "runoff", "fapar", "gpp", "nee", "nee_anomaly", "cue"}
    before = _terms_on(trainer, fd.train)
    result = trainer.fit()
    after = _terms_on(trainer, fd.train)
    worse = {k: (before[k], after[k]) for k in before if not after[k] < before[k]}
    assert not worse, f"loss terms that did not decrease: {worse}"
    assert result.epochs == 4 and result.skipped_batches == 0
    # the validation loss falls as well
    assert result.best_val_loss < result.val_start["total"]

    # the run directory and the fold's files
    fold = tmp_path / "fold_0"
    assert {p.name for p in fold.iterdir()} >= {"best.pt", "last.pt", "log.csv", "result.json"}
    assert not [p for p in fold.iterdir() if ".tmp" in p.name]
    rows = list(csv.DictReader((fold / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4]
    assert {"lr", "seconds", "skipped", "train_total", "train_tws", "val_total", "val_cue"} <= set(rows[0])

    # load_model: constructor arguments, normalisation buffers and weights come back
    best = load_model(fold / "best.pt")
    assert isinstance(best, H2CM) and best.lstms.hidden == 16 and best.n_static == fd.train.static.shape[1]
    ckpt = load_checkpoint(fold / "best.pt")
    assert ckpt["epoch"] == result.best_epoch and ckpt["kind"] == "hybrid"
    assert torch.equal(best.forcing_mean, trainer.model.forcing_mean)
    assert torch.equal(best.static_std, trainer.model.static_std)
    assert not torch.equal(best.forcing_std, torch.ones(5))
    if result.best_epoch == result.epochs:
        for k, v in trainer.model.state_dict().items():
            assert torch.equal(best.state_dict()[k], v), k


def test_non_finite_batches_are_skipped_and_counted(tmp_path):
    cfg = load_config("demo", tiny_overrides("train.epochs=2", "train.batch_size=64", end="2016-03-31"))
    cells = load_cells(tiny_cube(), period=(cfg.data.start, cfg.data.end))
    fd = load_fold_data(cfg, 0, tmp_path / "probe", data=cells)
    bad = int(fd.train.cell_index[0])
    cells.forcing[10, bad, 0] = float("nan")  # one training cell, one day: its batch's loss is NaN
    result = train_fold(cfg, 0, tmp_path / "run", data=cells)
    assert result.skipped_batches == 2  # one batch (all training cells) per epoch, both skipped
    rows = list(csv.DictReader((tmp_path / "run" / "fold_0" / "log.csv").open()))
    assert [r["skipped"] for r in rows] == ["0", "1", "1"]
    model = load_model(tmp_path / "run" / "fold_0" / "last.pt")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # nothing was learned: the weights are still the initial ones
    fresh = FoldTrainer(cfg, 0, tmp_path / "x", fd.train, fd.val).model
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters(), strict=True))


def test_early_stopping_keeps_the_best_checkpoint(tmp_path, monkeypatch):
    cfg = load_config(
        "demo",
        tiny_overrides(
            "train.epochs=20", "train.patience=2", "scheduler.step_size=1", "scheduler.gamma=0.5", end="2016-01-31"
        ),
    )
    fd = load_fold_data(cfg, 0, tmp_path)
    trainer = FoldTrainer(cfg, 0, tmp_path / "fold_0", fd.train, fd.val)
    vals = iter([9.0, 5.0, 4.0, 4.5, 4.0, 3.0])  # initial, epochs 1..5
    monkeypatch.setattr(trainer, "validate", lambda: {"total": next(vals)})
    monkeypatch.setattr(trainer, "train_step", lambda idx: {"total": 1.0})
    result = trainer.fit()
    assert (result.best_epoch, result.epochs, result.stop_reason) == (2, 4, "early_stopping")
    assert load_checkpoint(tmp_path / "fold_0" / "best.pt")["epoch"] == 2
    last = load_checkpoint(tmp_path / "fold_0" / "last.pt")
    assert last["trainer"]["finished"] and last["epoch"] == 4
    rows = list(csv.DictReader((tmp_path / "fold_0" / "log.csv").open()))
    assert [float(r["lr"]) for r in rows] == [0.005, 0.005, 0.0025, 0.00125, 0.000625]
    assert [float(r["val_total"]) for r in rows] == [9.0, 5.0, 4.0, 4.5, 4.0]


def test_checkpoint_writes_are_atomic(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"x": torch.arange(3)})
    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises
        save_checkpoint(path, {"x": lambda: 0})
    assert torch.equal(load_checkpoint(path)["x"], torch.arange(3))  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left behind


def _train_cmd(out: Path, overrides: list[str], *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "h2cm.cli",
        "train",
        "--config",
        "demo",
        "--fold",
        "0",
        "--out",
        str(out),
        *extra,
        *overrides,
    ]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_weights(tmp_path):
    ov = tiny_overrides(
        "train.epochs=2",
        "train.batch_size=8",
        "data.max_train_cells=32",
        "train.checkpoint_every=1",
        "train.spinup_refresh=2",
        end="2016-04-30",
    )  # 4 batches per epoch, last.pt after every batch; the second epoch starts from cached spin-up states
    ref, run = tmp_path / "ref", tmp_path / "killed"
    train_fold("demo", 0, ref, overrides=ov)  # the uninterrupted reference (same threads: bit-identical)

    proc = subprocess.Popen(_train_cmd(run, ov), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run / "fold_0" / "last.pt"
    seen = None
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if last.exists():
                st = load_checkpoint(last)["trainer"]
                if st["epoch"] == 1 and st["step"] >= 1:  # inside the second epoch
                    proc.send_signal(signal.SIGKILL)
                    seen = st
                    break
            time.sleep(0.02)
    finally:
        proc.wait(timeout=60)
    assert seen is not None and proc.returncode == -signal.SIGKILL
    st = load_checkpoint(last)["trainer"]
    assert st["epoch"] == 1 and 0 < st["step"] < 4 and not st["finished"]  # killed mid-epoch

    subprocess.run(_train_cmd(run, ov, "--resume"), check=True, capture_output=True)
    a, b = load_checkpoint(ref / "fold_0" / "last.pt"), load_checkpoint(last)
    assert a["trainer"]["finished"] and b["trainer"]["finished"]
    for k, v in a["model_state"].items():
        assert torch.equal(v, b["model_state"][k]), k
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    for ra, rb in zip(a["trainer"]["history"], b["trainer"]["history"], strict=True):
        assert ra.keys() == rb.keys()
        for k in ra.keys() - {"seconds"}:
            assert ra[k] == rb[k] or (math.isnan(ra[k]) and math.isnan(rb[k])), k
    best_a, best_b = load_checkpoint(ref / "fold_0" / "best.pt"), load_checkpoint(run / "fold_0" / "best.pt")
    assert all(torch.equal(v, best_b["model_state"][k]) for k, v in best_a["model_state"].items())

    # resuming a finished fold trains nothing more
    mtime = last.stat().st_mtime_ns
    again = train_fold("demo", 0, run, resume=True, overrides=ov)
    assert again.epochs == 2 and last.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_warm_spinup_keeps_each_cells_state_between_refreshes(tmp_path, monkeypatch):
    cfg = load_config(
        "demo",
        tiny_overrides("train.epochs=4", "train.spinup_refresh=3", "data.max_train_cells=32", "train.batch_size=16"),
    )
    fd = load_fold_data(cfg, 0, tmp_path)
    trainer = FoldTrainer(cfg, 0, tmp_path / "fold_0", fd.train, fd.val)
    calls: list[int] = []
    spun: list[tuple[torch.Tensor, object]] = []  # (cells, state) of every spin-up, in order
    spin, put = trainer.model.spinup_state, trainer.spun.put

    def counted(forcing, static, state=None):
        calls.append(trainer.state.epoch + 1)
        return spin(forcing, static, state)

    def recorded(idx, state):
        spun.append((idx.clone(), state))
        put(idx, state)

    monkeypatch.setattr(trainer.model, "spinup_state", counted)
    monkeypatch.setattr(trainer.spun, "put", recorded)
    trainer.run_epoch(time.perf_counter())
    assert calls == [1, 1] and trainer.spun.has(torch.arange(32))  # two batches spun up in epoch 1
    cached = trainer.spun.get(torch.arange(32))
    for idx, state in spun:  # the cache holds exactly what each batch's spin-up returned
        for a, b in zip(trainer.spun.get(idx), state, strict=True):
            assert torch.equal(a, b)
    trainer.run_epoch(time.perf_counter())
    trainer.run_epoch(time.perf_counter())
    assert calls == [1, 1]  # epochs 2 and 3 start from the cached states
    for a, b in zip(cached, trainer.spun.get(torch.arange(32)), strict=True):
        assert torch.equal(a, b)
    trainer.run_epoch(time.perf_counter())
    assert calls == [1, 1, 4, 4]  # refreshed in epoch 4 = 1 + 3
    assert not torch.equal(cached.sm, trainer.spun.get(torch.arange(32)).sm)  # new weights, new states


def test_padded_batches_give_the_loss_of_the_real_cells(tmp_path):
    cfg = load_config("demo", tiny_overrides(end="2016-03-31"))
    fd = load_fold_data(cfg, 0, tmp_path)
    trainer = FoldTrainer(cfg, 0, tmp_path / "fold_0", fd.train, fd.val)
    idx = torch.arange(5)
    plain = trainer._forward_terms(fd.val, idx, 5, grad=False)
    trainer.pad_batches = True  # as for a compiled model: one shape for every batch
    assert trainer._padded(idx, 8).tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    padded = trainer._forward_terms(fd.val, idx, 8, grad=False)
    assert plain.keys() == padded.keys()
    for k in plain:
        assert float(padded[k]) == pytest.approx(float(plain[k]), rel=1e-5, abs=1e-7), k


def test_validation_every_n_epochs_warmup_and_cosine_schedule(tmp_path, monkeypatch):
    cfg = load_config(
        "demo",
        tiny_overrides(
            "train.epochs=4",
            "train.validate_every=2",
            "scheduler.name=cosine",
            "scheduler.min_lr_factor=0.1",
            "scheduler.warmup_steps=3",
            "train.batch_size=32",
            "data.max_train_cells=32",
            end="2016-01-31",
        ),
    )
    fd = load_fold_data(cfg, 0, tmp_path)
    trainer = FoldTrainer(cfg, 0, tmp_path / "fold_0", fd.train, fd.val)
    used: list[float] = []
    step = trainer.opt.step
    monkeypatch.setattr(trainer.opt, "step", lambda: (used.append(trainer.opt.param_groups[0]["lr"]), step())[1])
    trainer.fit()
    base = [0.005 * (0.1 + 0.9 * (1 + math.cos(math.pi * e / 4)) / 2) for e in range(4)]  # cosine, per epoch
    assert used == pytest.approx([base[0] / 3, base[1] * 2 / 3, base[2], base[3]])  # one step per epoch
    rows = list(csv.DictReader((tmp_path / "fold_0" / "log.csv").open()))
    assert [r["val_total"] != "" for r in rows] == [True, False, True, False, True]
