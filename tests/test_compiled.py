"""The torch.compile'd day step gives the eager fast path's outputs and gradients."""

from __future__ import annotations

import torch

from h2cm.model import H2CM
from h2cm.toy import toy_inputs, toy_model_statistics


def test_compiled_day_equals_eager():
    torch.manual_seed(0)
    forcing, static = toy_inputs(30, 6, seed=1)
    model = H2CM()
    model.set_normalization(*toy_model_statistics(forcing, static))

    def run():
        model.zero_grad()
        sim = model(forcing, static, outputs="loss", chunk_days=10)
        (sim.outputs["gpp"].square().mean() + sim.outputs["et"].mean() + sim.outputs["nee"].mean()).backward()
        return {k: v.detach() for k, v in sim.outputs.items()}, {n: p.grad.clone() for n, p in model.named_parameters()}

    eager_out, eager_grad = run()
    assert model.compile_day(True)
    compiled_out, compiled_grad = run()
    model.compile_day(False)
    for key, value in eager_out.items():
        assert torch.allclose(compiled_out[key], value, rtol=1e-5, atol=1e-5 * (1 + value.abs().max().item())), key
    for name, g in eager_grad.items():
        assert torch.allclose(compiled_grad[name], g, rtol=1e-4, atol=1e-4 * g.abs().max().item() + 1e-12), name
