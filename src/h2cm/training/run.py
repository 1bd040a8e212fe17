"""The run directory: resolved ``config.yaml`` and ``manifest.json`` (versions, seed, timings).

Several folds may update the manifest at the same time (processes or Ray tasks on one machine):
every update holds an exclusive lock on ``RUN/.manifest.lock`` and rewrites the file atomically.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from .. import atomic
from ..layout import CONFIG as CONFIG_FILE  # file names live in h2cm.layout
from ..layout import MANIFEST as MANIFEST_FILE
from .config import ConfigError, RunConfig, save_config


def versions() -> dict[str, str]:
    """Versions of python and the packages a run depends on."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("h2cm", "torch", "numpy", "pandas", "xarray", "zarr", "pydantic", "ray"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [f"{prefix[:-1]}: {a!r} in the run, {b!r} now"]


def prepare_run_dir(cfg: RunConfig, run_dir: str | os.PathLike) -> Path:
    """Create ``RUN`` and write ``config.yaml``; if the run already has one, it must agree with
    ``cfg`` except for runtime keys (threads, device, progress, num_gpus)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CONFIG_FILE
    if path.exists():
        old = RunConfig.model_validate(yaml.safe_load(path.read_text()))
        diffs = _diff(old.without_runtime(), cfg.without_runtime())
        if diffs:
            raise ConfigError(
                f"{run_dir} was made with a different configuration; use a new --out or the run's own "
                f"config ({path}):\n  " + "\n  ".join(diffs)
            )
    else:
        save_config(cfg, path)
    return run_dir


@contextmanager
def _locked(run_dir: Path):
    with open(run_dir / ".manifest.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def update_manifest(run_dir: str | os.PathLike, cfg: RunConfig, folds: dict[str, dict] | None = None, **extra) -> dict:
    """Merge ``folds`` (fold -> fields) and ``extra`` top-level fields into ``RUN/manifest.json``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with _locked(run_dir):
        m = read_manifest(run_dir)
        m.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        m.update(name=cfg.name, model=cfg.model, seed=cfg.seed, split_seed=cfg.split.seed, versions=versions())
        m.update(extra)
        fm = m.setdefault("folds", {})
        for k, fields in (folds or {}).items():
            entry = fm.setdefault(str(k), {})
            if fields.get("status") == "running":
                entry.pop("error", None)
            entry.update(fields)
        m["folds"] = dict(sorted(fm.items(), key=lambda kv: int(kv[0])))
        atomic.write_json(run_dir / MANIFEST_FILE, m)
    return m
