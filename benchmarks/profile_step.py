"""Where a training step's time goes: torch.profiler over the plain path, the eager fast path and
the compiled fast path, in one process (ratios are meaningful; absolute times are this machine's).

    python benchmarks/profile_step.py [--batch 128] [--days 365] [--threads 2] [--out DIR]

Prints, per path: cell-days/s of one step (best of --repeat), the share of self CPU time in matrix
products (mm/addmm/bmm/linear), in compiled kernels, in other aten operators, and outside any
operator (Python and dispatch overhead), and the top operators. Writes profile.json and
profile.md to --out (default benchmarks/profiles). docs/performance.md quotes the result.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from h2cm import runtime
from h2cm.bench import _loss, make_model
from h2cm.model_plain import plain_forward

MATMUL = (
    "aten::mm",
    "aten::addmm",
    "aten::bmm",
    "aten::baddbmm",
    "aten::matmul",
    "aten::linear",
    "aten::_addmm_activation",
)


def step_fn(kind: str, model, forcing, static, opt):
    def step():
        opt.zero_grad(set_to_none=True)
        if kind == "plain":
            sim = plain_forward(model, forcing, static, spinup=True, outputs="loss")
        else:
            sim = model(forcing, static, spinup=True, outputs="loss", chunk_days=None)
        _loss(sim).backward()
        opt.step()

    return step


def classify(events, wall_us: float) -> dict:
    """Shares of the step's wall time by kind of work (self CPU time, summed over threads' main op)."""
    groups = {"matmul": 0.0, "compiled kernels": 0.0, "other aten": 0.0}
    for e in events:
        t = e.self_cpu_time_total
        if e.key in MATMUL:
            groups["matmul"] += t
        elif any(tag in e.key for tag in ("CompiledFxGraph", "cpp_fused", "Torch-Compiled")) or e.key.startswith(
            "graph_"
        ):
            groups["compiled kernels"] += t
        elif e.key.startswith("aten::"):
            groups["other aten"] += t
    ops = sum(groups.values())
    out = {k: round(100 * v / wall_us, 1) for k, v in groups.items()}
    out["outside operators"] = round(100 * max(wall_us - ops, 0.0) / wall_us, 1)
    return out


def profile_path(kind: str, batch: int, days: int, repeat: int) -> dict:
    model, forcing, static = make_model(batch, days)
    if kind == "compiled":
        model.compile_day(True, block_days=4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    step = step_fn(kind, model, forcing, static, opt)
    step()  # warm-up (and compilation)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        step()
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    return {
        "path": kind,
        "cell_days_per_s": round(batch * days / best, 1),
        "step_seconds": round(best, 3),
        "shares_percent": classify(events, wall * 1e6),
        "top_ops": [
            {"op": e.key[:60], "self_ms": round(e.self_cpu_time_total / 1e3, 1), "calls": e.count} for e in top
        ],
    }


def markdown(results: list[dict], args) -> str:
    base = next(r for r in results if r["path"] == "plain")["cell_days_per_s"]
    lines = [
        f"batch {args.batch}, {args.days} days, {args.threads} threads, torch {torch.__version__}\n",
        "| path | cell-days/s | x plain | matmul % | compiled kernels % | other aten % | outside operators % |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["shares_percent"]
        lines.append(
            f"| {r['path']} | {r['cell_days_per_s']:,.0f} | {r['cell_days_per_s'] / base:.2f} | {s['matmul']} | "
            f"{s['compiled kernels']} | {s['other aten']} | {s['outside operators']} |"
        )
    for r in results:
        lines += ["", f"Top operators, {r['path']} (self CPU ms per step, calls):", ""]
        lines += [f"- `{o['op']}`: {o['self_ms']} ms, {o['calls']} calls" for o in r["top_ops"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--paths", default="plain,eager,compiled")
    ap.add_argument("--out", default="benchmarks/profiles")
    args = ap.parse_args()
    runtime.configure(threads=args.threads, seed=0)
    results = [profile_path(k, args.batch, args.days, args.repeat) for k in args.paths.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=1) + "\n")
    text = markdown(results, args)
    (out / "profile.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
