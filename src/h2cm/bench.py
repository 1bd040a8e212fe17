"""``h2cm bench``: throughput of the model in cell-days per second, fast path beside plain path.

Every figure is measured in the same process, one after the other, so ratios are meaningful even
on a noisy machine. ``train`` is a full training step: spin-up (the whole period without
gradients), forward with gradients, backward, optimiser step. ``*_plain`` runs the same networks
the straightforward way (:func:`h2cm.model_plain.plain_forward`).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time

import torch

from . import __version__, runtime
from .model import H2CM
from .model_plain import plain_forward
from .toy import toy_inputs, toy_model_statistics


def _loss(sim) -> torch.Tensor:
    o = sim.outputs
    return o["gpp"].mean() + o["et"].mean() + o["nee"].square().mean() + (o["tws"] - o["tws"].mean(0)).square().mean()


def _timed(fn, repeat: int, device: str = "cpu") -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def make_model(batch: int, days: int, seed: int = 0, device: str = "cpu"):
    dev = runtime.device(device)  # one line (exit 2) for a device this machine lacks, not a traceback
    forcing, static = toy_inputs(days, batch, seed=seed)
    model = H2CM(n_static=static.shape[1])
    model.set_normalization(*toy_model_statistics(forcing, static))
    return model.to(dev), forcing.to(dev), static.to(dev)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_bench(
    batch: int = 128,
    days: int = 365,
    threads: int = 2,
    repeat: int = 2,
    chunk_days: int | None = 365,
    plain: bool = True,
    compile: bool = False,
    device: str = "cpu",
    block_days: int = 4,
) -> dict:
    runtime.configure(threads=threads, seed=0)
    model, forcing, static = make_model(batch, days, device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=0.005)
    n = batch * days

    def forward():
        with torch.no_grad():
            model(forcing, static, spinup=False, outputs="loss")

    def inference():
        with torch.no_grad():
            model(forcing, static, spinup=False, outputs="all")

    def train():
        opt.zero_grad(set_to_none=True)
        _loss(model(forcing, static, spinup=True, outputs="loss", chunk_days=chunk_days)).backward()
        opt.step()

    def forward_plain():
        with torch.no_grad():
            plain_forward(model, forcing, static, spinup=False, outputs="loss")

    def inference_plain():
        with torch.no_grad():
            plain_forward(model, forcing, static, spinup=False, outputs="all")

    def train_plain():
        opt.zero_grad(set_to_none=True)
        _loss(plain_forward(model, forcing, static, spinup=True, outputs="loss")).backward()
        opt.step()

    res: dict = {}
    cases = [("forward", forward), ("train", train), ("inference", inference)]
    if plain:
        cases += [("forward_plain", forward_plain), ("train_plain", train_plain), ("inference_plain", inference_plain)]
    for name, fn in cases:
        res[name] = round(n / _timed(fn, repeat, device), 1)
    if compile:
        t0 = time.perf_counter()
        model.compile_day(True, block_days=block_days, mode="reduce-overhead" if device.startswith("cuda") else None)
        forward(), train(), inference()  # compile every variant once
        res["compile_seconds"] = round(time.perf_counter() - t0, 1)
        res["block_days"] = block_days
        for name, fn in cases[:3]:
            res[f"{name}_compiled"] = round(n / _timed(fn, repeat, device), 1)
        model.compile_day(False)
        if plain:
            res["speedup_train_compiled"] = round(res["train_compiled"] / res["train_plain"], 3)
    if plain:
        res["speedup_forward"] = round(res["forward"] / res["forward_plain"], 3)
        res["speedup_train"] = round(res["train"] / res["train_plain"], 3)
        res["speedup_inference"] = round(res["inference"] / res["inference_plain"], 3)
    res["peak_rss_mb"] = round(runtime.peak_rss_mb(), 1)
    if device.startswith("cuda"):
        res["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        res["gpu"] = torch.cuda.get_device_name()
    res.update(
        batch=batch,
        days=days,
        threads=threads,
        chunk_days=chunk_days,
        repeat=repeat,
        device=device,
        torch=torch.__version__,
        h2cm=__version__,
        machine=platform.machine(),
        processor=platform.processor(),
    )
    return res


def train_step_memory(batch: int, days: int, threads: int, chunk_days: int | None) -> dict:
    """One training step over ``days`` in a fresh subprocess; returns its peak RSS and time."""
    code = (
        "import json,sys,time;from h2cm.bench import _memory_probe;"
        f"print(json.dumps(_memory_probe({batch},{days},{threads},{chunk_days!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _memory_probe(batch: int, days: int, threads: int, chunk_days: int | None) -> dict:
    runtime.configure(threads=threads, seed=0)
    model, forcing, static = make_model(batch, days)
    opt = torch.optim.AdamW(model.parameters(), lr=0.005)
    t0 = time.perf_counter()
    _loss(model(forcing, static, spinup=True, outputs="loss", chunk_days=chunk_days)).backward()
    opt.step()
    seconds = time.perf_counter() - t0
    return {
        "days": days,
        "batch": batch,
        "chunk_days": chunk_days,
        "seconds": round(seconds, 2),
        "train_cell_days_per_s": round(batch * days / seconds, 1),
        "peak_rss_mb": round(runtime.peak_rss_mb(), 1),
    }
