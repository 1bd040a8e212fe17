"""``h2cm bench --save/--compare``: history entries, same-machine matching, ratios."""

from __future__ import annotations

import json

import pytest

from h2cm import bench_history as bh
from h2cm.cli import main


def _entry(train: float, machine: str = "m1", batch: int = 128, **kw) -> dict:
    return {
        "train": train,
        "train_plain": 100.0,
        "forward": 2 * train,
        "speedup_train": train / 100.0,
        "peak_rss_mb": 500.0,
        "batch": batch,
        "days": 365,
        "threads": 2,
        "device": "cpu",
        "chunk_days": 365,
        "machine_id": machine,
        **kw,
    }


def test_last_comparable_needs_same_machine_and_shape():
    history = [_entry(300, commit="a"), _entry(330, machine="m2"), _entry(310, batch=32), _entry(320, commit="b")]
    assert bh.last_comparable(history, _entry(1))["commit"] == "b"
    assert bh.last_comparable(history[:3], _entry(1))["commit"] == "a"
    assert bh.last_comparable(history, _entry(1, machine="m3")) is None


def test_ratios_are_new_over_old_for_throughputs_only():
    r = bh.ratios(_entry(240), _entry(300))
    assert r == {"train": 0.8, "train_plain": 1.0, "forward": 0.8}  # no speedup, memory or shape keys
    text = bh.compare_text(_entry(240), _entry(300, commit="abc"))
    assert "abc" in text and "slower" in text.splitlines()[2]
    assert "no earlier entry" in bh.compare_text(_entry(1), None)


@pytest.mark.slow
def test_save_then_compare_from_the_cli(tmp_path, capsys):
    hist = tmp_path / "h" / "history.jsonl"
    args = ["bench", "--batch", "3", "--days", "8", "--repeat", "1", "--no-plain", "--history", str(hist)]
    assert main([*args, "--save", "--json"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert first["machine_id"] == bh.machine_id() and first["time_utc"]
    assert main([*args, "--save", "--compare"]) == 0
    out = capsys.readouterr().out
    assert "ratio" in out and "train" in out.split("ratio", 1)[1]
    entries = bh.read_history(hist)
    assert len(entries) == 2 and entries[0]["train"] == first["train"]


def test_a_corrupt_history_is_one_line_exit_2(tmp_path, capsys):
    hist = tmp_path / "history.jsonl"
    hist.write_text('{"train": 1}\nnot json\n')
    code = main(
        ["bench", "--batch", "2", "--days", "4", "--repeat", "1", "--no-plain", "--compare", "--history", str(hist)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "line 2" in err and str(hist) in err


def test_machine_id_names_the_cpu_model_and_its_vector_instructions(tmp_path):
    import os
    import platform

    import torch

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654\nflags\t: avx2\n")
    assert bh.cpu_model(info) == "AMD EPYC 9654"
    assert bh.cpu_model(tmp_path / "absent") == (platform.processor() or "?")
    fields = bh.machine_id().split("|")
    assert fields[3] == torch.backends.cpu.get_cpu_capability() and fields[2] == bh.cpu_model()
    assert fields[0] == platform.node() and fields[4] == str(os.cpu_count())
