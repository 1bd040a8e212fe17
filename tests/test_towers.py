"""Tower importer (h2cm import-towers): every source family, every gap rule, bad files, the real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from h2cm.cli import main
from h2cm.data.check import check_cube
from h2cm.data.tower_cube import prepare_sites, tower_cube
from h2cm.data.tower_fill import (
    derive_vpd,
    es_hpa,
    fao56_net_radiation,
    fill_gaps,
    noaa_annual,
    noaa_co2,
)
from h2cm.data.tower_read import UMOL_TO_GC_DAY, TowerFileError, read_tower
from h2cm.data.towers import LE_TO_MM, TowerOptions, site_table

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
REAL = sorted([*DATA.glob("fluxnet/*.csv"), *DATA.glob("fluxnet-sites/*.csv")])
SITES = ("US-AR1", "US-Prr", "US-SRM", "ES-LM2", "IT-MBo", "IT-Noe")


def dd_table(start="2010-01-01", days=730, seed=0, **drop) -> pd.DataFrame:
    """A FLUXNET2015-style daily table with smooth, known values."""
    t = pd.date_range(start, periods=days, freq="D")
    doy = t.day_of_year.to_numpy()
    season = np.sin(2 * np.pi * (doy - 100) / 365.0)
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "TIMESTAMP": t.strftime("%Y%m%d"),
            "TA_F": 10 + 10 * season,
            "SW_IN_F": 180 + 120 * season,
            "LW_IN_F": 300 + 40 * season,
            "NETRAD": 80 + 70 * season,
            "VPD_F": 6 + 5 * season,
            "P_F": rng.gamma(0.5, 4.0, days),
            "CO2_F_MDS": 390.0 + np.zeros(days),
            "LE_F_MDS": 50 + 40 * season,
            "LE_F_MDS_QC": np.where(np.arange(days) % 10 == 0, 0.2, 1.0),
            "NEE_VUT_REF": -1 - 2 * season,
            "NEE_VUT_REF_QC": np.where(np.arange(days) % 7 == 0, 0.1, 0.9),
            "GPP_NT_VUT_REF": 4 + 3 * season,
            "RECO_NT_VUT_REF": 3 + 1 * season,
        }
    )
    return df.drop(columns=[c for c, v in drop.items() if v])


def write(df: pd.DataFrame, path: Path) -> Path:
    df.fillna(-9999).to_csv(path, index=False)
    return path


@pytest.fixture
def dd_file(tmp_path):
    return write(dd_table(), tmp_path / "FLX_XX-Tst_FLUXNET2015_FULLSET_DD_2010-2011_1-4.csv")


def opts(**kw) -> TowerOptions:
    return TowerOptions(**kw)


# --- families -------------------------------------------------------------------------------------


def test_fluxnet_dd_family_constraints_and_qc(dd_file):
    ds = tower_cube([dd_file], lat=50.0, lon=8.0)
    assert not [p for p in check_cube(ds) if p.severity == "error"]
    raw = dd_table()
    jan = raw.iloc[:31]
    ok = jan["LE_F_MDS_QC"] >= 0.5
    assert float(ds["et"][0, 0, 0]) == pytest.approx((jan["LE_F_MDS"][ok] * LE_TO_MM).mean(), rel=1e-5)
    keep = jan["NEE_VUT_REF_QC"] >= 0.5  # GPP is partitioned from NEE: it carries NEE's QC
    assert float(ds["gpp"][0, 0, 0]) == pytest.approx(jan["GPP_NT_VUT_REF"][keep].mean(), rel=1e-5)
    assert np.isnan(ds["gpp_daily"].values[0, 0, 0])  # day 0: NEE QC 0.1 < 0.5
    np.testing.assert_allclose(ds["tair"].values[:, 0, 0], raw["TA_F"] + 273.15, rtol=1e-6)
    assert json.loads(ds.attrs["h2cm_sites_info"])[0]["family"] == "fluxnet-dd"


@pytest.mark.parametrize("step,per_day", [("30min", 48), ("60min", 24)])
def test_half_hourly_and_hourly_files_aggregate_to_days(tmp_path, step, per_day):
    t = pd.date_range("2012-03-01", periods=2 * per_day, freq=step)
    qc = np.tile(np.r_[np.zeros(per_day // 2), np.full(per_day // 2, 2)], 2)
    df = pd.DataFrame(
        {
            "TIMESTAMP_START": t.strftime("%Y%m%d%H%M"),
            "TIMESTAMP_END": (t + pd.Timedelta(step)).strftime("%Y%m%d%H%M"),
            "TA_F": np.r_[np.full(per_day, 5.0), np.linspace(0, 10, per_day)],
            "SW_IN_F": 100.0,
            "LW_IN_F": 300.0,
            "VPD_F": 4.0,
            "P_F": 0.1,
            "NEE_VUT_REF": 2.0,
            "NEE_VUT_REF_QC": qc,
            "LE_F_MDS": 40.0,
        }
    )
    rec = read_tower(write(df, tmp_path / f"FLX_XX-Hhh_FLUXNET2015_FULLSET_{'HH' if per_day == 48 else 'HR'}_x.csv"))
    d = rec.daily
    assert rec.family == "fluxnet-hh" and len(d) == 2
    assert d["P"].tolist() == pytest.approx([0.1 * per_day] * 2)  # summed
    assert d["NEE"].tolist() == pytest.approx([2.0 * UMOL_TO_GC_DAY] * 2)  # umol m-2 s-1 -> gC m-2 d-1
    assert UMOL_TO_GC_DAY == pytest.approx(1.0377, abs=1e-4)
    assert d["NEE_QC"].tolist() == pytest.approx([0.5, 0.5])  # half the records measured/good
    assert d["TMIN"].iloc[1] == pytest.approx(0.0) and d["TMAX"].iloc[1] == pytest.approx(10.0)


def test_fluxdatakit_daytime_vpd_and_cut_variant(tmp_path):
    df = dd_table(days=400).drop(columns=["VPD_F", "NEE_VUT_REF", "NEE_VUT_REF_QC", "GPP_NT_VUT_REF"])
    df["VPD_F"] = np.nan  # FluxDataKit: the 24-h VPD is empty
    df["TA_F_DAY"], df["TMIN_F_MDS"], df["TMAX_F_MDS"], df["VPD_F_DAY"] = 20.0, 10.0, 30.0, 10.0
    df["NEE_VUT_REF"] = np.nan
    df["NEE_CUT_REF"], df["NEE_CUT_REF_QC"], df["GPP_NT_CUT_REF"] = -1.5, 1.0, 5.0
    rec = read_tower(write(df, tmp_path / "FLX_XX-Fdk_FLUXDATAKIT_FULLSET_DD_2010_2011_2-3.csv"))
    assert rec.family == "fluxdatakit" and rec.variant == "CUT" and rec.columns["NEE"] == "NEE_CUT_REF"
    vpd, sources = derive_vpd(rec.daily)
    # ea = es(20) - 10 = 13.38 hPa; 24-h VPD = (es(30) + es(10)) / 2 - ea = (42.43 + 12.27) / 2 - 13.38 = 13.97
    assert vpd[0] == pytest.approx(13.97, abs=0.02)
    assert list(sources) == ["VPD_F_DAY (FAO-56 correction)"]


def test_vpd_from_ta_and_rh():
    d = pd.DataFrame({k: [np.nan] for k in ("VPD", "VPD_DAY", "TA_DAY", "TMIN", "TMAX")})
    d["TA"], d["RH"] = 20.0, 50.0
    vpd, sources = derive_vpd(d)
    assert es_hpa(20.0) == pytest.approx(23.38, abs=0.01)
    assert vpd[0] == pytest.approx(23.38 * 0.5, abs=0.01) and sources == {"TA+RH": 1}


def test_fao56_net_radiation_matches_the_worked_examples():
    # FAO-56 example 8: Ra = 32.2 MJ m-2 d-1 at 20 S on 3 September; example 11: Tmax 25.1, Tmin 19.1 degC,
    # ea 2.1 kPa, Rs/Rso 0.77 -> Rnl = 3.5 MJ m-2 d-1. With Rs = 0.77 Rso (z = 0 m): Rn = 0.77 Rs - 3.5.
    rs = 0.77 * 0.75 * 32.2
    rn = fao56_net_radiation(rs / 0.0864, 19.1, 25.1, 21.0, 246, -20.0, 0.0)
    assert rn * 0.0864 == pytest.approx(0.77 * rs - 3.5, abs=0.05)


def test_no_longwave_uses_fao56_calibrated_to_netrad(tmp_path):
    df = dd_table().drop(columns=["LW_IN_F"])
    df.loc[100:200, "NETRAD"] = np.nan
    ds = tower_cube([write(df, tmp_path / "FLX_XX-Nlw_DD.csv")], lat=40.0, lon=-5.0)
    info = json.loads(ds.attrs["h2cm_sites_info"])[0]
    assert "FAO-56 calibrated" in info["rn_method"] and info["rn_days_estimated"] == 101
    rn = ds["rn"].values[:, 0, 0]
    np.testing.assert_allclose(rn[:100], df["NETRAD"][:100], rtol=1e-5)  # measured days kept
    assert np.isfinite(rn).all()


# --- gap rules ------------------------------------------------------------------------------------


def test_short_gap_is_linear_long_gap_is_seasonal_cycle():
    t = pd.date_range("2010-01-01", periods=3 * 365, freq="D")
    doy = t.day_of_year.to_numpy()
    x = np.sin(2 * np.pi * doy / 365.0) * 10 + np.arange(len(t)) * 0.0
    v = x.copy()
    v[50:53] = np.nan  # 3 days: linear
    v[400:430] = np.nan  # 30 days: seasonal cycle
    out, filled = fill_gaps(v, doy, max_linear_days=5)
    np.testing.assert_allclose(out[50:53], np.interp([50, 51, 52], [49, 53], [x[49], x[53]]))
    np.testing.assert_allclose(out[400:430], x[400:430], atol=0.5)  # the same days of the other years
    assert filled.sum() == 33 and not filled[:50].any()


def test_precipitation_gaps_are_not_interpolated():
    doy = np.arange(1, 731) % 365 + 1
    p = np.where(np.arange(730) % 2 == 0, 4.0, 0.0)
    p[101:103] = np.nan  # between a rainy and a dry day: interpolation would give 4 or 2, the cycle gives 2
    out, _ = fill_gaps(p, doy, max_linear_days=5, linear=False)
    assert out[101:103] == pytest.approx([2.0, 2.0], abs=0.3)


def test_filled_fraction_recorded_and_bad_year_dropped(tmp_path, capsys):
    df = dd_table(days=3 * 365)
    df.loc[400:500, "TA_F"] = np.nan  # 101 days of 2011: 28 % filled > 20 %
    df.loc[10:12, "VPD_F"] = np.nan
    ds = tower_cube([write(df, tmp_path / "FLX_XX-Gap_DD.csv")], lat=50.0, lon=8.0, log=print)
    out = capsys.readouterr().out
    assert "XX-Gap: year 2011 dropped: 28% of tair filled (limit 20%)" in out
    assert ds["tair"].attrs["h2cm_filled_fraction"] == [pytest.approx(101 / len(df), abs=1e-4)]
    assert ds["vpd"].attrs["h2cm_filled_fraction"] == [pytest.approx(3 / len(df), abs=1e-4)]
    t = pd.DatetimeIndex(ds["time"].values)
    nee = ds["nee_daily"].values[:, 0, 0]
    assert np.isnan(nee[t.year == 2011]).all() and np.isfinite(nee[t.year == 2012]).any()
    assert ds.sizes["time"] == len(df)  # an inner year keeps its (filled) forcing


def test_dropped_edge_year_is_cut_off(tmp_path, capsys):
    df = dd_table(days=3 * 365)
    df.loc[800:1000, "P_F"] = np.nan
    ds = tower_cube([write(df, tmp_path / "FLX_XX-Edg_DD.csv")], lat=50.0, lon=8.0, log=print)
    assert "year 2012 dropped: " in capsys.readouterr().out
    assert pd.Timestamp(ds["time"].values[-1]).year == 2011


def test_missing_co2_comes_from_noaa(tmp_path):
    df = dd_table().drop(columns=["CO2_F_MDS"])
    ds = tower_cube([write(df, tmp_path / "FLX_XX-Nco_DD.csv")], lat=50.0, lon=8.0)
    t = pd.DatetimeIndex(ds["time"].values)
    co2 = ds["co2"].values[:, 0, 0]
    annual = noaa_annual()
    assert co2[list(t).index(pd.Timestamp("2010-07-02"))] == pytest.approx(annual[2010], abs=0.05)
    assert co2[t.year == 2011].mean() == pytest.approx(annual[2011], abs=0.3)
    assert ds["co2"].attrs["h2cm_filled_fraction"] == [1.0]


def test_co2_long_gap_is_noaa_plus_site_offset(tmp_path):
    df = dd_table()
    t = pd.to_datetime(df["TIMESTAMP"])
    df["CO2_F_MDS"] = noaa_co2(pd.DatetimeIndex(t)) + 7.0
    df.loc[200:260, "CO2_F_MDS"] = np.nan
    ds = tower_cube([write(df, tmp_path / "FLX_XX-Cog_DD.csv")], lat=50.0, lon=8.0)
    np.testing.assert_allclose(ds["co2"].values[200:261, 0, 0], noaa_co2(pd.DatetimeIndex(t[200:261])) + 7.0, atol=1e-3)


# --- constraints from what the file has -----------------------------------------------------------


def test_no_gpp_trains_on_nee_and_et_no_le_on_carbon(tmp_path):
    a = write(dd_table(GPP_NT_VUT_REF=True, RECO_NT_VUT_REF=True), tmp_path / "FLX_XX-Nog_DD.csv")
    b = write(dd_table(LE_F_MDS=True, LE_F_MDS_QC=True), tmp_path / "FLX_XX-Nol_DD.csv")
    assert {"nee", "et"} <= set(tower_cube([a], lat=1.0, lon=1.0).data_vars)
    assert "gpp" not in tower_cube([a], lat=1.0, lon=1.0).data_vars
    ds = tower_cube([b], lat=1.0, lon=1.0)
    assert "et" not in ds.data_vars and {"gpp", "nee"} <= set(ds.data_vars)


def test_several_files_make_one_cube_with_a_cell_per_site(tmp_path):
    sites = tmp_path / "sites.csv"
    sites.write_text("site,lat,lon,elevation\nXX-Aaa,40.0,-3.0,500\nXX-Bbb,60.0,20.0,\n")
    a = write(dd_table("2010-01-01", 730), tmp_path / "FLX_XX-Aaa_DD.csv")
    b = write(dd_table("2011-01-01", 730, seed=1), tmp_path / "FLX_XX-Bbb_DD.csv")
    ds = tower_cube([a, b], sites=sites)
    assert not [p for p in check_cube(ds) if p.severity == "error"]
    assert ds.attrs["h2cm_sites"] == "XX-Bbb,XX-Aaa"  # north first: cell order
    assert int(ds["land_mask"].sum()) == 2 and ds.sizes["time"] == 365 * 3
    t = pd.DatetimeIndex(ds["time"].values)
    bb = ds.sel(lat=60.0, lon=20.0)
    assert np.isnan(bb["nee_daily"].values[t.year == 2010]).all()  # outside its record: no fluxes ...
    assert np.isfinite(bb["tair"].values).all()  # ... but forcing (its seasonal cycle) for spin-up


# --- bad input ------------------------------------------------------------------------------------


def test_unknown_site_needs_coordinates(dd_file):
    with pytest.raises(TowerFileError, match="pass --lat and --lon"):
        tower_cube([dd_file])


@pytest.mark.parametrize(
    "mutate,pattern",
    [
        (lambda d: d.drop(columns=["TA_F"]), r"column TA_F missing or empty; expected daily air temperature"),
        (lambda d: d.rename(columns={"TIMESTAMP": "DATE"}), r"no TIMESTAMP or TIMESTAMP_START column"),
        (lambda d: d.assign(P_F=["x"] * len(d)), r"column P_F: value 'x' is not a number"),
        (lambda d: d.assign(TIMESTAMP="2010/01/01"), r"column TIMESTAMP: cannot read '2010/01/01'"),
        (lambda d: d.drop(columns=["VPD_F"]), r"VPD_F, VPD_F_DAY and RH missing"),
    ],
)
def test_bad_files_one_line_naming_file_and_column(tmp_path, capsys, mutate, pattern):
    bad = write(mutate(dd_table(days=40)), tmp_path / "FLX_XX-Bad_DD.csv")
    with pytest.raises(TowerFileError, match=pattern):
        tower_cube([bad], lat=1.0, lon=1.0)
    rc = main(["import-towers", str(bad), "--lat", "1", "--lon", "1", "--out", str(tmp_path / "x.nc")])
    err = capsys.readouterr().err
    assert rc == 2 and "FLX_XX-Bad_DD.csv" in err and "Traceback" not in err


def test_site_table_ships_the_six_sites():
    table = site_table()
    assert set(SITES) <= set(table)
    assert table["US-SRM"].lat == pytest.approx(31.821) and table["US-SRM"].elevation == 1120


# --- the real files -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_real_file_imports(path):
    ds = tower_cube([path])
    assert not [p for p in check_cube(ds) if p.severity == "error"]
    info = json.loads(ds.attrs["h2cm_sites_info"])[0]
    assert info["site"] in SITES and {"nee", "gpp", "et"} <= set(info["fluxes"])
    assert not info["dropped_years"] and max(info["filled_fraction"].values()) < 0.2


@pytest.mark.slow
@pytest.mark.skipif(len(REAL) < 6, reason="the six shared tower files are not all present")
def test_real_files_one_cube(tmp_path):
    rc = main(["import-towers", *map(str, REAL), "--out", str(tmp_path / "towers.zarr")])
    assert rc == 0
    prepared = prepare_sites(REAL)
    assert [s.info.site for s in prepared] == ["US-Prr", "IT-MBo", "IT-Noe", "ES-LM2", "US-AR1", "US-SRM"]
    srm = next(s for s in prepared if s.info.site == "US-SRM").report
    assert srm["rn_method"].startswith("FAO-56") and "VPD_F_DAY (FAO-56 correction)" in srm["vpd_sources"]
