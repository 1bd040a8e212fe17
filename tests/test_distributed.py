"""Data-parallel folds (h2cm.training.distributed): two gloo workers on shards of every batch end
with the weights of one process; the Ray Train path (slow) does the same through train_fold."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from h2cm import runtime
from h2cm.training.config import ConfigError, RunConfig, load_config
from h2cm.training.cv import run_cv
from h2cm.training.distributed import DataParallelFoldTrainer, shard
from h2cm.training.folds import load_fold_data
from h2cm.training.trainer import FoldTrainer, train_fold
from training_fixtures import tiny_overrides

RTOL, ATOL = 1e-5, 1e-6  # float32; the shards' sums run in a different order than the whole batch's


def _config(*extra: str) -> RunConfig:
    # every term (NEE anomaly of the batch mean included), the priors (gradients that do not pass
    # through the outputs), a warm spin-up cache refreshed every 2nd epoch, and 40 training cells
    # in batches of 13: the last batch (1 cell) is padded to 2, so the second worker's shard is
    # padding only; validation batches of 5 (4 batches of the 18 validation cells are odd)
    return load_config(
        "paper",
        tiny_overrides(
            "train.epochs=2",
            "train.batch_size=13",
            "train.val_batch_size=5",
            "train.spinup_refresh=2",
            "loss.priors=true",
            "train.checkpoint_every=0",
            *extra,
        ),
    )


def _worker(rank: int, world: int, init: str, cfg_dict: dict, train, val, fold_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    try:
        runtime.configure(threads=1)
        cfg = RunConfig.model_validate(cfg_dict)
        DataParallelFoldTrainer(cfg, 0, Path(fold_dir), train, val, rank, world).fit()
    finally:
        dist.destroy_process_group()


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=RTOL, atol=ATOL, msg=lambda m, k=k: f"{k}: {m}")


def test_shards_are_disjoint_and_cover_the_batch():
    idx = torch.tensor([7, 3, 9, 1, 4])
    parts = [shard(idx, r, 2) for r in range(2)]
    assert parts[0].tolist() == [7, 9, 4] and parts[1].tolist() == [3, 1, 7]  # padded with the first cell
    # interleaving the shards (gather_cells' order) gives the padded batch back
    assert torch.stack(parts, dim=1).flatten().tolist()[:5] == idx.tolist()
    assert shard(idx, 0, 1).tolist() == idx.tolist()


@pytest.mark.slow
def test_two_gloo_workers_end_with_the_weights_of_one_process(tmp_path):
    cfg = _config()
    runtime.configure(threads=1)
    fd = load_fold_data(cfg, 0, tmp_path / "one")
    assert fd.train.n_cells % cfg.train.batch_size == 1  # odd batches: padding is exercised
    one = FoldTrainer(cfg, 0, tmp_path / "one" / "fold_0", fd.train, fd.val)
    one.fit()
    assert "nee_anomaly" in one.terms and "prior_q10" in one.terms

    fold_dir = tmp_path / "two" / "fold_0"
    args = (2, str(tmp_path / "pg"), cfg.to_dict(), fd.train, fd.val, str(fold_dir))
    mp.spawn(_worker, args=args, nprocs=2, join=True)

    two = torch.load(fold_dir / "last.pt", map_location="cpu", weights_only=False)
    _assert_same_weights(one.model.state_dict(), two["model_state"])
    # the same losses (training and sharded validation) in the log, the same early-stopping state
    for row_one, row_two in zip(one.state.history, two["trainer"]["history"], strict=True):
        for k, v in row_one.items():
            if k.startswith(("train_", "val_")):
                assert row_two[k] == pytest.approx(v, rel=RTOL, nan_ok=True), k
    assert two["trainer"]["epoch"] == 2 and two["trainer"]["best_epoch"] == one.state.best_epoch
    assert {p.name for p in fold_dir.iterdir()} >= {"best.pt", "last.pt", "log.csv", "result.json"}


@pytest.mark.slow  # trains nothing, but builds the tiny world (about 6 s)
def test_data_parallel_is_validated_and_needs_ray(tmp_path, monkeypatch, capsys):
    with pytest.raises(ConfigError, match="data_parallel 4 exceeds batch_size 2"):
        load_config("paper", ["train.batch_size=2", "train.data_parallel=4"])
    # a runtime key: a run may be resumed with another number of workers
    a, b = load_config("paper"), load_config("paper", ["train.data_parallel=2"])
    assert a.without_runtime() == b.without_runtime()

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    cfg = load_config("paper", tiny_overrides("train.data_parallel=2"))
    with pytest.raises(ConfigError, match=r"needs Ray Train: pip install 'h2cm\[ray\]'"):
        train_fold(cfg, 0, tmp_path / "run")
    with pytest.raises(ConfigError, match="needs Ray Train"):
        run_cv(cfg, tmp_path / "run")
    with pytest.raises(ValueError, match="does not support train.data_parallel"):
        train_fold(cfg, 0, tmp_path / "run", on_validation=lambda epoch, val: False)
    assert not (tmp_path / "run").exists()

    from h2cm.cli import main

    args = ["train", "--config", "paper", "--fold", "0", "--out", str(tmp_path / "run")]
    assert main([*args, *tiny_overrides("train.data_parallel=2")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "h2cm train: error: train.data_parallel=2 needs Ray Train: pip install 'h2cm[ray]'"


@pytest.mark.slow
def test_ray_train_fold_matches_one_process(tmp_path):
    # h2cm cv --executor ray with train.data_parallel=2: a Ray task per fold drives Ray Train's
    # TorchTrainer, whose two gloo workers train the fold
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.train.torch")
    overrides = ["train.epochs=1", "train.spinup_refresh=1"]
    one = train_fold(_config(*overrides), 0, tmp_path / "one")

    ray.init(num_cpus=2, include_dashboard=False)
    try:
        res = run_cv(_config(*overrides, "train.data_parallel=2"), tmp_path / "two", executor="ray", folds=[0])
    finally:
        ray.shutdown()
    assert not res.failed, res.summary()
    last_one = torch.load(tmp_path / "one" / "fold_0" / "last.pt", weights_only=False)
    last_two = torch.load(tmp_path / "two" / "fold_0" / "last.pt", weights_only=False)
    _assert_same_weights(last_one["model_state"], last_two["model_state"])
    assert res.outcomes[0].result["best_val_loss"] == pytest.approx(one.best_val_loss, rel=RTOL)
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["folds"]["0"]["status"] == "done" and manifest["folds"]["0"]["data_parallel"] == 2
