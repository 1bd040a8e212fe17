"""The torch.compile'd blocks of days give the eager fast path's outputs and gradients."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from h2cm.model import H2CM
from h2cm.toy import toy_inputs, toy_model_statistics


@pytest.mark.slow
def test_compiled_days_equal_eager():
    # 11 days in checkpointed chunks of 5, blocks of 2 days: full blocks, a 1-day remainder, a last
    # chunk shorter than a block, the first block (state without gradients), spin-up without
    # gradients, recomputation
    torch.manual_seed(0)
    forcing, static = toy_inputs(11, 6, seed=1)
    model = H2CM()
    model.set_normalization(*toy_model_statistics(forcing, static))

    def run():
        model.zero_grad()
        sim = model(forcing, static, outputs="loss", chunk_days=5)
        (sim.outputs["gpp"].square().mean() + sim.outputs["et"].mean() + sim.outputs["nee"].mean()).backward()
        return {k: v.detach() for k, v in sim.outputs.items()}, {n: p.grad.clone() for n, p in model.named_parameters()}

    eager_out, eager_grad = run()
    assert model.compile_day(True, block_days=2)
    counters.clear()
    compiled_out, compiled_grad = run()
    # one graph without gradients (spin-up, the checkpointed chunks' first pass), one with them
    # (their recomputation; its first block included); the 1-day remainders run eagerly
    assert counters["stats"]["unique_graphs"] == 2
    model.compile_day(False)
    for key, value in eager_out.items():
        assert torch.allclose(compiled_out[key], value, rtol=1e-5, atol=1e-5 * (1 + value.abs().max().item())), key
    for name, g in eager_grad.items():
        assert torch.allclose(compiled_grad[name], g, rtol=1e-4, atol=1e-4 * g.abs().max().item() + 1e-12), name


def test_day_blocks_whole_blocks_then_the_rest_eagerly():
    from h2cm.model import day_blocks

    model = H2CM()
    model.__dict__.update(_compiled_block="block", _block_days=4)
    for days, want in ((10, [4, 4, 2]), (8, [4, 4]), (3, [3]), (0, [])):  # 3: no empty compiled block
        x, y = torch.arange(days), torch.zeros(days, 2)
        got = list(day_blocks(model, "eager", [x, y]))
        assert [len(p[0]) for _, p in got] == want, days
        assert [f for f, _ in got] == ["block"] * (days // 4) + ["eager"] * (days % 4 > 0)
        if got:
            assert torch.equal(torch.cat([p[0] for _, p in got]), x)


def test_compile_day_rejects_bad_block_size():
    with pytest.raises(ValueError, match="block_days"):
        H2CM().compile_day(True, block_days=0)


def test_compile_day_falls_back_to_eager_with_a_warning_when_the_compiler_fails(monkeypatch):
    import h2cm.model as model_module

    def broken(device):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(model_module, "_compiler_smoke_test", broken)
    model = H2CM()
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler found.*running eagerly"):
        assert not model.compile_day(True)
    forcing, static = toy_inputs(5, 3, seed=2)
    model.set_normalization(*toy_model_statistics(forcing, static))
    with torch.no_grad():
        assert torch.isfinite(model(forcing, static, outputs="loss").outputs["gpp"]).all()


@pytest.mark.slow
def test_compiled_constant_model_equals_eager():
    # the constant-parameter baseline compiles its blocks of days the same way (3-day blocks, 1-day remainder)
    from h2cm.baselines import ConstantModel

    torch.manual_seed(0)
    forcing, static = toy_inputs(10, 5, seed=2)
    model = ConstantModel(n_static=static.shape[1])
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))

    def run():
        model.zero_grad()
        sim = model(forcing, static, outputs="loss", chunk_days=None)
        (sim.outputs["gpp"].mean() + sim.outputs["nee"].square().mean() + sim.outputs["tws"].mean()).backward()
        return {k: v.detach() for k, v in sim.outputs.items()}, {n: p.grad.clone() for n, p in model.named_parameters()}

    eager_out, eager_grad = run()
    assert model.compile_day(True, block_days=3)
    counters.clear()
    compiled_out, compiled_grad = run()
    assert counters["stats"]["unique_graphs"] == 2  # spin-up without gradients, the run with them
    for key, value in eager_out.items():
        assert torch.allclose(compiled_out[key], value, rtol=1e-5, atol=1e-5 * (1 + value.abs().max().item())), key
    for name, g in eager_grad.items():
        assert torch.allclose(compiled_grad[name], g, rtol=1e-4, atol=1e-4 * g.abs().max().item() + 1e-12), name
