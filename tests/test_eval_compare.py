"""``h2cm evaluate --compare NAME=PATH``: other simulation products scored beside the model on the
tiny evaluation world (rows with their own ``source``, regional cycles, the report's Fig. 6),
and every bad product rejected before anything is simulated (one line, exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eval_fixtures import tiny_world
from h2cm.cli import main
from h2cm.data.cube import land_cells, open_cube
from h2cm.evaluation.compare import parse_compare, product_monthly, world_products
from h2cm.evaluation.metrics import METRICS, area_weighted_mean, pearson_r
from h2cm.evaluation.views import monthly_means
from h2cm.report import figures

pytestmark = pytest.mark.slow  # builds a trained run or a world per module


def _product(cube: str, out, group: str | None = None, keys=("gpp", "nee", "ter"), months=None, shift=0.0, seed=0):
    """A monthly product from the fixture's truth: monthly means x 1.1 + noise."""
    with xr.open_zarr(cube, group="truth", consolidated=False) as truth:
        ds = truth[list(keys)].resample(time="MS").mean().load()
    rng = np.random.default_rng(seed)
    for k in keys:
        ds[k] = ds[k] * 1.1 + 0.05 * rng.standard_normal(ds[k].shape)
        ds[k].attrs = {"units": "g m-2 d-1"}
    if months is not None:
        ds = ds.isel(time=slice(0, months))
    ds = ds.assign_coords(lon=ds["lon"] + shift)
    ds.to_zarr(out, group=group, mode="w" if group is None else "a", consolidated=False, zarr_format=3)
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory)


@pytest.fixture(scope="module")
def compared(world, tmp_path_factory):
    """One evaluation with two products: a monthly one in a group of a store, and the run's own
    daily ``h2cm predict`` store."""
    base = tmp_path_factory.mktemp("compare")
    xr.Dataset(attrs={"title": "a store with a product group"}).to_zarr(base / "store.zarr", zarr_format=3)
    _product(str(world["cube"]), base / "store.zarr", group="products/noisy")
    out = base / "ev"
    args = ["evaluate", "--run", str(world["run"]), "--out", str(out), "--maps-cells", "test", "--threads", "1"]
    args += ["--simulations", str(world["sims"]), "--quiet"]
    args += ["--compare", f"noisy={base / 'store.zarr'}#products/noisy", "--compare", f"sims={world['sims']}"]
    assert main(args) == 0
    return {"out": out, "store": base / "store.zarr"}


def test_product_rows_beside_the_model(world, compared):
    s = pd.read_csv(compared["out"] / "metrics_summary.csv")
    assert list(s.columns) == ["reference", "target", "view", "metric", "median", "min", "max", "n_folds", "source"]
    assert set(s.source) == {"model", "noisy", "sims"}
    noisy = s[s.source == "noisy"]
    assert set(noisy[noisy.reference == "obs"].target) == {"gpp", "nee", "nee_anomaly"}
    assert set(noisy[noisy.reference == "truth"].target) == {"gpp", "nee", "ter"}
    assert (noisy.n_folds == 1).all() and (noisy["median"] == noisy["min"]).all()
    assert set(noisy.metric) == set(METRICS)
    # the daily predict store has every output: scored on all of them, CUE included
    assert {"ter", "rh", "sm", "cue"} <= set(s[s.source == "sims"].target)
    # the model's rows are the same as without --compare
    a = pd.read_csv(world["evaluation"] / "metrics_summary.csv")
    b = s[s.source == "model"]
    merged = a.merge(b, on=["reference", "target", "view", "metric"])
    assert len(merged) == len(a) == len(b)
    np.testing.assert_allclose(merged["median_x"], merged["median_y"], rtol=1e-3, atol=1e-4, equal_nan=True)
    folds = pd.read_csv(compared["out"] / "metrics_folds.csv")
    assert folds[folds.source == "noisy"]["fold"].isna().all() and folds[folds.source == "model"]["fold"].notna().all()


def test_product_skill_by_hand(world, compared):
    """The product's monthly r against the truth: area-weighted mean over the test cells."""
    s = pd.read_csv(compared["out"] / "metrics_summary.csv")
    got = s[(s.source == "noisy") & (s.reference == "truth") & (s.target == "gpp")]
    got = got[(got.view == "monthly") & (got.metric == "r")]["median"].iloc[0]
    with xr.open_dataset(compared["out"] / "monthly_test.nc") as m:
        test, area = m["cell"].values, m["cell_area"].values
        months = pd.DatetimeIndex(m["month"].values)
        assert m["product_gpp"].dims == ("product", "month", "cell")
        stored = m["product_gpp"].sel(product="noisy").values
    cube = open_cube(world["cube"])
    li, lj = land_cells(cube)
    with xr.open_zarr(compared["store"], group="products/noisy", consolidated=False) as p:
        prod = np.asarray(p["gpp"].values)[:, li[test], lj[test]]
    with xr.open_zarr(world["cube"], group="truth", consolidated=False) as t:
        _, truth = monthly_means(np.asarray(t["gpp"].values)[:, li[test], lj[test]], t["time"].values)
    np.testing.assert_allclose(stored, prod, rtol=1e-6)
    want = pearson_r(area_weighted_mean(prod, area, axis=-1), area_weighted_mean(truth, area, axis=-1), axis=0)
    assert got == pytest.approx(float(want), abs=1e-6)
    assert len(months) == 24


