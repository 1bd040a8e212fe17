"""A catalogue of bad cubes, files and configurations, each rejected through the CLI with a message
naming the variable (or key) and what was expected, and no traceback.

``h2cm check`` exits 1 on an invalid cube (2 when the path is not a cube: docs/cli/check.md);
``h2cm import`` and ``h2cm train`` exit 2 on bad input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from cf_fixtures import write_files
from data_fixtures import make_cube
from h2cm.cli import main
from h2cm.data.cube import TRUTH_GROUP, save_cube, write_dataset
from h2cm.schema import STATIC_FEATURE_KEYS

pytestmark = pytest.mark.slow  # 48 cases, about 40 s on 2 cores


def _feature(ds, name, value, cell=(1, 1)):
    ds["static"][cell[0], cell[1], STATIC_FEATURE_KEYS.index(name)] = value
    return ds


def _set(ds, key, value, index):
    ds[key][index] = value
    return ds


def _attr(ds, key, **attrs):
    ds[key].attrs.update(attrs)
    return ds


def _dropattr(ds, key, attr):
    del ds[key].attrs[attr]
    return ds


def _daily_truth(ds, days=None, drop_time_of=None, lat=None):
    t = ds["time"].values if days is None else days
    shape = (len(t), ds.sizes["lat"], ds.sizes["lon"])
    truth = xr.Dataset(
        {
            "gpp": (("time", "lat", "lon"), np.ones(shape, np.float32), {"units": "g m-2 d-1"}),
            "alpha_t": (("time", "lat", "lon"), np.full(shape, 0.5, np.float32), {"units": "1"}),
            "smmax": (("lat", "lon"), np.full(shape[1:], 100.0, np.float32), {"units": "mm"}),
            "q10": ((), 1.5, {"units": "1"}),
        },
        coords={"time": t, "lat": ds["lat"].values if lat is None else lat, "lon": ds["lon"].values},
    )
    if drop_time_of:
        truth[drop_time_of] = truth[drop_time_of].isel(time=0, drop=True)
    return truth


def _shift_months(ds):
    return ds.assign_coords(month=pd.DatetimeIndex(ds["month"].values) + pd.DateOffset(years=1))


def _swap_days(ds):
    order = np.arange(ds.sizes["time"])
    order[[5, 6]] = order[[6, 5]]
    return ds.isel(time=order)


def _dup_day(ds):
    t = ds["time"].values.copy()
    t[8] = t[7]
    return ds.assign_coords(time=t)


def _lat_unsorted(ds):
    lat = ds["lat"].values.copy()
    lat[[1, 2]] = lat[[2, 1]]
    return ds.assign_coords(lat=lat)


def _dup_features(ds):
    names = list(STATIC_FEATURE_KEYS)
    names[1] = names[0]
    return ds.assign_coords(feature=np.array(names, dtype=object))


# (id, mutation of a valid cube, truth group or None, variable named, fragments of the message)
CUBES = [
    ("missing-forcing", lambda d: d.drop_vars("vpd"), None, "vpd", ["missing variable", "expected"]),
    ("missing-units", lambda d: _dropattr(d, "rn", "units"), None, "rn", ["missing units", "'W m-2'"]),
    ("wrong-units", lambda d: _attr(d, "rn", units="MJ m-2 d-1"), None, "rn", ["MJ m-2 d-1", "expected 'W m-2'"]),
    ("celsius", lambda d: d.assign(tair=d["tair"] - 273.15), None, "tair", ["look like degC", "expected K"]),
    ("negative-prec", lambda d: _set(d, "prec", -2.5, (3, 1, 1)), None, "prec", ["negative", "expected >= 0"]),
    ("nan-forcing", lambda d: _set(d, "co2", np.nan, (3, 1, 1)), None, "co2", ["NaN", "expected complete forcing"]),
    ("vpd-range", lambda d: _set(d, "vpd", 900.0, (3, 1, 1)), None, "vpd", ["900", "expected within 0..200"]),
    ("inf-forcing", lambda d: _set(d, "co2", -np.inf, (3, 1, 1)), None, "co2", ["infinite", "expected finite"]),
    ("inf-constraint", lambda d: _set(d, "gpp", np.inf, (1, 1, 1)), None, "gpp", ["infinite", "expected finite"]),
    ("unsorted-time", _swap_days, None, "time", ["not sorted", "expected increasing"]),
    ("duplicated-day", _dup_day, None, "time", ["duplicated", "expected unique"]),
    ("missing-day", lambda d: d.drop_isel(time=[10, 11]), None, "time", ["2 missing day(s)", "2001-01-11", "expected"]),
    ("months-outside", _shift_months, None, "month", ["outside the forcing period", "expected months within"]),
    (
        "month-not-first",
        lambda d: d.assign_coords(month=d["month"].values + np.timedelta64(2, "D")),
        None,
        "month",
        ["not first days", "expected"],
    ),
    ("empty-mask", lambda d: _set(d, "land_mask", 0, slice(None)), None, "land_mask", ["empty mask", "expected"]),
    ("mask-values", lambda d: _set(d, "land_mask", 2, (1, 1)), None, "land_mask", ["other than 0/1", "expected"]),
    (
        "static-all-nan",
        lambda d: _feature(d, "sand", np.nan, (slice(None), slice(None))),
        None,
        "static[sand]",
        ["all NaN", "expected"],
    ),
    (
        "static-nan-cell",
        lambda d: _feature(d, "clay", np.nan),
        None,
        "static[clay]",
        ["1 land cell", "expected finite"],
    ),
    (
        "static-inf-cell",
        lambda d: _feature(d, "elevation", np.inf),
        None,
        "static[elevation]",
        ["infinite", "expected finite"],
    ),
    ("static-range", lambda d: _feature(d, "sand", 3.0), None, "static[sand]", ["3", "expected within 0..1"]),
    ("duplicated-features", _dup_features, None, "static", ["duplicated feature names"]),
    ("constraint-all-nan", lambda d: _set(d, "gpp", np.nan, slice(None)), None, "gpp", ["all values are NaN"]),
    ("cue-range", lambda d: _set(d, "cue", 1.7, (1, 1)), None, "cue", ["1.7", "expected within 0..1"]),
    ("area-negative", lambda d: _set(d, "cell_area", -1.0, (1, 1)), None, "cell_area", ["area <= 0", "expected > 0"]),
    ("lat-units", lambda d: _attr(d, "lat", units="degrees"), None, "lat", ["'degrees'", "expected 'degrees_north'"]),
    ("lat-unsorted", _lat_unsorted, None, "lat", ["not strictly monotonic", "expected sorted"]),
    (
        "constraint-other-grid",
        lambda d: d.drop_vars("et").assign(
            et=(("month", "lat_c", "lon_c"), np.ones((3, 2, 2), np.float32), {"units": "mm d-1"})
        ),
        None,
        "et",
        ["does not match the forcing grid", "expected dims"],
    ),
    (
        "truth-parameter-without-time",
        lambda d: d,
        lambda d: _daily_truth(d, drop_time_of="alpha_t"),
        "truth/alpha_t",
        ["dims ('lat', 'lon')", "expected ('time', 'lat', 'lon')"],
    ),
    (
        "truth-other-grid",
        lambda d: d,
        lambda d: _daily_truth(d, lat=d["lat"].values + 10),
        "truth/lat",
        ["differ", "expected the same grid"],
    ),
    (
        "truth-missing-days",
        lambda d: d,
        lambda d: _daily_truth(d, days=d["time"].values[:30]),
        "truth/time",
        ["60 of the cube's days absent", "expected every day"],
    ),
    (
        "truth-unknown-only",
        lambda d: d,
        lambda d: _daily_truth(d).rename(gpp="gross", alpha_t="a", smmax="s", q10="q"),
        "truth",
        ["none of its variables", "expected e.g. gpp"],
    ),
    (
        "truth-units",
        lambda d: d,
        lambda d: _attr(_daily_truth(d), "gpp", units="kg m-2 s-1"),
        "truth/gpp",
        ["'kg m-2 s-1'", "expected 'g m-2 d-1'"],
    ),
]


def _check(path, capsys) -> tuple[int, str]:
    code = main(["check", str(path)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out + out.err


@pytest.mark.parametrize(
    ("mutate", "truth", "variable", "fragments"), [c[1:] for c in CUBES], ids=[c[0] for c in CUBES]
)
def test_bad_cube_is_named_by_check(tmp_path, capsys, mutate, truth, variable, fragments):
    ds = mutate(make_cube())
    path = tmp_path / "bad.zarr"
    write_dataset(ds, path)  # no validation
    if truth is not None:
        write_dataset(truth(ds), path, group=TRUTH_GROUP, mode="a")
    code, out = _check(path, capsys)
    assert code == 1, out
    lines = [x for x in out.splitlines() if x.startswith(f"error: {variable}:")]
    assert any(all(fragment in line for fragment in fragments) for line in lines), out


def test_corrupted_chunk_names_variable_and_file(tmp_path, capsys):
    path = save_cube(make_cube(), tmp_path / "c.zarr")
    chunk = next(p for p in sorted((path / "rn" / "c").rglob("*")) if p.is_file())
    chunk.write_bytes(b"not a zstd frame" * 4)
    code, out = _check(path, capsys)
    assert code == 1 and f"error: rn: cannot read {chunk}" in out and "expected readable data" in out, out


def test_constraint_array_of_another_grid_names_the_variable(tmp_path, capsys):
    import zarr

    path = save_cube(make_cube().drop_vars("gpp"), tmp_path / "g.zarr")
    arr = zarr.open_group(str(path), mode="a").create_array(
        "gpp", shape=(3, 2, 5), dtype="f4", dimension_names=("month", "lat", "lon")
    )
    arr.attrs["units"] = "g m-2 d-1"
    code, out = _check(path, capsys)
    assert code == 1 and "error: gpp: lat has 2 points; expected 4" in out, out


# --- files for h2cm import -----------------------------------------------------------------------


def _mapping_edit(files, edit):
    path = files / "mapping.yaml"
    mapping = yaml.safe_load(path.read_text())
    edit(mapping, files)
    path.write_text(yaml.safe_dump(mapping))
    return path


def _rewrite(files, name, fn):
    with xr.open_dataset(files / name) as ds:
        new = fn(ds.load())
    new.to_netcdf(files / name)


def _units(name, var, units):
    return lambda m, f: _rewrite(f, name, lambda ds: ds.assign({var: ds[var].assign_attrs(units=units)}))


def _no_units(name, var):
    def edit(m, f):
        def drop(ds):
            ds[var].attrs.pop("units")
            return ds

        _rewrite(f, name, drop)

    return edit


def _coarse_grid(m, f):  # 2-degree vpd
    _rewrite(
        f,
        "vpd.nc",
        lambda ds: ds.isel(lat=[0, 2], lon=[0, 2, 4]).assign_coords(lat=[-17.0, -19.0], lon=[21.0, 23.0, 25.0]),
    )


def _gap(m, f):
    _rewrite(f, "vpd.nc", lambda ds: ds.drop_isel(time=[20]))


def _calendar360(m, f):
    t = xr.date_range("2004-02-01", periods=60, freq="D", calendar="360_day", use_cftime=True)
    _rewrite(f, "vpd.nc", lambda ds: ds.assign_coords(time=t))


def _small_vpd(m, f):
    _rewrite(f, "vpd.nc", lambda ds: ds.isel(lat=slice(0, 2)))


FILES = [
    ("missing-forcing-entry", lambda m, f: m.pop("co2"), "co2", ["no entry for the forcing", "expected all of"]),
    ("unknown-key", lambda m, f: m.update(sif="sif.nc"), "sif", ["unknown key", "expected cube variables"]),
    ("no-such-file", lambda m, f: m.update(vpd="nothing_*.nc"), "vpd", ["no file matches", "expected existing"]),
    (
        "no-such-variable",
        lambda m, f: m.update(tair={"files": "t2m.nc", "variable": "t"}),
        "tair",
        ["no variable 't'", "found"],
    ),
    ("units-not-convertible", _units("vpd.nc", "vpd", "kg m-2"), "vpd", ["cannot be converted to 'hPa'", "expected"]),
    ("units-unknown", _units("t2m.nc", "t2m", "degrees Fahrenheight"), "tair", ["not understood", "expected"]),
    ("units-missing", _no_units("co2.nc", "co2"), "co2", ["no units attribute", "expected one"]),
    ("coarser-grid", _coarse_grid, "vpd", ["step 2 degrees", "expected 1-degree cells"]),
    ("daily-gap", _gap, "vpd", ["missing day", "2004-02-21", "expected every day"]),
    ("calendar-360-daily", _calendar360, "vpd", ["360_day", "expected a standard"]),
    ("forcing-not-covering", _small_vpd, "vpd", ["does not cover the cube's grid", "expected forcing"]),
    ("bad-region", lambda m, f: m.update(region={"lat": [50, 60]}), "region", ["holds no cell", "expected"]),
]


@pytest.mark.parametrize(("edit", "variable", "fragments"), [c[1:] for c in FILES], ids=[c[0] for c in FILES])
def test_bad_import_files_are_named(tmp_path, capsys, edit, variable, fragments):
    files = tmp_path / "files"
    write_files(files)
    mapping = _mapping_edit(files, edit)
    code = main(["import", str(mapping), "--out", str(tmp_path / "cube.zarr")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.startswith("h2cm import: error: ") and variable in err, err
    for fragment in fragments:
        assert fragment in err, err
    assert not (tmp_path / "cube.zarr").exists()


# --- configurations against the cube ---------------------------------------------------------------


@pytest.fixture(scope="module")
def small_cube(tmp_path_factory):
    return save_cube(make_cube(), tmp_path_factory.mktemp("cfg") / "cube.zarr")


CONFIGS = [
    ("period-outside", ["data.start=2010-01-01"], "data.start", ["outside the cube's days", "2001-01-01..2001-03-31"]),
    ("end-outside", ["data.end=2002-06-30"], "data.end", ["outside the cube's days", "expected a date inside"]),
    ("constraint-absent", ["data.constraints=[tws,swe,gpp]"], "data.constraints", ["['swe']", "expected constraints"]),
    ("too-few-cells", ["data.constraints=[tws,gpp]"], "split", ["10 folds and a test set need at least 11"]),
]


@pytest.mark.parametrize(("overrides", "key", "fragments"), [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_bad_configuration_is_one_line_before_training(small_cube, tmp_path, capsys, overrides, key, fragments):
    run = tmp_path / "run"
    args = [
        "train",
        "--config",
        "demo",
        "--fold",
        "0",
        "--out",
        str(run),
        f"data.cube={small_cube}",
        "split.method=h2cm",
        "normalization=fold",
        "data.start=null",
        "data.end=null",
        "progress=false",
        *overrides,
    ]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    first = err.splitlines()[0]
    assert first.startswith("h2cm train: error: ") and key in first, err
    for fragment in fragments:
        assert fragment in first, err
    assert not (run / "split.json").exists() and not (run / "fold_0").exists()
