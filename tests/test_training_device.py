"""A fold's training step on another device than the CPU, and the pieces that made it wait for
the device: without a GPU, PyTorch's data-less ``meta`` device stands in for one (a tensor the
code makes on the CPU by accident meets the meta tensors and raises; a value the host has to read
back, ``float(x)``, ``bool(x)`` or a boolean index, raises as well)."""

from __future__ import annotations

import pytest
import torch

from h2cm.aggregate import monthly_mean
from h2cm.data.cells import pad_cells
from h2cm.training.config import load_config
from h2cm.training.folds import load_fold_data
from h2cm.training.loss import cue_loss, monthly_loss, nee_anomaly_loss
from h2cm.training.trainer import FoldTrainer
from training_fixtures import tiny_overrides

NAN = float("nan")


def test_monthly_mean_ignores_days_outside_the_months():
    day_month = torch.tensor([-1, 0, 0, 1, -1, 1, 1])
    daily = torch.tensor([NAN, 1.0, 3.0, 2.0, 1e30, 4.0, 6.0], dtype=torch.float64, requires_grad=True)
    m = monthly_mean(daily, day_month, 3)
    assert m[:2].tolist() == [2.0, 4.0]  # (1 + 3) / 2, (2 + 4 + 6) / 3: the -1 days leave no trace
    assert torch.isnan(m[2])  # a month without days
    m[:2].sum().backward()
    assert daily.grad.tolist() == [0.0, 0.5, 0.5, 1 / 3, 0.0, 1 / 3, 1 / 3]
    # (T, N) series: each cell on its own
    two = torch.stack([daily.detach(), 2 * daily.detach()], dim=1)
    assert monthly_mean(two, day_month, 2).tolist() == [[2.0, 4.0], [4.0, 8.0]]


def test_short_batches_are_padded_with_their_first_cells():
    idx = torch.tensor([7, 3, 9])
    assert pad_cells(idx, 8).tolist() == [7, 3, 9, 7, 3, 9, 7, 3]
    assert pad_cells(idx, 3) is idx and pad_cells(idx, 2) is idx  # full (or longer) batches unchanged


def test_terms_without_any_data_are_zero_with_zero_gradient():
    model = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    none = torch.full((2, 2), NAN, dtype=torch.float64)
    moy, area = torch.tensor([0, 1]), torch.tensor([1.0, 2.0], dtype=torch.float64)
    loss = monthly_loss(model, none, 0.0, 1.0) + nee_anomaly_loss(model, none, moy, area, 0.0, 1.0)
    loss = loss + cue_loss(model, model, torch.full((2,), NAN, dtype=torch.float64), 0.5, 0.1)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert model.grad.abs().max() == 0.0


@pytest.mark.parametrize("kind", ["hybrid", "constant", "lstm"])
def test_a_training_step_runs_on_another_device(tmp_path, kind):
    # January 2016 on the tiny world (every monthly loss term has data); the spin-up cache
    # (refreshed every 2nd epoch) is filled in epoch 0 and read in epoch 1
    overrides = tiny_overrides(f"model={kind}", "device=meta", "train.spinup_refresh=2", end="2016-01-31")
    cfg = load_config("demo", overrides)
    fd = load_fold_data(cfg, 0, tmp_path)
    trainer = FoldTrainer(cfg, 0, tmp_path / "fold_0", fd.train, fd.val)
    assert {p.device.type for p in trainer.model.parameters()} == {"meta"}
    batch = torch.arange(cfg.train.batch_size)
    for epoch in (0, 1):
        trainer.state.epoch = epoch
        trainer.model.zero_grad(set_to_none=True)
        terms = trainer._forward_terms(trainer.train_data, batch, cfg.train.batch_size, grad=True)
        assert set(terms) == {*trainer.terms, "total"} and {"gpp", "nee", "et"} <= set(terms)
        assert all(v.device.type == "meta" and v.dim() == 0 for v in terms.values())
        terms["total"].backward()
        trainable = [p for p in trainer.model.parameters() if p.requires_grad]
        assert all(p.grad is not None and p.grad.device.type == "meta" for p in trainable)
    assert trainer.spun is not None and trainer.spun.has(batch)
    assert {t.device.type for t in trainer.spun.fields} == {"meta"}
    # validation: a short batch padded to the training batch's shape, no gradients
    short = torch.arange(min(5, fd.val.n_cells))
    with torch.no_grad():
        val = trainer._forward_terms(trainer.val_data, short, cfg.train.batch_size, grad=False)
    assert val["total"].device.type == "meta" and not val["total"].requires_grad


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_fold_on_a_gpu_the_machine_lacks_is_a_clear_error(tmp_path):
    cfg = load_config("demo", tiny_overrides("device=cuda:0"))
    fd = load_fold_data(cfg, 0, tmp_path)
    with pytest.raises(ValueError, match="device: 'cuda:0' requested, but PyTorch sees no CUDA GPU"):
        FoldTrainer(cfg, 0, tmp_path / "fold_0", fd.train, fd.val)
