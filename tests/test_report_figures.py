"""Report figures that depend on what the run used: the prior band of the constants figure."""

from __future__ import annotations

import pandas as pd
import pytest

from h2cm.report import figures


def _constants() -> pd.DataFrame:
    return pd.DataFrame(
        {"constant": ["q10", "beta_co2"], "fold_0": [1.4, 0.0016], "fold_1": [1.5, 0.0017], "truth": [1.9, 0.0011]}
    )


def _bands(monkeypatch, tmp_path, priors) -> dict[str, list[str]]:
    seen = {}

    def capture(fig, path):
        seen.update({ax.get_title(): [p.get_label() for p in ax.patches] for ax in fig.axes})
        return path

    monkeypatch.setattr(figures, "_save", capture)
    figures.constants_figure(_constants(), tmp_path, priors)
    return seen


def test_no_prior_band_for_a_run_without_priors(monkeypatch, tmp_path):
    cfg = {"loss": {"priors": False, "q10": {"mean": 1.5, "sd": 0.3}}}
    assert figures.run_priors(cfg) is None
    assert all(not labels for labels in _bands(monkeypatch, tmp_path, figures.run_priors(cfg)).values())


def test_the_band_is_the_prior_the_run_used(monkeypatch, tmp_path):
    cfg = {"loss": {"priors": True, "q10": {"mean": 2.0, "sd": 0.1}, "beta_co2": {"mean": 0.001, "sd": 0.0002}}}
    priors = figures.run_priors(cfg)
    assert priors == {"q10": (2.0, 0.1), "beta_co2": (0.001, 0.0002)}
    seen = {}

    def capture(fig, path):
        for ax in fig.axes:
            seen[ax.get_title()] = [(p.get_label(), p.get_y(), p.get_height()) for p in ax.patches]
        return path

    monkeypatch.setattr(figures, "_save", capture)
    figures.constants_figure(_constants(), tmp_path, priors)
    ((label, y, h),) = seen["learned Q10"]
    assert "prior" in label and (y, y + h) == pytest.approx((1.9, 2.1))
    ((_, y, h),) = seen["learned beta_CO2"]
    assert (y, y + h) == pytest.approx((8.0, 12.0))  # % per 100 ppm
