"""Importers: the published H2CM store layout (written here in miniature) and FLUXNET2015 daily files."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from h2cm.cli import data as import_h2cm_mod
from h2cm.cli import import_towers as fluxnet_mod
from h2cm.data.check import check_cube
from h2cm.data.cube import load_cells, open_cube
from h2cm.data.fluxnet import LE_TO_MM, FluxnetError, fluxnet_cube, read_fluxnet_daily
from h2cm.data.import_h2cm import StoreLayoutError, import_h2cm, read_h2cm_store
from h2cm.schema import STATIC_FEATURE_KEYS

FLUXNET_FILE = Path(__file__).parents[2] / "shared/data/fluxnet/FLX_US-AR1_FLUXNET2015_SUBSET_DD_2009-2012_1-3.csv"

# --- the published H2CM store ------------------------------------------------------------------


def write_h2cm_store(path: Path, shift_gpp_grid: bool = False, drop: str | None = None) -> dict:
    """A small store in the published layout: one group per variable with ``data`` + mean/std."""
    rng = np.random.default_rng(0)
    lat = np.array([45.5, 44.5, 43.5])
    lon = np.array([5.5, 6.5, 7.5, 8.5])
    days = pd.date_range("2001-01-01", "2001-12-31")
    mids = pd.date_range("2001-01-01", "2001-12-01", freq="MS") + pd.Timedelta(days=14)  # mid-month stamps
    sp = (len(lat), len(lon))
    daily = {
        "rn": rng.normal(90, 30, (len(days), *sp)),
        "prec": rng.exponential(2, (len(days), *sp)),
        "tair": rng.normal(11, 6, (len(days), *sp)),  # degC in the store
        "vpd": rng.exponential(6, (len(days), *sp)),
        "co2": np.full((len(days), *sp), 371.0),
        "et_xbase": rng.uniform(0, 3, (len(days), *sp)),  # a daily constraint: averaged to months
    }
    monthly = {
        k: rng.uniform(0.05, 0.9, (len(mids), *sp)) for k in ("fapar", "gpp", "nee", "nee_iav", "q_v2", "swe_bc")
    }
    monthly["tws"] = rng.normal(0, 40, (len(mids), *sp))
    monthly["nee"] -= 0.5
    monthly["nee_iav"] -= 0.5
    units = {"tair": "degC", "rn": "W m-2", "prec": "mm d-1", "vpd": "hPa", "co2": "ppm"}
    written = {}
    for name, arr in {**daily, **monthly}.items():
        t = days if name in daily else mids
        glat = lat + (10.0 if (name == "gpp" and shift_gpp_grid) else 0.0)
        da = xr.DataArray(
            arr.astype(np.float32), dims=("time", "latitude", "longitude"), attrs={"units": units.get(name, "")}
        )
        ds = xr.Dataset({"data": da}, coords={"time": t, "latitude": glat, "longitude": lon})
        ds.attrs = {"mean": float(np.mean(arr)), "std": float(np.std(arr))}
        written[name] = arr
        if name != drop:
            ds.to_zarr(path, group=name, mode="a", consolidated=False)
    others = {
        "cue": xr.DataArray(rng.uniform(0.3, 0.6, sp).astype(np.float32), dims=("latitude", "longitude")),
        "static": xr.DataArray(rng.uniform(0, 1, (*sp, 30)).astype(np.float32), dims=("latitude", "longitude", "var")),
        "grid_area": xr.DataArray(np.full(sp, 8800.0), dims=("latitude", "longitude")),  # km2
        "mask": xr.DataArray(
            np.array([[1, 1, 1, 0], [1, 1, 1, 1], [0, 1, 1, 1]], dtype=bool), dims=("latitude", "longitude")
        ),
    }
    for name, da in others.items():
        ds = xr.Dataset({"data": da}, coords={"latitude": lat, "longitude": lon})
        ds.attrs = {"mean": 0.0, "std": 1.0}
        if name == "static":  # one value per feature, as the authors' model reads them
            ds.attrs = {"mean": da.values.mean((0, 1)).tolist(), "std": da.values.std((0, 1)).tolist()}
        if name != drop:
            ds.to_zarr(path, group=name, mode="a", consolidated=False)
        written[name] = da.values
    return written


@pytest.mark.slow
def test_import_h2cm_store(tmp_path):
    store = tmp_path / "h2cm_training.zarr"
    src = write_h2cm_store(store)
    parser = argparse.ArgumentParser()
    import_h2cm_mod.register(parser.add_subparsers())
    args = parser.parse_args(["import-h2cm", str(store), "--out", str(tmp_path / "cube.zarr")])
    assert args.func(args) == 0
    cube = open_cube(tmp_path / "cube.zarr")
    assert [p for p in check_cube(cube) if p.severity == "error"] == []
    np.testing.assert_allclose(cube["tair"].values, src["tair"] + 273.15, rtol=1e-6)  # degC -> K
    assert cube["tair"].attrs["units"] == "K" and cube["tair"].attrs["h2cm_source_group"] == "tair"
    assert cube["gpp"].dims == ("month", "lat", "lon") and cube.sizes["month"] == 12
    assert pd.DatetimeIndex(cube["month"].values)[0] == pd.Timestamp("2001-01-01")  # month starts
    np.testing.assert_allclose(cube["runoff"].values, src["q_v2"], rtol=1e-6)  # q_v2 -> runoff
    np.testing.assert_allclose(cube["nee_anomaly"].values, src["nee_iav"], rtol=1e-6)
    np.testing.assert_allclose(cube["et"].values[0], src["et_xbase"][:31].mean(0), rtol=1e-5)  # daily -> monthly
    np.testing.assert_allclose(cube["cell_area"].values, 8.8e9)  # km2 -> m2
    assert cube["land_mask"].dtype == np.int8 and int(cube["land_mask"].sum()) == 10
    assert cube["static"].shape == (3, 4, 30) and str(cube["feature"].values[0]) == "static_00"
    assert cube["gpp"].attrs["h2cm_mean"] == pytest.approx(float(np.mean(src["gpp"])))
    cells = load_cells(cube)
    assert cells.n_cells == 10 and set(cells.constraints) >= {"tws", "swe", "et", "runoff", "gpp", "cue"}


def test_import_h2cm_missing_group(tmp_path):
    store = tmp_path / "s.zarr"
    write_h2cm_store(store, drop="vpd")
    with pytest.raises(StoreLayoutError, match=r"missing group\(s\) \['vpd'\]"):
        read_h2cm_store(store)


def test_import_h2cm_grid_mismatch_names_the_group(tmp_path):
    store = tmp_path / "s.zarr"
    write_h2cm_store(store, shift_gpp_grid=True)
    with pytest.raises(StoreLayoutError, match="gpp: lat coordinate differs from the forcing grid"):
        import_h2cm(store, tmp_path / "cube.zarr")
    assert not (tmp_path / "cube.zarr").exists()


# --- FLUXNET2015 --------------------------------------------------------------------------------

needs_fluxnet = pytest.mark.skipif(not FLUXNET_FILE.exists(), reason=f"{FLUXNET_FILE} not present")


@pytest.fixture(scope="module")
def tower():
    return fluxnet_cube(FLUXNET_FILE)


@needs_fluxnet
def test_fluxnet_cube_is_valid(tower):
    assert [p for p in check_cube(tower) if p.severity == "error"] == []
    assert tower.sizes["time"] == 1461 and tower.sizes["month"] == 48
    assert float(tower["lat"][0]) == pytest.approx(36.4267) and float(tower["lon"][0]) == pytest.approx(-99.42)
    assert tower["static"].shape == (1, 1, len(STATIC_FEATURE_KEYS))


@needs_fluxnet
def test_fluxnet_forcing_and_netrad_gapfill(tower):
    raw = read_fluxnet_daily(FLUXNET_FILE)
    np.testing.assert_allclose(tower["tair"].values[:, 0, 0], raw["TA_F"] + 273.15, rtol=1e-6)
    rn = tower["rn"].values[:, 0, 0]
    has = raw["NETRAD"].notna().to_numpy()
    assert (~has).sum() == 169 and np.isfinite(rn).all()
    np.testing.assert_allclose(rn[has], raw["NETRAD"].to_numpy()[has], rtol=1e-5)  # measured days untouched
    attrs = tower["rn"].attrs
    assert attrs["h2cm_gapfill_days_filled"] == 169 and attrs["h2cm_gapfill_r2"] > 0.8
    assert np.isfinite(tower["co2"].values).all()


@needs_fluxnet
def test_fluxnet_constraints_are_monthly_means(tower):
    raw = read_fluxnet_daily(FLUXNET_FILE)
    july = raw.loc["2010-07"]
    ok = july["LE_F_MDS_QC"] >= 0.5
    expected = (july["LE_F_MDS"][ok] * 86400 / 2.45e6).mean()
    assert LE_TO_MM == pytest.approx(0.0352653, rel=1e-5)
    months = pd.DatetimeIndex(tower["month"].values)
    assert float(tower["et"].values[list(months).index(pd.Timestamp("2010-07-01")), 0, 0]) == pytest.approx(
        expected, rel=1e-5
    )
    gpp = pd.Series(tower["gpp"].values[:, 0, 0], index=months)
    annual = gpp.groupby(months.year).mean()
    assert annual[2011] < 0.7 * annual.drop(2011).mean()  # the 2011 drought
    assert set(tower.data_vars) >= {"reco", "et_daily", "gpp_daily", "nee_daily", "reco_daily"}
    assert tower["nee_daily"].dims == ("time", "lat", "lon") and tower["reco"].attrs["units"] == "g m-2 d-1"


@needs_fluxnet
def test_import_fluxnet_verb(tmp_path):
    parser = argparse.ArgumentParser()
    fluxnet_mod.register(parser.add_subparsers())
    args = parser.parse_args(["import-fluxnet", str(FLUXNET_FILE), "--out", str(tmp_path / "site.nc")])
    assert args.func(args) == 0
    cells = load_cells(tmp_path / "site.nc")
    assert cells.forcing.shape == (1461, 1, 5) and set(cells.constraints) == {"et", "gpp", "nee"}


@needs_fluxnet
def test_unknown_site_needs_coordinates(tmp_path):
    other = tmp_path / FLUXNET_FILE.name.replace("US-AR1", "XX-Abc")
    shutil.copy(FLUXNET_FILE, other)
    with pytest.raises(FluxnetError, match="pass --lat and --lon"):
        fluxnet_cube(other)
    assert float(fluxnet_cube(other, lat=50.0, lon=8.0)["lat"][0]) == 50.0
