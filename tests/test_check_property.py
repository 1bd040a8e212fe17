"""Property: a valid tiny cube mutated at random is either accepted by ``check_cube`` and then
loaded by ``load_cells``, or the problem is named; neither ever crashes with anything but a
ValueError naming it (the CLI's one-line error)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from data_fixtures import make_cube
from h2cm.data.check import check_cube
from h2cm.data.cube import load_cells

pytestmark = pytest.mark.slow  # about 4 s

BASE = make_cube(n_lat=3, n_lon=4, days=40)
VARIABLES = sorted(str(k) for k in BASE.data_vars)
VALUES = (np.nan, np.inf, -np.inf, -1e6, 1e6, 0.0, -1.0, 2.0)


def _mutate(ds, op: str, key: str, value: float, pos: int):
    ds = ds.copy(deep=True)
    if key not in ds and op in ("value", "drop", "units", "rename_dim"):
        return ds  # dropped by an earlier mutation
    if op == "value":
        flat = ds[key].values.reshape(-1)
        flat[pos % flat.size] = (
            value if np.issubdtype(flat.dtype, np.floating) else int(np.clip(value, -9, 9)) if np.isfinite(value) else 3
        )
        ds[key].values = flat.reshape(ds[key].shape)
    elif op == "drop":
        ds = ds.drop_vars(key)
    elif op == "units":
        ds[key].attrs["units"] = ["", "furlong", "K", "mm", "W m-2"][pos % 5]
    elif op == "drop_days":
        ds = ds.drop_isel(time=[pos % ds.sizes["time"], (pos * 7) % ds.sizes["time"]])
    elif op == "reverse_time":
        ds = ds.isel(time=slice(None, None, -1))
    elif op == "rename_dim":
        dims = ds[key].dims
        if dims and "other" not in dims:  # renamed once already: a second rename would conflict
            new = ds[key].rename({dims[pos % len(dims)]: "other"})
            ds = ds.drop_vars(key).assign({key: new})
    elif op == "shift_months":
        ds = ds.assign_coords(month=ds["month"].values + np.timedelta64(pos % 400, "D"))
    return ds


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["value", "drop", "units", "drop_days", "reverse_time", "rename_dim", "shift_months"]),
            st.sampled_from(VARIABLES),
            st.sampled_from(VALUES),
            st.integers(0, 10_000),
        ),
        min_size=1,
        max_size=3,
    )
)
@example(ops=[("value", "co2", -np.inf, 1)])  # found by this test: an infinite forcing value passed check
def test_random_mutations_are_accepted_or_named(ops):
    ds = BASE
    for op in ops:
        ds = _mutate(ds, *op)
    problems = check_cube(ds)  # never raises
    assert all(p.variable and p.message for p in problems)
    errors = [p for p in problems if p.severity == "error"]
    try:
        data = load_cells(ds)
    except ValueError as err:  # CubeError and friends: named
        assert errors, f"load_cells refused a cube that check accepts: {err}"
        assert str(err).strip()
        return
    if not errors:
        assert np.isfinite(data.forcing.numpy()).all() and np.isfinite(data.static.numpy()).all()
