"""``h2cm predict``: CF attributes, ensemble statistics, agreement with a direct model run,
NetCDF and monthly output, atomic writes and clear errors for a bad run directory."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import xarray as xr

from eval_fixtures import tiny_world
from h2cm.data.cube import land_cells, load_cells, open_cube
from h2cm.evaluation.predict import predict
from h2cm.evaluation.rundir import RunDir, RunDirError
from h2cm.schema import CONSTANT_KEYS, OUTPUT_KEYS, STATIC_PARAMETER_KEYS, variable


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory)


@pytest.fixture(scope="module")
def sims(world):
    return xr.open_zarr(world["sims"])


def test_every_output_has_cf_attributes(sims):
    for key in (*OUTPUT_KEYS, *STATIC_PARAMETER_KEYS, *CONSTANT_KEYS):
        spec = variable(key)
        for name in (key, f"{key}_min", f"{key}_max", f"{key}_fold"):
            attrs = sims[name].attrs
            assert attrs["units"] == spec.units, name
            assert attrs["long_name"].startswith(spec.long_name), name
            if spec.standard_name:
                assert attrs["standard_name"] == spec.standard_name, name
    for key in OUTPUT_KEYS:
        assert sims[key].dims == ("time", "lat", "lon")
        assert sims[f"{key}_fold"].dims == ("fold", "time", "lat", "lon")
        assert "cell_methods" in sims[key].attrs


def test_coordinates_bounds_and_global_attributes(sims, world):
    assert sims["lat"].attrs["units"] == "degrees_north" and sims["lat"].attrs["bounds"] == "lat_bnds"
    assert sims["lon"].attrs["units"] == "degrees_east" and sims["lon"].attrs["bounds"] == "lon_bnds"
    assert sims["time"].attrs["bounds"] == "time_bnds"
    np.testing.assert_allclose(sims["lat_bnds"].values[:, 1] - sims["lat_bnds"].values[:, 0], 1.0)
    assert (sims["time_bnds"].values[:, 1] - sims["time_bnds"].values[:, 0] == np.timedelta64(1, "D")).all()
    assert sims["fold"].attrs["standard_name"] == "realization"
    for k in ("Conventions", "source", "h2cm_version", "h2cm_run", "history"):
        assert k in sims.attrs
    assert str(world["run"].resolve()) == sims.attrs["h2cm_run"]


def test_ensemble_median_min_max(sims):
    for key in ("gpp", "tws", "alpha_wue"):
        median = sims[key].values
        sim = np.isfinite(median)
        assert sim.any() and (~sim).any()  # simulated cells and NaN elsewhere
        folds = sims[f"{key}_fold"].values[:, sim]
        assert np.isfinite(folds).all()
        np.testing.assert_allclose(median[sim], np.median(folds, axis=0), rtol=1e-6)
        np.testing.assert_allclose(sims[f"{key}_min"].values[sim], folds.min(axis=0))
        np.testing.assert_allclose(sims[f"{key}_max"].values[sim], folds.max(axis=0))
        assert np.isnan(sims[f"{key}_min"].values[~sim]).all()
    np.testing.assert_allclose(float(sims["q10"]), np.median(sims["q10_fold"].values))


def test_only_test_cells_are_filled_and_they_match_a_direct_run(sims, world):
    rd = RunDir.open(world["run"])
    ds = open_cube(world["cube"])
    ii, jj = land_cells(ds)
    test = rd.test_cells
    filled = np.isfinite(sims["gpp"].isel(time=0).values)
    expected = np.zeros_like(filled)
    expected[ii[test], jj[test]] = True
    np.testing.assert_array_equal(filled, expected)
    # fold 1: the stored series of a cell equals the model run directly (spin-up included)
    model = rd.load_models()[1]
    data = load_cells(ds, cell_index=test)
    with torch.no_grad():
        sim = model(data.forcing, data.static, outputs="all")
    for key in ("gpp", "swe", "nee", "alpha_smelt"):
        stored = sims[f"{key}_fold"].isel(fold=1, lat=int(ii[test[0]]), lon=int(jj[test[0]])).values
        np.testing.assert_allclose(stored, sim.outputs[key][:, 0].numpy(), rtol=1e-4, atol=1e-5)
    stored_smmax = float(sims["smmax_fold"].isel(fold=1, lat=int(ii[test[0]]), lon=int(jj[test[0]])))
    assert stored_smmax == pytest.approx(float(sim.static.smmax[0]), rel=1e-6)


def test_water_balance_closes_in_the_file(sims):
    s = sims.isel(fold=0)
    inflow = (s["snowfall_fold"] + s["rainfall_fold"]).values[1:]
    outflow = (s["et_fold"] + s["runoff_fold"]).values[1:]
    storage = np.diff(s["tws_fold"].values, axis=0)
    err = np.nanmax(np.abs(inflow - outflow - storage))
    assert err < 1e-2


@pytest.mark.slow
def test_netcdf_monthly_all_cells(world, tmp_path):
    out = predict(
        world["run"],
        tmp_path / "m.nc",
        cells="all",
        period="2002:2002",
        monthly=True,
        per_fold=False,
        threads=1,
        progress=False,
    )
    with xr.open_dataset(out) as ds:
        assert ds.sizes["time"] == 12
        assert "gpp_fold" not in ds
        assert ds["gpp"].attrs["cell_methods"] == "time: mean"
        n_land = int((open_cube(world["cube"])["land_mask"].values == 1).sum())
        assert int(np.isfinite(ds["gpp"].isel(time=0).values).sum()) == n_land
    assert [p.name for p in tmp_path.iterdir()] == ["m.nc"]  # no temporary leftovers


def test_bad_run_dir_names_the_missing_file(world, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(world["run"], bad, ignore=shutil.ignore_patterns("evaluation", "report"))
    (bad / "split.json").unlink()
    with pytest.raises(RunDirError, match="split.json"):
        predict(bad, tmp_path / "x.zarr", progress=False)
    shutil.copy(world["run"] / "split.json", bad / "split.json")
    for k in (0, 1):
        (bad / f"fold_{k}" / "best.pt").unlink()
    with pytest.raises(RunDirError, match="best.pt"):
        predict(bad, tmp_path / "x.zarr", progress=False)
    with pytest.raises(RunDirError, match="run directory not found"):
        RunDir.open(tmp_path / "nowhere")
    assert not (tmp_path / "x.zarr").exists()


@pytest.mark.slow
def test_compiled_predict_equals_eager_with_one_graph_for_every_batch_size(world, tmp_path):
    from torch._dynamo.utils import counters

    # batches of about 5 cells: the 18 land cells come in batches of 7, 6 and 5 cells, each padded
    # to the largest so that one compiled graph serves them all; padded cells must not leak
    common = dict(cube=world["cube"], cells="all", batch_cells=5, progress=False, tile=2)
    eager = xr.open_zarr(predict(world["run"], tmp_path / "eager.zarr", **common))
    counters.clear()
    compiled = xr.open_zarr(predict(world["run"], tmp_path / "compiled.zarr", compile=True, **common))
    # the compiler's smoke test, the spin-up (no outputs kept) and the run with every output
    assert counters["stats"]["unique_graphs"] == 3
    for name, var in eager.data_vars.items():
        if var.dtype.kind == "f":
            np.testing.assert_allclose(compiled[name].values, var.values, rtol=1e-4, atol=1e-5, err_msg=name)


def test_predict_names_a_device_it_cannot_use(world, tmp_path):
    for device, expected in (("tpu9", "is not a torch device"), ("cuda:0", "GPU")):
        if device.startswith("cuda") and torch.cuda.is_available():
            continue
        with pytest.raises(ValueError, match=f"device: {device!r}.*{expected}"):
            predict(world["run"], tmp_path / "x.zarr", cube=world["cube"], device=device, progress=False)
        assert not (tmp_path / "x.zarr").exists()
