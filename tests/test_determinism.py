"""deterministic: true gives bit-identical weights in two trainings with the same seed."""

from __future__ import annotations

import pytest
import torch

from h2cm.data.cube import load_cells
from h2cm.data.tower_cube import tower_cube
from h2cm.studies.site import site_config
from h2cm.training.config import load_config
from h2cm.training.trainer import FoldTrainer
from test_towers import dd_table, write


@pytest.fixture
def restore_torch():
    threads = torch.get_num_threads()
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)


def _train(tmp_path, name: str, cells, extra=()) -> dict[str, torch.Tensor]:
    cfg = site_config("hybrid", 2, 1, ["train.batch_size=1", "network.lstm_hidden=8", "network.fc_hidden=8", *extra])
    trainer = FoldTrainer(cfg, 0, tmp_path / name, cells, cells)
    trainer.fit()
    assert not trainer.pad_batches  # never compiled when deterministic
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


@pytest.mark.slow  # three tiny trainings: about 5 s
def test_deterministic_runs_are_bit_identical(tmp_path, restore_torch):
    ds = tower_cube([write(dd_table(days=365), tmp_path / "FLX_XX-Det_DD.csv")], lat=45.0, lon=5.0)
    cells = load_cells(ds)
    a = _train(tmp_path, "a", cells, ["deterministic=true", "train.compile=true"])
    assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1
    b = _train(tmp_path, "b", cells, ["deterministic=true", "train.compile=true"])
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = _train(tmp_path, "c", cells, ["deterministic=true", "seed=1"])
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the seed still matters


def test_deterministic_is_a_config_key():
    assert load_config("demo", ["deterministic=true"]).deterministic is True
    assert load_config("demo").deterministic is False
