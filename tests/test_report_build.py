"""``h2cm report`` from a tiny random-weight run: every figure exists and is a non-empty PNG,
the page references them all, and headless Chromium loads the page with every image."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from eval_fixtures import tiny_world
from h2cm.cli import main
from h2cm.constraints import MONTHLY_CONSTRAINT_KEYS
from h2cm.report.html import build_report

pytestmark = pytest.mark.slow  # builds a trained run or a world per module

EXPECTED = (
    "skill_bars.png",
    "maps_gpp_nee.png",
    "maps_efficiency.png",
    "constants.png",
    "regional_msc.png",
    "daily_cell.png",
    "truth_scatter.png",
    "truth_maps.png",
    "skill_bars_truth.png",
    "skill_maps.png",
    *(f"series_{k}.png" for k in MONTHLY_CONSTRAINT_KEYS),
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    world = tiny_world(tmp_path_factory)
    index = build_report(world["run"], out=world["base"] / "report", progress=False)
    return index


def _images(index) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', index.read_text())


def test_every_figure_exists_and_is_a_png(report):
    folder = report.parent
    for name in EXPECTED:
        path = folder / name
        assert path.is_file(), name
        data = path.read_bytes()
        assert len(data) > 5000 and data.startswith(PNG_MAGIC), name
    assert set(_images(report)) == {p.name for p in folder.glob("*.png")}
    assert set(EXPECTED) <= set(_images(report))


def test_page_content(report):
    page = report.read_text()
    for text in (
        "Skill against observations",
        "Table C1",
        "TransCom",
        "Fig. 7",
        "What this run used",
        "hidden truth",
        "PUE",
        "LUE",
        "gC MJ-1",
        "q10",
        "beta_co2",
    ):
        assert text in page, text
    assert "http://" not in page and "https://" not in page  # self-contained: nothing fetched


def test_the_fold_ensemble_against_the_truth_is_in_the_report(report, tmp_path_factory):
    import json

    from h2cm.evaluation.skill import fmt

    info = json.loads((tiny_world(tmp_path_factory)["evaluation"] / "summary.json").read_text())
    page = report.read_text()
    section = page.split("The fold ensemble against the truth", 1)[1].split("</table>", 1)[0]
    for key in ("gpp", "nee"):
        row = section.split(f'<td class="l">{key}</td>', 1)[1].split("</tr>", 1)[0]
        assert f">{fmt(info['ensemble_truth'][key]['msc'])}<" in row, key
    from h2cm.report.sections import ensemble_truth_html

    assert ensemble_truth_html({}) == ""  # an evaluation written before the field existed


def test_report_cli_rebuilds_atomically(tmp_path_factory, tmp_path, capsys):
    world = tiny_world(tmp_path_factory)
    out = tmp_path / "rep"
    out.mkdir()
    (out / "stale.png").write_bytes(b"old")  # an earlier report is replaced as a whole
    assert main(["report", "--run", str(world["run"]), "--out", str(out)]) == 0
    assert "report written" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
    assert (out / "index.html").is_file() and not (out / "stale.png").exists()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_chromium_loads_the_page_with_every_image(report, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (scripts/setup-browser.sh installs it)")
        pytest.skip("chromium not installed (run scripts/setup-browser.sh)")
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        report.resolve().as_uri(),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r'data-images-loaded="(\d+)/(\d+)"', res.stdout)
    assert m, "the page's load script did not run: " + res.stdout[:500]
    loaded, total = int(m.group(1)), int(m.group(2))
    assert total == len(_images(report)) >= len(EXPECTED)
    assert loaded == total
