"""``kill -9`` in the middle of ``predict``, ``evaluate`` or ``report`` leaves the previous complete
output (or none), never a partial one, and a rerun completes (real SIGKILL of a child process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eval_fixtures import tiny_world

pytestmark = pytest.mark.slow

# The child runs the verb with one writer slowed down: after the first file is written it leaves a
# marker and sleeps, so the parent kills it while the output is half written.
CHILD = r"""
import sys, time, pathlib
marker = pathlib.Path(sys.argv[1])
import importlib
parts = sys.argv[2].split(".")
for i in range(len(parts) - 1, 0, -1):  # the longest importable prefix is the module
    try:
        owner = importlib.import_module(".".join(parts[:i]))
        break
    except ImportError:
        continue
for attr in parts[i:-1]:
    owner = getattr(owner, attr)
name = parts[-1]
original = getattr(owner, name)
def slowed(*a, **k):
    out = original(*a, **k)
    marker.touch()
    time.sleep(120)
    return out
setattr(owner, name, slowed)
from h2cm.cli import main
sys.exit(main(sys.argv[3:]))
"""

VERBS = {
    # verb: (function slowed down, arguments after the run's paths are filled in)
    "predict": (
        "h2cm.evaluation.predict._Writer.write_block",
        ["predict", "--run", "{run}", "--out", "{out}", "--threads", "1", "--quiet"],
    ),
    "evaluate": (
        "xarray.Dataset.to_netcdf",
        ["evaluate", "--run", "{run}", "--out", "{out}", "--maps-cells", "test", "--threads", "1", "--quiet"],
    ),
    "report": (
        "matplotlib.figure.Figure.savefig",
        ["report", "--run", "{run}", "--evaluation", "{evaluation}", "--out", "{out}", "--quiet"],
    ),
}


def _snapshot(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {"": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _run(args: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "h2cm.cli", *args], check=True, capture_output=True, timeout=600)


def _kill_midway(tmp: Path, patched: str, args: list[str]) -> None:
    marker = tmp / "marker"
    marker.unlink(missing_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker), patched, *args],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "child.err", "w"),  # noqa: SIM115 (closed with the test's folder)
    )
    t0 = time.time()
    while not marker.exists():
        if child.poll() is not None:
            raise AssertionError(f"the child ended before writing: {(tmp / 'child.err').read_text()[-2000:]}")
        assert time.time() - t0 < 300, "the child never started writing"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("verb", list(VERBS))
def test_kill_minus_nine_leaves_previous_or_none(verb, tmp_path_factory, tmp_path):
    world = tiny_world(tmp_path_factory)
    patched, template = VERBS[verb]
    out = tmp_path / ("out.zarr" if verb == "predict" else "out")
    fill = {"run": str(world["run"]), "out": str(out), "evaluation": str(world["evaluation"])}
    args = [a.format(**fill) for a in template]

    _kill_midway(tmp_path, patched, args)  # first time: nothing there before
    assert not out.exists(), "a killed first write left a partial output"

    _run(args)  # a complete output
    before = _snapshot(out)
    assert before
    _kill_midway(tmp_path, patched, args)  # killed while replacing it
    assert _snapshot(out) == before, "a killed rewrite changed the previous complete output"

    _run(args)  # rerunning completes
    assert _snapshot(out).keys() == before.keys()
