"""On a GPU: the compiled day blocks captured in CUDA graphs against the eager fast path and
the plain path (outputs and gradients of one training step), at a small batch.

    python benchmarks/gpu_check.py
"""

from __future__ import annotations

import json

import torch

from h2cm.bench import _loss, make_model
from h2cm.model_plain import plain_forward


def grads(model, fn) -> tuple[dict, list]:
    model.zero_grad(set_to_none=True)
    sim = fn()
    _loss(sim).backward()
    outputs = {k: v.detach().clone() for k, v in sim.outputs.items()}
    return outputs, [p.grad.detach().clone() for p in model.parameters()]


def main() -> None:
    torch.manual_seed(0)
    model, forcing, static = make_model(256, 120, device="cuda")
    model = model.double()
    forcing, static = forcing.double(), static.double()
    run = lambda: model(forcing, static, spinup=True, outputs="loss", chunk_days=None)  # noqa: E731
    out_e, g_e = grads(model, run)
    out_p, g_p = grads(model, lambda: plain_forward(model, forcing, static, spinup=True, outputs="loss"))
    model.compile_day(True, block_days=4, mode="reduce-overhead")
    grads(model, run)  # compile
    out_c, g_c = grads(model, run)
    res = {
        "outputs_compiled_vs_eager": max(float((out_c[k] - out_e[k]).abs().max()) for k in out_e),
        "grads_compiled_vs_eager": max(
            float((a - b).abs().max() / (b.abs().max() + 1e-30)) for a, b in zip(g_c, g_e, strict=True)
        ),
        "outputs_eager_vs_plain": max(float((out_e[k] - out_p[k]).abs().max()) for k in out_e),
        "grads_eager_vs_plain": max(
            float((a - b).abs().max() / (b.abs().max() + 1e-30)) for a, b in zip(g_e, g_p, strict=True)
        ),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
