"""h2cm check: every listed problem is caught with the variable, what was found and what was expected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_fixtures import make_cube
from h2cm.cli import main
from h2cm.data.check import check_cube
from h2cm.data.cube import CubeError, save_cube
from h2cm.schema import STATIC_FEATURE_KEYS


def errors(ds: xr.Dataset) -> list[str]:
    return [str(p) for p in check_cube(ds) if p.severity == "error"]


def one_error(ds: xr.Dataset, variable: str, *fragments: str) -> str:
    """The cube has an error for ``variable`` whose message contains every fragment."""
    found = [p for p in check_cube(ds) if p.severity == "error" and p.variable == variable]
    assert found, f"no error for {variable}; got {errors(ds)}"
    msg = " | ".join(p.message for p in found)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    return msg


def test_valid_cube_has_no_problem():
    assert check_cube(make_cube()) == []


def test_missing_variable():
    one_error(make_cube().drop_vars("vpd"), "vpd", "missing variable", "('time', 'lat', 'lon')")


def test_missing_units():
    ds = make_cube()
    del ds["prec"].attrs["units"]
    one_error(ds, "prec", "missing units attribute", "expected 'mm d-1'")


def test_wrong_units():
    ds = make_cube()
    ds["rn"].attrs["units"] = "MJ m-2 d-1"
    one_error(ds, "rn", "units 'MJ m-2 d-1'", "expected 'W m-2'")


def test_accepts_equivalent_unit_spelling():
    ds = make_cube()
    ds["prec"].attrs["units"] = "mm/day"
    ds["gpp"].attrs["units"] = "gC m-2 d-1"
    assert errors(ds) == []


def test_celsius_detected_by_range_even_if_units_say_kelvin():
    ds = make_cube()
    ds["tair"] = ds["tair"] - 273.15
    ds["tair"].attrs["units"] = "K"  # the attribute lies
    one_error(ds, "tair", "look like degC", "expected K")


def test_negative_precipitation():
    ds = make_cube()
    ds["prec"][3, 1, 1] = -2.5
    one_error(ds, "prec", "negative precipitation", "-2.5", "expected >= 0")


def test_nan_forcing_inside_mask():
    ds = make_cube()
    ds["tair"][10:13, 2, 3] = np.nan
    one_error(ds, "tair", "3 NaN values in 1 cell(s) inside the land mask")


def test_nan_forcing_outside_mask_is_fine():
    ds = make_cube()
    assert int(ds["tair"].isel(lat=0, lon=0).isnull().sum()) == ds.sizes["time"]  # masked-out point
    assert errors(ds) == []


def test_constraint_on_a_different_grid_dims():
    ds = make_cube()
    gpp = ds["gpp"].values[:, :3, :3]
    ds = ds.drop_vars("gpp").assign(gpp=(("month", "lat_c", "lon_c"), gpp, {"units": "g m-2 d-1"}))
    one_error(ds, "gpp", "does not match the forcing grid", "'lat_c': 3")


def test_constraint_on_a_shifted_grid():
    ds = make_cube()
    shifted = ds["et"].assign_coords(lat=ds["lat"] + 10.0)  # same shape, other place
    merged = xr.merge([ds.drop_vars("et"), shifted.to_dataset()], join="outer", compat="override")
    merged["land_mask"] = merged["land_mask"].fillna(0).astype(np.int8)
    one_error(merged, "et", "does not match the forcing grid")


def test_unsorted_time():
    ds = make_cube()
    order = np.arange(ds.sizes["time"])
    order[[5, 6]] = order[[6, 5]]
    one_error(ds.isel(time=order), "time", "not sorted", "2001-01-07 is followed by 2001-01-06")


def test_duplicated_time():
    ds = make_cube()
    t = pd.DatetimeIndex(ds["time"].values).to_numpy().copy()
    t[8] = t[7]
    one_error(ds.assign_coords(time=t), "time", "duplicated", "2001-01-08")


def test_constraints_outside_forcing_period():
    ds = make_cube()
    months = pd.DatetimeIndex(ds["month"].values) + pd.DateOffset(years=1)
    one_error(ds.assign_coords(month=months), "month", "outside the forcing period", "2002-01", "2001-01..2001-03")


def test_empty_mask():
    ds = make_cube()
    ds["land_mask"][:] = 0
    one_error(ds, "land_mask", "empty mask")


def test_constant_static_feature_warns():
    ds = make_cube()
    ds["static"][:, :, STATIC_FEATURE_KEYS.index("lc_dbf")] = 0.25
    found = [p for p in check_cube(ds) if p.variable == "static[lc_dbf]"]
    assert len(found) == 1 and found[0].severity == "warning" and "constant (0.25)" in found[0].message


def test_all_nan_static_feature():
    ds = make_cube()
    ds["static"][:, :, STATIC_FEATURE_KEYS.index("elevation_std")] = np.nan
    one_error(ds, "static[elevation_std]", "all NaN")


def test_all_nan_constraint():
    ds = make_cube()
    ds["et"][:] = np.nan
    one_error(ds, "et", "all values are NaN")


def test_constraint_out_of_range():
    ds = make_cube()
    ds["cue"][1, 1] = 1.7
    one_error(ds, "cue", "1.7", "expected within 0..1")


def test_every_problem_is_reported_at_once():
    ds = make_cube().drop_vars("co2")
    del ds["prec"].attrs["units"]
    ds["et"][:] = np.nan
    bad = {p.variable for p in check_cube(ds) if p.severity == "error"}
    assert {"co2", "prec", "et"} <= bad


def test_bad_cube_is_not_written(tmp_path):
    ds = make_cube()
    ds["prec"][0, 1, 1] = -1.0
    target = tmp_path / "bad.zarr"
    with pytest.raises(CubeError, match="negative precipitation") as info:
        save_cube(ds, target)
    assert any(p.variable == "prec" for p in info.value.problems)
    assert list(tmp_path.iterdir()) == []  # no cube, no temporary left behind


def _run_check(path) -> int:
    return main(["check", str(path)])


def test_check_verb_exit_codes(tmp_path, capsys):
    good = save_cube(make_cube(), tmp_path / "good.zarr")
    assert _run_check(good) == 0
    assert "OK (0 error(s)" in capsys.readouterr().out

    bad = make_cube()
    bad["tair"] = bad["tair"] - 273.15
    bad.to_zarr(tmp_path / "bad.zarr", consolidated=False)  # bypass save_cube's validation
    assert _run_check(tmp_path / "bad.zarr") == 1
    out = capsys.readouterr().out
    assert "error: tair:" in out and "look like degC" in out and "INVALID" in out

    assert _run_check(tmp_path / "nothing.zarr") == 2
