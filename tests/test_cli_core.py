"""The core verbs through the real command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

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
