"""Baselines (issue #6): the constant-parameter process model and the pure LSTM train with the
hybrid's loss and trainer, checkpoint and reload; the LSTM predicts only its own variables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from h2cm import runtime
from h2cm.baselines import LSTM_OUTPUT_KEYS, ConstantModel, LSTMBaseline
from h2cm.data.cells import CellData
from h2cm.kinds import build_model
from h2cm.schema import FORCING_KEYS, OUTPUT_KEYS
from h2cm.training.checkpoint import load_model
from h2cm.training.config import ConfigError, load_config
from h2cm.training.folds import load_fold_data
from h2cm.training.loss import LossStats, total_loss
from h2cm.training.trainer import FoldTrainer
from training_fixtures import tiny_overrides


def _forcing(days: int = 40, cells: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    f = torch.stack(
        [
            100 + 50 * torch.rand(days, cells, generator=g),
            5 * torch.rand(days, cells, generator=g),
            270 + 20 * torch.rand(days, cells, generator=g),
            10 * torch.rand(days, cells, generator=g),
            torch.full((days, cells), 380.0),
        ],
        dim=-1,
    )
    assert f.shape[-1] == len(FORCING_KEYS)
    return f, torch.randn(cells, 30, generator=g)


def test_factory_and_config_select_the_kind():
    assert isinstance(build_model("constant", n_static=30, lstm_hidden=8), ConstantModel)
    assert isinstance(build_model("lstm", n_static=30, lstm_hidden=8, fc_hidden=4), LSTMBaseline)
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model("transformer")
    assert load_config("demo", ["model=lstm"]).model == "lstm"
    with pytest.raises(ConfigError, match="model"):
        load_config("demo", ["model=gru"])


def test_constant_model_outputs_every_variable_with_closed_water_balance():
    f, s = _forcing()
    sim = ConstantModel().forward(f, s, spinup=True, outputs="all")
    assert set(sim.outputs) == set(OUTPUT_KEYS)
    o = sim.outputs
    assert all(torch.isfinite(v).all() for v in o.values())
    assert torch.allclose(o["nee"], o["ter"] - o["gpp"], atol=1e-5)
    # the same parameter value everywhere, every day
    assert torch.all(o["alpha_t"] == o["alpha_t"][0, 0])
    assert sim.constants.q10.numel() == 1


def test_lstm_predicts_only_its_variables_and_has_no_constants():
    f, s = _forcing()
    model = LSTMBaseline(n_static=30, lstm_hidden=8)
    sim = model(f, s, outputs="all")
    assert tuple(sim.outputs) == LSTM_OUTPUT_KEYS
    assert sim.constants is None
    only = model(f, s, outputs=["gpp", "rh", "sm"]).outputs
    assert set(only) == {"gpp"}  # rh and sm are not predicted: absent, not invented
    assert (sim.outputs["fapar"] >= 0).all() and (sim.outputs["fapar"] <= 1).all()


def test_loss_skips_terms_without_model_output():
    f, s = _forcing()
    sim = LSTMBaseline(n_static=30, lstm_hidden=4)(f, s)
    outputs = {k: v for k, v in sim.outputs.items() if k != "npp"}
    time = pd.date_range("2002-01-01", periods=f.shape[0], freq="D")
    months = pd.date_range("2002-01-01", periods=2, freq="MS")
    data = CellData(
        forcing=f,
        static=s,
        constraints={"gpp": torch.rand(2, 3), "cue": torch.full((3,), 0.5)},
        cell_area=torch.ones(3),
        lat=np.zeros(3),
        lon=np.zeros(3),
        time=time,
        months=months,
        day_month=torch.as_tensor(np.array(time.month - 1)),
    )
    stats = LossStats.from_cells(data)
    res = total_loss(outputs, data, stats, ("gpp", "cue"))
    assert "gpp" in res and "cue" not in res  # cue needs npp, which this output set lacks


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["constant", "lstm"])
def test_baseline_trains_and_its_loss_falls(tmp_path, kind):
    cfg = load_config(
        "demo",
        tiny_overrides(
            f"model={kind}",
            "train.epochs=4",
            "data.max_train_cells=16",
            "train.batch_size=8",
            "train.initial_validation=false",
        ),
    )
    runtime.configure(threads=cfg.threads)
    fd = load_fold_data(cfg, 0, tmp_path)
    trainer = FoldTrainer(cfg, 0, tmp_path / "fold_0", fd.train, fd.val)
    res = trainer.fit()
    assert res.train_last["total"] < res.train_first["total"]
    model = load_model(tmp_path / "fold_0" / "best.pt")
    assert type(model) is type(trainer.model)
    torch.testing.assert_close(model.forcing_mean, trainer.model.forcing_mean)
