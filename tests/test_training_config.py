"""Run configuration: presets, validation errors, dotted overrides, run-directory consistency."""

from __future__ import annotations

import pytest
import yaml

from h2cm.training.config import ConfigError, RunConfig, load_config, preset_path, save_config
from h2cm.training.run import prepare_run_dir, read_manifest, update_manifest


def test_paper_preset_has_the_spec_values():
    cfg = load_config("paper")
    assert cfg.model == "hybrid"
    assert (cfg.optimizer.name, cfg.optimizer.lr) == ("adamw", 0.005)
    assert (cfg.scheduler.step_size, cfg.scheduler.gamma) == (30, 0.7)
    assert (cfg.train.batch_size, cfg.train.patience, cfg.train.grad_clip_value) == (128, 10, 0.5)
    assert (cfg.network.lstm_hidden, cfg.network.fc_hidden, cfg.network.code_size) == (100, 150, 12)
    assert (cfg.split.n_folds, cfg.split.block_deg) == (10, 5.0)
    assert (cfg.split.method, cfg.normalization) == ("reference", "store")  # the authors' (docs/reference.md)
    assert cfg.split.test_fraction == pytest.approx(1 / 13)
    assert (cfg.data.start, cfg.data.end) == ("2001-01-01", "2019-12-31")
    assert len(cfg.data.constraints) == 9
    assert (cfg.loss.q10.mean, cfg.loss.q10.sd) == (1.5, 0.3)
    assert (cfg.loss.beta_co2.mean, cfg.loss.beta_co2.sd) == (0.0015, 0.0005)
    # every key of the preset file is spelled out (a preset documents the full configuration)
    assert yaml.safe_load(preset_path("paper").read_text()).keys() == RunConfig().to_dict().keys()


def test_demo_preset_keeps_the_paper_training_rules():
    demo, paper = load_config("demo"), load_config("paper")
    assert (demo.optimizer.name, demo.optimizer.weight_decay) == (paper.optimizer.name, paper.optimizer.weight_decay)
    assert demo.train.grad_clip_value == paper.train.grad_clip_value
    assert demo.network == paper.network and demo.data.constraints == paper.data.constraints
    assert demo.split.model_dump(exclude={"method"}) == paper.split.model_dump(exclude={"method"})
    assert (demo.split.method, demo.normalization) == ("h2cm", "fold")  # a twin world has no store statistics
    assert demo.train.epochs < paper.train.epochs
    # the short-budget settings of the demo (docs/training.md): trained on two OCO-2 and GRACE years
    assert (demo.data.start, demo.data.end, demo.data.max_train_cells) == ("2015-01-01", "2016-12-31", 192)
    assert (demo.optimizer.lr, demo.scheduler.name, demo.train.spinup_refresh) == (0.01, "cosine", 4)
    # every key of the preset file is spelled out
    assert yaml.safe_load(preset_path("demo").read_text()).keys() == RunConfig().to_dict().keys()


def test_unknown_keys_and_bad_values_are_reported_by_dotted_key():
    with pytest.raises(ConfigError) as e:
        load_config("paper", ["train.epoch=3", "optimizer.lr=-1", "model=transformer", "data.constraints=[tws, sif]"])
    msg = str(e.value)
    assert "train.epoch: unknown key" in msg
    assert "optimizer.lr" in msg and "greater than 0" in msg
    assert "model" in msg
    assert "sif" in msg


def test_overrides_parse_yaml_values(tmp_path):
    cfg = load_config(
        "paper",
        ["train.epochs=7", "loss.priors=true", "data.constraints=[tws, et]", "data.cube=cube.zarr", "device=cpu"],
    )
    assert cfg.train.epochs == 7 and cfg.loss.priors is True
    assert cfg.data.constraints == ["tws", "et"]
    assert cfg.data.cube.endswith("cube.zarr") and cfg.data.cube.startswith("/")  # resolved to absolute
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config("paper", ["train.epochs"])
    with pytest.raises(ConfigError, match="neither a file nor a preset"):
        load_config("no-such-preset")


def test_yaml_round_trip_and_bad_dates(tmp_path):
    cfg = load_config("paper", ["train.epochs=3"])
    path = save_config(cfg, tmp_path / "c.yaml")
    assert load_config(path) == cfg
    (tmp_path / "bad.yaml").write_text("data:\n  start: 2010-01-01\n  end: 2005-01-01\n")
    with pytest.raises(ConfigError, match="after end"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")


def test_run_dir_rejects_a_different_config_but_not_runtime_keys(tmp_path):
    cfg = load_config("paper")
    prepare_run_dir(cfg, tmp_path)
    prepare_run_dir(load_config("paper", ["threads=1", "progress=false"]), tmp_path)  # runtime keys only
    with pytest.raises(ConfigError, match="train.epochs"):
        prepare_run_dir(load_config("paper", ["train.epochs=3"]), tmp_path)


def test_manifest_merges_fold_entries(tmp_path):
    cfg = load_config("paper")
    update_manifest(tmp_path, cfg, folds={"1": {"status": "running"}})
    update_manifest(tmp_path, cfg, folds={"0": {"status": "done", "seconds": 3.0}})
    m = update_manifest(tmp_path, cfg, folds={"1": {"status": "failed", "error": "boom"}})
    assert list(m["folds"]) == ["0", "1"]
    assert m["folds"]["1"]["status"] == "failed" and m["folds"]["0"]["seconds"] == 3.0
    assert m["seed"] == 0 and "torch" in m["versions"]
    assert read_manifest(tmp_path) == m
