"""``h2cm demo``: the whole job end to end on the demo twin world, in minutes on a laptop.

1. build the demo twin world (real geography, generated weather, hidden truth) -> ``DIR/cube.zarr``;
2. train the cross-validation ensemble with the ``demo`` preset -> ``DIR/run/``;
3. simulate the test cells with every fold -> ``DIR/simulations.zarr`` (daily outputs of
   docs/cli/predict.md: ensemble median, min, max and per-fold values);
4. evaluate against observations and the hidden truth -> ``DIR/run/evaluation/``;
5. write the report -> ``DIR/report/index.html``.

Steps whose result already exists are reused (``--fresh`` rebuilds everything); the timings go
to ``DIR/demo.json``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from .. import __version__, runtime

DEMO_PRESET = "demo"


def _stage(name: str, log: dict, fn, *args, **kwargs):
    print(f"\n== {name} ==", flush=True)
    t0 = time.perf_counter()
    res = fn(*args, **kwargs)
    log[name] = round(time.perf_counter() - t0, 1)
    print(f"   {name}: {log[name]:.1f} s", flush=True)
    return res


def _run_complete(run: Path) -> bool:
    from ..evaluation.rundir import RunDir, RunDirError

    try:
        rd = RunDir.open(run)
    except RunDirError:
        return False
    n = (rd.config.get("split") or {}).get("n_folds")
    return n is not None and len(rd.folds) == int(n)


def demo(
    out="h2cm-demo",
    size: str = "demo",
    preset: str = DEMO_PRESET,
    overrides: list[str] | None = None,
    fresh: bool = False,
    seed: int = 0,
    threads: int = 2,
    maps_cells: str = "test",
    compile: bool = False,
) -> Path:
    """Run the demo into ``out``; returns the report's index.html. ``compile``: train with
    ``train.compile=true`` (compiled blocks of days; stays eager where the platform cannot
    compile); ``overrides`` come after it, so ``train.compile=false`` there wins too."""
    from ..data.synth import make_twin_world
    from ..evaluation.evaluate import evaluate
    from ..evaluation.predict import predict
    from ..training.cv import run_cv
    from .html import build_report

    runtime.configure(threads=threads, seed=seed)
    out = Path(out)
    if fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    cube, run, sims, report = out / "cube.zarr", out / "run", out / "simulations.zarr", out / "report"
    log: dict[str, float] = {}
    t0 = time.perf_counter()
    if not cube.exists():
        _stage("twin world", log, make_twin_world, size, seed, cube)
    else:
        print(f"reusing {cube}")
    if not _run_complete(run):
        ov = [f"data.cube={cube.resolve()}", *(["train.compile=true"] if compile else []), *(overrides or [])]
        res = _stage("cross-validation", log, run_cv, preset, run, overrides=ov, resume=run.exists())
        if res.failed:
            raise RuntimeError(f"training failed for folds {res.failed}; see {run}/manifest.json")
    else:
        print(f"reusing {run}")
    _stage("predict", log, predict, run, sims, cube=cube, cells="test", threads=threads)
    _stage("evaluate", log, evaluate, run, cube=cube, maps_cells=maps_cells, simulations=sims, threads=threads)
    index = _stage("report", log, build_report, run, out=report, cube=cube)
    log["total"] = round(time.perf_counter() - t0, 1)
    (out / "demo.json").write_text(json.dumps({"h2cm": __version__, "seconds": log}, indent=1) + "\n")
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in log.items() if k != "total")
    print(f"\ndemo finished in {log['total']:.0f} s ({stages})")
    print(f"report: {index.resolve()}")
    return index
