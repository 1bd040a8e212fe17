"""Cross-validation: train the folds of a run with a local or a Ray executor.

``local`` trains the folds one after another in this process (``jobs=1``) or in ``jobs`` worker
processes. ``ray`` submits one task per fold to a Ray cluster (``ray.init()`` starts a local one
unless an address is given); each task requests ``threads`` CPUs and ``num_gpus`` GPUs. With a
multi-machine cluster the run directory must be on a file system every node sees. A fold that
fails does not stop the others; it is reported with the command that re-runs it alone.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .config import RunConfig, load_config
from .folds import ensure_split, require_cube
from .run import CONFIG_FILE, prepare_run_dir, update_manifest

EXECUTORS = ("local", "ray")


@dataclass
class FoldOutcome:
    fold: int
    ok: bool
    result: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class CVResult:
    run_dir: Path
    outcomes: list[FoldOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[int]:
        return [o.fold for o in self.outcomes if not o.ok]

    def summary(self) -> str:
        lines = [f"{'fold':>4} {'status':>7} {'epochs':>6} {'best':>5} {'val_loss':>10} {'s/epoch':>8}"]
        for o in self.outcomes:
            if o.ok and o.result:
                r = o.result
                lines.append(
                    f"{o.fold:>4} {'ok':>7} {r['epochs']:>6} {r['best_epoch']:>5} "
                    f"{r['best_val_loss']:>10.4g} {r['seconds_per_epoch']:>8.2f}"
                )
            else:
                lines.append(f"{o.fold:>4} {'FAILED':>7}  {(o.error or '').strip().splitlines()[-1][:80]}")
        lines.append(f"{len(self.outcomes) - len(self.failed)}/{len(self.outcomes)} folds done in {self.seconds:.1f} s")
        for k in self.failed:
            lines.append(f"re-run fold {k}: {rerun_command(self.run_dir, k)}")
        return "\n".join(lines)


def parse_folds(spec: str | None, n_folds: int) -> list[int]:
    """``"0-9"``, ``"0,3,5"``, ``"2"``, ``"1-3,7"`` -> sorted fold numbers (None: all)."""
    if spec is None or str(spec).strip() in ("", "all"):
        return list(range(n_folds))
    out: set[int] = set()
    for part in str(spec).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ValueError(f"bad fold list {spec!r}: use e.g. 0-9 or 0,3,5")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if a > b:
            raise ValueError(f"bad fold range {part!r}")
        out.update(range(a, b + 1))
    bad = [k for k in out if k >= n_folds]
    if bad:
        raise ValueError(f"fold(s) {sorted(bad)} out of range 0..{n_folds - 1}")
    return sorted(out)


def rerun_command(run_dir: str | os.PathLike, fold: int) -> str:
    run = Path(run_dir)
    return f"h2cm train --config {run / CONFIG_FILE} --fold {fold} --out {run} --resume"


def _fold_task(cfg_dict: dict, fold: int, run_dir: str, resume: bool, data=None) -> dict:
    """Train one fold (runs in a worker process or Ray task); returns its result as a dict."""
    from .trainer import train_fold

    cfg = RunConfig.model_validate(cfg_dict)
    return train_fold(cfg, fold, run_dir, resume=resume, data=data).to_dict()


def _error_text(err: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(err), err)).strip()


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_jobs(cfg: RunConfig, n_folds: int) -> int:
    """Folds trained at once by the local executor: as many as the CPUs hold at ``threads`` each."""
    return max(1, min(n_folds, cpu_count() // cfg.threads))


def run_local(
    cfg: RunConfig, run_dir: Path, folds: list[int], jobs: int | None = None, resume: bool = False, data=None
) -> list[FoldOutcome]:
    """Train ``folds`` here one after another (``jobs=1``), or in ``jobs`` spawned worker processes
    (default: :func:`default_jobs`). Progress bars are off in worker processes (epoch lines stay)."""
    outcomes: list[FoldOutcome] = []
    jobs = default_jobs(cfg, len(folds)) if jobs is None else jobs
    if jobs <= 1:
        for k in folds:
            try:
                outcomes.append(FoldOutcome(k, True, _fold_task(cfg.to_dict(), k, str(run_dir), resume, data)))
            except Exception as err:  # noqa: BLE001 - a failed fold is reported, others go on
                traceback.print_exc()
                outcomes.append(FoldOutcome(k, False, error=_error_text(err)))
        return outcomes
    quiet = cfg.model_copy(update={"progress": False}).to_dict()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = {k: pool.submit(_fold_task, quiet, k, str(run_dir), resume, data) for k in folds}
        for k, fut in futures.items():
            try:
                outcomes.append(FoldOutcome(k, True, fut.result()))
            except Exception as err:  # noqa: BLE001
                outcomes.append(FoldOutcome(k, False, error=_error_text(err)))
    return outcomes


def import_ray():
    """The ``ray`` module, or a clear error telling how to install it."""
    try:
        import ray
    except ImportError as err:
        raise RuntimeError(
            "the ray executor needs Ray: pip install 'h2cm[ray]' (or pip install 'ray[default]')"
        ) from err
    return ray


def run_ray(
    cfg: RunConfig, run_dir: Path, folds: list[int], address: str | None = None, resume: bool = False, data=None
) -> list[FoldOutcome]:
    """One Ray task per fold (``num_cpus=threads``, ``num_gpus=num_gpus``; with
    ``train.data_parallel`` > 1 a task that drives the fold's Ray Train workers, each of which
    requests them instead); collects every result.

    Uses the Ray instance this process is already connected to, else ``ray.init(address)`` (a
    fresh local instance when ``address`` is None), which is shut down again at the end."""
    import_ray()  # a clear error when Ray is missing
    from .distributed import ray_session

    with ray_session(address) as ray:
        # data-parallel folds: the task only drives Ray Train, whose workers hold the CPUs and GPUs
        cpus, gpus = (0, 0) if cfg.train.data_parallel > 1 else (cfg.threads, cfg.num_gpus)
        task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(_fold_task)
        quiet = cfg.model_copy(update={"progress": False}).to_dict()
        data_ref = ray.put(data) if data is not None else None
        refs = {k: task.remote(quiet, k, str(run_dir.resolve()), resume, data_ref) for k in folds}
        outcomes = []
        for k, ref in refs.items():
            try:
                outcomes.append(FoldOutcome(k, True, ray.get(ref)))
            except Exception as err:  # noqa: BLE001 - RayTaskError etc.: report, go on
                cause = getattr(err, "cause", None) or err
                outcomes.append(FoldOutcome(k, False, error=_error_text(cause)))
        return outcomes


def run_cv(
    config: RunConfig | str | os.PathLike,
    out_dir: str | os.PathLike,
    executor: str = "local",
    folds: str | list[int] | None = None,
    ray_address: str | None = None,
    jobs: int | None = None,
    resume: bool = False,
    overrides: list[str] | None = None,
    data=None,
) -> CVResult:
    """Train the folds of a run (default all) in ``out_dir`` with the chosen executor.

    The run's ``config.yaml`` and ``split.json`` are written once, before any fold starts, so
    every fold uses the same split. ``data``: cells to use instead of ``data.cube`` (tests)."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; use one of {EXECUTORS}")
    cfg = config if isinstance(config, RunConfig) and not overrides else load_config(config, overrides)
    if data is None:
        require_cube(cfg)
    if cfg.train.data_parallel > 1:
        from .distributed import require_ray_train

        require_ray_train(cfg)
    run_dir = Path(out_dir)
    fold_list = folds if isinstance(folds, list) else parse_folds(folds, cfg.split.n_folds)
    ensure_split(cfg, run_dir, data)  # first: a split that cannot be made leaves nothing behind
    prepare_run_dir(cfg, run_dir)
    update_manifest(run_dir, cfg, cv={"executor": executor, "folds": fold_list, "started": time.time()})
    t0 = time.perf_counter()
    if executor == "ray":
        outcomes = run_ray(cfg, run_dir, fold_list, ray_address, resume, data)
    elif cfg.train.data_parallel > 1:  # one fold after another, each on Ray Train workers of one local Ray
        from .distributed import ray_session

        with ray_session(ray_address):
            outcomes = run_local(cfg, run_dir, fold_list, 1, resume, data)
    else:
        outcomes = run_local(cfg, run_dir, fold_list, jobs, resume, data)
    res = CVResult(run_dir, outcomes, time.perf_counter() - t0)
    update_manifest(
        run_dir,
        cfg,
        folds={str(o.fold): {"status": "failed", "error": o.error} for o in outcomes if not o.ok},
        cv={"executor": executor, "folds": fold_list, "seconds": round(res.seconds, 1), "failed": res.failed},
    )
    return res
