"""``h2cm bench --save / --compare``: a history of benchmark results, one JSON line per run.

Each entry is the result of :func:`h2cm.bench.run_bench` plus where and when it was measured
(host, CPU, commit, UTC time). ``--compare`` divides the new figures by those of the last entry
measured on the same machine with the same shape (batch, days, threads, device), so a slowdown
between two commits shows as a ratio below 1. Figures from different machines are never compared.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path

from . import atomic

DEFAULT_HISTORY = Path("benchmarks") / "history.jsonl"
SHAPE_KEYS = ("batch", "days", "threads", "device", "chunk_days")
RATE_PREFIXES = ("forward", "train", "inference")  # cell-days/s keys start with one of these


def machine_id() -> str:
    """Host name, architecture, CPU model, the vector instructions PyTorch uses (e.g. AVX2,
    AVX512) and core count: what makes two figures comparable. Machines of one host name can
    differ in all of these (the compiled path gained 3.9x over the plain one on an AVX-512 CPU and
    3.1x on an AVX2 one, docs/performance.md), so figures of different CPUs are never compared."""
    parts = (platform.node(), platform.machine(), cpu_model(), cpu_capability(), str(os.cpu_count()))
    return "|".join(parts)


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else ``platform.processor()``, else ``?``."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "?"


def cpu_capability() -> str:
    """The vector instruction set PyTorch's CPU kernels dispatch to (``DEFAULT``, ``AVX2``,
    ``AVX512``, ...), ``?`` where torch cannot say."""
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - an old or stripped torch: the id simply says less
        return "?"


def git_commit(cwd: Path | None = None) -> str | None:
    """The checked-out commit of the repository h2cm runs from (None outside a git checkout)."""
    here = cwd or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def stamp(result: dict) -> dict:
    """``result`` with the machine, commit and time of measurement added."""
    return {
        **result,
        "machine_id": machine_id(),
        "commit": git_commit(),
        "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def read_history(path: Path) -> list[dict]:
    """Every entry of a history file (none when it does not exist); a bad line names its number."""
    if not path.exists():
        return []
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {i} is not JSON ({e.msg}); expected one bench result per line") from e
    return out


def append(path: Path, entry: dict) -> None:
    """Append one entry as one line (the file and its folder are created when absent)."""
    atomic.append_line(path, json.dumps(entry, sort_keys=True))


def last_comparable(history: list[dict], entry: dict) -> dict | None:
    """The latest entry measured on the same machine with the same shape, or None."""
    for old in reversed(history):
        if old.get("machine_id") == entry.get("machine_id") and all(old.get(k) == entry.get(k) for k in SHAPE_KEYS):
            return old
    return None


def rate_keys(entry: dict) -> list[str]:
    return [
        k
        for k, v in entry.items()
        if k.startswith(RATE_PREFIXES) and isinstance(v, int | float) and not isinstance(v, bool)
    ]


def ratios(new: dict, old: dict) -> dict[str, float]:
    """new / old for every throughput (cell-days/s) the two entries share."""
    return {k: round(new[k] / old[k], 3) for k in rate_keys(new) if old.get(k) and k in old}


def compare_text(new: dict, old: dict | None) -> str:
    """A small table: each throughput now, then, and their ratio."""
    if old is None:
        return "no earlier entry from this machine with the same batch, days, threads, device and chunk"
    lines = [
        f"against {old.get('commit') or '?'} of {old.get('time_utc', '?')} (same machine and shape):",
        f"{'key':<24}{'now':>12}{'then':>12}{'ratio':>8}",
    ]
    for k, r in ratios(new, old).items():
        flag = "  slower" if r < 0.9 else ""
        lines.append(f"{k:<24}{new[k]:>12.0f}{old[k]:>12.0f}{r:>8.2f}{flag}")
    return "\n".join(lines)