def test_regional_cycles_and_figure(compared, tmp_path):
    with xr.open_dataset(compared["out"] / "regional.nc") as reg:
        reg = reg.load()
    assert reg["product_gpp"].dims == ("product", "region", "month")
    assert list(reg["product"].values) == ["noisy", "sims"]
    assert np.isfinite(reg["product_nee"].sel(product="noisy").values).any()
    path, table = figures.regional_cycles(reg, tmp_path)
    assert path.is_file() and path.stat().st_size > 5000
    assert {"model", "noisy", "sims"} <= set(table.source) and {"obs", "truth"} <= set(table.reference)
    md = (compared["out"] / "metrics.md").read_text()
    assert "## Other products (`--compare`)" in md and "| truth | gpp | monthly | noisy |" in md
    info = json.loads((compared["out"] / "summary.json").read_text())
    assert set(info["compare"]) == {"noisy", "sims"} and set(info["headline"]) >= {"gpp", "nee"}


def _fails(world, tmp_path, capsys, spec: str) -> str:
    args = ["evaluate", "--run", str(world["run"]), "--out", str(tmp_path / "ev"), "--maps-cells", "test"]
    assert main([*args, "--threads", "1", "--quiet", "--compare", spec]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("(set H2CM_DEBUG=1")  # one line, and the usual hint
    assert not (tmp_path / "ev" / "metrics_summary.csv").exists()
    return err[0]


def test_bad_products_fail_with_one_line(world, tmp_path, capsys):
    cube = str(world["cube"])
    other = _product(cube, tmp_path / "other.zarr", shift=0.5)
    assert "--compare x" in (e := _fails(world, tmp_path, capsys, f"x={other}")) and "another grid" in e
    short = _product(cube, tmp_path / "short.zarr", months=12)
    e = _fails(world, tmp_path, capsys, f"short={short}")
    assert "covers 2001-01..2001-12, not the evaluation period 2001-01..2002-12" in e
    foo = xr.Dataset({"foo": (("time", "lat", "lon"), np.zeros((24, 4, 5)))})
    foo = foo.assign_coords(time=pd.date_range("2001-01-01", periods=24, freq="MS"), lat=[-17.5, -16.5, -15.5, -14.5])
    foo = foo.assign_coords(lon=[23.5, 24.5, 25.5, 26.5, 27.5])
    foo.to_zarr(tmp_path / "foo.zarr", zarr_format=3, consolidated=False)
    assert "has none of the compared variables" in _fails(world, tmp_path, capsys, f"foo={tmp_path / 'foo.zarr'}")
    holes = _product(cube, tmp_path / "holes.zarr")
    with xr.open_zarr(holes, consolidated=False) as h:
        h = h.load()
    h["gpp"][:, 1, 3] = h["nee"][:, 1, 3] = h["ter"][:, 1, 3] = np.nan  # test cell 7 (row 1, column 3)
    h.to_zarr(tmp_path / "holes2.zarr", zarr_format=3, consolidated=False)
    assert "has no data at 1 of 5 test cells" in _fails(world, tmp_path, capsys, f"h={tmp_path / 'holes2.zarr'}")
    assert "no such file" in _fails(world, tmp_path, capsys, f"m={tmp_path / 'missing.zarr'}")
    assert "cannot be read" in _fails(world, tmp_path, capsys, f"g={holes}#products/none")
    assert "expected NAME=PATH" in _fails(world, tmp_path, capsys, "nameless")


def test_helpers(world, compared):
    assert parse_compare(["a=x.zarr", "b=y.nc#products/p"]) == {"a": "x.zarr", "b": "y.nc#products/p"}
    for bad in (["a=x", "a=y"], ["model=x"], ["a b=x"]):
        with pytest.raises(ValueError):
            parse_compare(bad)
    assert world_products(compared["store"]) == {"noisy": f"{compared['store']}#products/noisy"}
    assert world_products(world["cube"]) == {}
    from h2cm.studies.claims_compare import study_products

    shipped = study_products(compared["store"], {"mine": "x.zarr"})
    assert shipped == {"noisy": f"{compared['store']}#products/noisy", "mine": "x.zarr"}
    got = product_monthly(
        f"{compared['store']}#products/noisy",
        world["cube"],
        np.array([0, 3]),
        pd.date_range("2002-01-01", periods=3, freq="MS"),
        ("gpp", "rh"),
    )
    assert set(got) == {"gpp"} and got["gpp"].shape == (3, 2) and np.isfinite(got["gpp"]).all()
