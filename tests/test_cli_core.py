"""The core verbs through the real command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from h2cm.cli import main


def test_bench_json_has_every_documented_key(capsys):
    assert main(["bench", "--json", "--batch", "4", "--days", "12", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, "--json prints exactly one line"
    res = json.loads(lines[0])
    for key in ("forward", "train", "inference", "forward_plain", "train_plain", "speedup_train", "peak_rss_mb"):
        assert isinstance(res[key], float) and res[key] > 0, key
    assert (res["batch"], res["days"], res["threads"]) == (4, 12, 2)
    assert abs(res["speedup_train"] - res["train"] / res["train_plain"]) < 0.01


@pytest.mark.slow
def test_simulate_prints_summary_with_closed_balances():
    out = subprocess.run(
        [sys.executable, "-m", "h2cm.cli", "simulate", "--cells", "6", "--days", "60"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "simulated 6 cells x 60 days" in out
    assert re.search(r"^gpp\s+[\d.]+", out, re.M)
    pattern = r"water balance max \|error\| = (\S+) mm; carbon balance max \|error\| = (\S+)"
    water, carbon = map(float, re.search(pattern, out).groups())
    assert water < 1e-3 and carbon < 1e-5


def test_unknown_verb_and_help(capsys):
    assert main([]) == 2
    assert "simulate" in capsys.readouterr().out


@pytest.mark.slow
def test_memory_probe_reports_its_own_peak_not_its_parents():
    # ru_maxrss survives execve: a probe started by a big process would report the parent's peak
    from h2cm import runtime
    from h2cm.bench import train_step_memory

    ballast = bytearray(600 * 2**20)  # touch 600 MB in this process
    ballast[::4096] = b"x" * len(ballast[::4096])
    assert runtime.peak_rss_mb() > 600
    res = train_step_memory(batch=2, days=5, threads=1, chunk_days=None)
    assert 0 < res["peak_rss_mb"] < 550, res
    del ballast


def test_bad_input_is_one_clear_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("H2CM_DEBUG", raising=False)
    missing = tmp_path / "no-such-run"
    for verb in (
        ["predict", "--run", str(missing), "--out", str(tmp_path / "o.zarr")],
        ["evaluate", "--run", str(missing)],
    ):
        assert main(verb) == 2
        err = capsys.readouterr().err
        assert f"h2cm {verb[0]}: error: run directory not found: {missing}" in err
        assert "Traceback" not in err
    assert not (tmp_path / "o.zarr").exists()
    monkeypatch.setenv("H2CM_DEBUG", "1")
    with pytest.raises(FileNotFoundError, match="run directory not found"):
        main(["evaluate", "--run", str(missing)])


def test_a_device_the_verbs_cannot_use_is_one_line_before_anything_is_read(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("H2CM_DEBUG", raising=False)
    out, run = tmp_path / "o.zarr", str(tmp_path / "no-such-run")
    verbs = (["predict", "--run", run, "--out", str(out)], ["evaluate", "--run", run, "--out", str(out)], ["bench"])
    for verb in verbs:
        assert main([*verb, "--device", "tpu9"]) == 2
        err = capsys.readouterr().err
        assert f"h2cm {verb[0]}: error: device: 'tpu9' is not a torch device; expected cpu, cuda or cuda:N" in err
        assert "Traceback" not in err and not out.exists()


def test_unknown_arguments_that_are_not_overrides_are_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--cells", "2", "train.epochs=3"])  # simulate takes no overrides
    assert exc.value.code == 2
    assert "unrecognized arguments: train.epochs=3" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cv", "--config", "demo", "--out", "x", "--bogus"])
