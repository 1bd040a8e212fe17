"""The constraint table: one row per observation stream, read by loss, skill, views and report."""

import numpy as np
import pytest
import torch

from h2cm.constraints import (
    CONSTRAINT_TABLE,
    CONSTRAINTS,
    CUE_DEFAULT,
    HEADLINE_VIEW,
    MONTHLY_CONSTRAINT_KEYS,
    STATIC_CONSTRAINT_KEYS,
    constraint,
    cue_of_means,
)
from h2cm.evaluation.views import VIEWS, prepare
from h2cm.schema import CONSTRAINT_KEYS, OUTPUT_KEYS, VARIABLES


def test_one_row_per_schema_constraint_in_schema_order():
    assert tuple(c.key for c in CONSTRAINT_TABLE) == CONSTRAINT_KEYS
    assert set(STATIC_CONSTRAINT_KEYS) | set(MONTHLY_CONSTRAINT_KEYS) == set(CONSTRAINT_KEYS)
    assert STATIC_CONSTRAINT_KEYS == ("cue",)


@pytest.mark.parametrize("c", CONSTRAINT_TABLE, ids=lambda c: c.key)
def test_rows_are_consistent(c):
    assert all(k in OUTPUT_KEYS for k in c.reads)
    assert c.output in OUTPUT_KEYS or c.output == c.key  # a daily output, or derived (CUE)
    assert c.units == VARIABLES["constraint"][c.key].units
    assert (c.view == "spatial") == c.static == (c.loss == "cue")
    assert c.view in (*VIEWS, "spatial")
    # the headline view is the one the loss compares
    assert c.view == {"msc": "msc", "cue": "spatial"}.get(c.loss, "monthly")
    assert HEADLINE_VIEW[c.key] == c.view


def test_unknown_constraint_is_named():
    with pytest.raises(KeyError, match="unknown constraint 'lai'.*tws"):
        constraint("lai")


def test_cue_of_means_numpy_and_torch_agree():
    npp, gpp = [0.6, 0.01, 3.0], [1.0, 0.05, 4.0]
    want = [0.6, CUE_DEFAULT, 0.75]
    np.testing.assert_allclose(cue_of_means(np.array(npp), np.array(gpp)), want)
    t = cue_of_means(torch.tensor(npp, requires_grad=True), torch.tensor(gpp))
    np.testing.assert_allclose(t.detach().numpy(), want, rtol=1e-6)


def test_treatments_follow_the_table():
    months = np.array(["2001-01-01", "2001-02-01", "2002-01-01", "2002-02-01"], dtype="datetime64[ns]")
    sim = np.array([[1.0], [2.0], [3.0], [6.0]])
    obs = np.array([[10.0], [20.0], [30.0], [40.0]])
    s, o = prepare("tws", sim, obs, months)  # cell_anomaly: each cell's mean removed from both
    np.testing.assert_allclose(s[:, 0], [-2, -1, 0, 3])
    np.testing.assert_allclose(o[:, 0], [-15, -5, 5, 15])
    s, o = prepare("nee_anomaly", sim, obs, months)  # model_anomaly: the model's own MSC removed
    np.testing.assert_allclose(s[:, 0], [-1, -2, 1, 2])
    np.testing.assert_allclose(o[:, 0], obs[:, 0])
    s, o = prepare("gpp", sim, obs, months)
    np.testing.assert_allclose(s, sim)
    assert CONSTRAINTS["nee_anomaly"].output == "nee"
