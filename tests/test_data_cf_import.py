"""``h2cm import``: CF files in their own units, calendars and grids -> a valid cube, values by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cf_fixtures import LAT, LON, RN_WM2, write_files
from h2cm.cli import main
from h2cm.data import cf_grid
from h2cm.data.cf_units import UnitsError, conversion
from h2cm.data.cube import open_cube


@pytest.mark.parametrize(
    ("source", "target", "value", "expected"),
    [
        ("degC", "K", 20.0, 293.15),
        ("kPa", "hPa", 1.5, 15.0),
        ("mol/mol", "ppm", 4e-4, 400.0),
        ("mol mol-1", "ppm", 4e-4, 400.0),
        ("ppmv", "ppm", 390.0, 390.0),
        ("1e-6", "ppm", 390.0, 390.0),
        ("J m-2 d-1", "W m-2", 8.64e6, 100.0),
        ("MJ m-2 d-1", "W m-2", 8.64, 100.0),
        ("kg m-2 s-1", "mm d-1", 1e-5, 0.864),
        ("mm/day", "mm d-1", 2.0, 2.0),
        ("cm", "mm", 1.5, 15.0),
        ("kg m-2", "mm", 12.0, 12.0),
        ("gC m-2 d-1", "g m-2 d-1", 3.0, 3.0),
        ("kg m-2 s-1", "g m-2 d-1", 1e-8, 0.864),
        ("%", "1", 40.0, 0.4),
        ("km2", "m2", 2.0, 2e6),
    ],
)
def test_units_are_converted_by_pint(source, target, value, expected):
    conv = conversion(source, target, "x")
    assert not conv.per_step
    assert conv.scale * value + conv.offset == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("source", "target", "value", "step_days", "expected"),
    [
        ("J m-2", "W m-2", 360000.0, 1 / 24, 100.0),  # hourly amount of energy -> mean flux
        ("m", "mm d-1", 0.001, 1 / 8, 8.0),  # 1 mm in a 3-hour step -> 8 mm d-1
        ("kg m-2", "mm d-1", 31.0, 31.0, 1.0),  # a month's amount -> a rate over the month's days
    ],
)
def test_amounts_per_step_become_rates(source, target, value, step_days, expected):
    conv = conversion(source, target, "x")
    assert conv.per_step
    steps = xr.DataArray([step_days], dims="time")
    out = conv.apply(xr.DataArray([value], dims="time"), steps)
    assert float(out[0]) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("source", "fragment"), [("kg m-2", "cannot be converted"), ("blargh m-2", "not understood")])
def test_units_that_cannot_be_converted_are_named(source, fragment):
    with pytest.raises(UnitsError, match=fragment) as err:
        conversion(source, "K", "tair <- t.nc:t2m")
    assert "tair <- t.nc:t2m" in str(err.value) and "expected" in str(err.value)


def _grid_da(step: float, lat0: float = -20.0, lon0: float = 20.0, n: int = 4) -> xr.DataArray:
    lat = np.arange(lat0 + step / 2, lat0 + n, step)
    lon = np.arange(lon0 + step / 2, lon0 + n, step)
    values = np.add.outer(lat, lon * 0)  # latitude as the value
    return xr.DataArray(values, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


def test_finer_grid_is_coarsened_with_area_weights():
    da = cf_grid.normalise_orientation(_grid_da(0.5))
    out, k = cf_grid.to_one_degree(da, "x")
    assert k == 2 and list(out["lat"].values) == [-16.5, -17.5, -18.5, -19.5]
    w = np.abs(np.sin(np.radians([-16.5, -17.0])) - np.sin(np.radians([-16.0, -16.5])))
    expected = (-16.25 * w[0] + -16.75 * w[1]) / w.sum()  # area-weighted, not -16.5
    assert float(out[0, 0]) == pytest.approx(expected, abs=1e-9)
    assert float(out[0, 0]) != pytest.approx(-16.5, abs=1e-6)


def test_longitudes_0_360_and_south_to_north_are_normalised():
    da = _grid_da(1.0, lon0=350.0, n=20).isel(lat=slice(0, 3))  # lon 350.5 .. 369.5 -> -9.5 .. 9.5
    da = da.assign_coords(lon=da["lon"] % 360)
    out = cf_grid.normalise_orientation(da)
    assert out["lon"].values[0] == -9.5 and np.all(np.diff(out["lon"].values) > 0)
    assert np.all(np.diff(out["lat"].values) < 0)


@pytest.mark.parametrize(
    ("step", "lat0", "fragment"),
    [(2.0, -20.0, "not 1 degree nor finer"), (0.7, -20.0, "not 1 degree nor finer"), (0.5, -20.25, "does not nest")],
)
def test_other_grids_are_refused_naming_the_grid(step, lat0, fragment):
    da = cf_grid.normalise_orientation(_grid_da(step, lat0=lat0, n=8))
    with pytest.raises(cf_grid.GridError, match=fragment) as err:
        cf_grid.to_one_degree(da, "gpp <- g.nc")
    assert "gpp <- g.nc" in str(err.value) and f"step {step:g}" in str(err.value)


def _series(calendar: str, freq: str = "D", periods: int = 40) -> xr.DataArray:
    t = xr.date_range("2004-02-10", periods=periods, freq=freq, calendar=calendar, use_cftime=True)
    return xr.DataArray(np.arange(periods, dtype=float), dims="time", coords={"time": t})


def test_noleap_days_get_a_copy_of_28_february():
    out = cf_grid.real_dates(_series("noleap"), "x", daily=True)
    t = pd.DatetimeIndex(out["time"].values)
    assert len(t) == 41 and pd.Timestamp("2004-02-29") in t
    assert float(out.sel(time="2004-02-29")) == float(out.sel(time="2004-02-28")) == 18.0
    assert float(out.sel(time="2004-03-01")) == 19.0


def test_360_day_daily_is_refused_monthly_is_accepted():
    with pytest.raises(cf_grid.GridError, match="360_day"):
        cf_grid.real_dates(_series("360_day"), "tair <- t.nc", daily=True)
    monthly = cf_grid.real_dates(_series("360_day", freq="MS", periods=3), "x", daily=False)
    assert list(pd.DatetimeIndex(monthly["time"].values).month) == [3, 4, 5]


def test_incomplete_sub_daily_days_are_refused():
    t = pd.date_range("2001-01-01", periods=24 * 3, freq="h").delete(30)
    da = xr.DataArray(np.ones(len(t)), dims="time", coords={"time": t})
    with pytest.raises(cf_grid.GridError, match=r"1 day\(s\) without all 24 steps .*2001-01-02"):
        cf_grid.to_daily(da, "rn <- x.nc")


@pytest.mark.slow
def test_import_end_to_end(tmp_path, capsys):
    mapping = write_files(tmp_path / "files")
    assert main(["import", str(mapping), "--out", str(tmp_path / "cube.zarr")]) == 0
    out = capsys.readouterr().out
    assert "land_mask: derived" in out and "cell_area: derived" in out and "degC -> K" in out
    ds = open_cube(tmp_path / "cube.zarr")
    assert list(ds["lat"].values) == list(LAT) and list(ds["lon"].values) == list(LON)
    assert ds.sizes["time"] == 60 and ds.sizes["month"] == 2 and int(ds["land_mask"].sum()) == 20
    w = np.abs(np.sin(np.radians([-16.0, -16.5])) - np.sin(np.radians([-16.5, -17.0])))
    rn = ds["rn"].isel(time=0).values
    assert rn[0, 0] == pytest.approx((150 * w[0] + RN_WM2 * w[1]) / w.sum(), rel=1e-5) and rn[1, 0] == 100
    tair = ds["tair"].isel(lat=0, lon=0).sel(time=["2004-02-28", "2004-02-29", "2004-03-01"]).values
    assert tair == pytest.approx([293.15 + 2.7, 293.15 + 2.7, 293.15 + 2.8], abs=1e-4)
    assert float(ds["prec"].mean()) == pytest.approx(0.864, rel=1e-5)
    assert float(ds["vpd"].max()) == pytest.approx(15.0) and float(ds["co2"].min()) == pytest.approx(400.0)
    assert ds["tws"].isel(lat=0, lon=0).values == pytest.approx([0.0, 10.0])  # cm -> mm, mid-month stamps
    assert ds["et"].isel(lat=0, lon=0).values == pytest.approx([1.728, 1.728], rel=1e-5)
    assert [str(f) for f in ds["feature"].values] == ["sand", "elevation", "ndvi_max"]
    assert ds["static"].isel(lat=0, lon=0).values[:2] == pytest.approx([0.4, 1200.0], rel=1e-6)
