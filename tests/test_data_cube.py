"""The cube on disk: atomic writes, lazy reads, cells in row-major order, CellData loading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from data_fixtures import make_cube
from h2cm.data.cube import CubeError, land_cells, load_cells, open_cube, open_truth, save_cube
from h2cm.schema import FORCING_KEYS, STATIC_FEATURE_KEYS


@pytest.mark.parametrize("name", ["cube.zarr", "cube.nc"])
def test_roundtrip_is_lazy_chunked_and_cf(tmp_path, name):
    ds = make_cube(n_lat=7, n_lon=6)
    path = save_cube(ds, tmp_path / name)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # the temporary was renamed away
    back = open_cube(path)
    assert back["tair"].chunks is not None  # dask, not loaded
    assert back["tair"].encoding["chunksizes" if name.endswith(".nc") else "chunks"] == (ds.sizes["time"], 5, 5)
    np.testing.assert_array_equal(back["prec"].values, ds["prec"].values)
    assert back["tair"].attrs["units"] == "K" and back["tair"].attrs["standard_name"] == "air_temperature"
    assert back["lat"].attrs["units"] == "degrees_north" and back["lon"].attrs["units"] == "degrees_east"
    assert [str(f) for f in back["feature"].values] == list(STATIC_FEATURE_KEYS)
    assert back.attrs["h2cm_cube_version"] == 1
    assert open_truth(path) is None


def test_save_replaces_existing_cube_atomically(tmp_path):
    path = tmp_path / "c.zarr"
    save_cube(make_cube(seed=1), path)
    save_cube(make_cube(seed=2), path)
    np.testing.assert_array_equal(open_cube(path)["rn"].values, make_cube(seed=2)["rn"].values)
    assert [p.name for p in tmp_path.iterdir()] == ["c.zarr"]


def test_failed_save_keeps_the_old_cube(tmp_path):
    path = tmp_path / "c.zarr"
    save_cube(make_cube(seed=1), path)
    bad = make_cube(seed=2).drop_vars("rn")
    with pytest.raises(CubeError, match="rn"):
        save_cube(bad, path)
    np.testing.assert_array_equal(open_cube(path)["rn"].values, make_cube(seed=1)["rn"].values)


def test_land_cells_row_major():
    ds = make_cube(n_lat=3, n_lon=4)
    li, lj = land_cells(ds)
    assert len(li) == 11  # (0, 0) is masked out
    assert (li[0], lj[0]) == (0, 1) and (li[-1], lj[-1]) == (2, 3)
    assert np.all(np.diff(li * 4 + lj) > 0)


def test_load_cells_values_and_order(tmp_path):
    ds = make_cube(n_lat=12, n_lon=11)  # several chunks in both directions
    path = save_cube(ds, tmp_path / "c.zarr")
    li, lj = land_cells(ds)
    pick = np.array([100, 3, 57, 0])
    cells = load_cells(path, pick)
    assert cells.forcing.shape == (ds.sizes["time"], 4, 5) and cells.forcing.dtype == torch.float32
    for n, c in enumerate(pick):
        for k, key in enumerate(FORCING_KEYS):
            np.testing.assert_allclose(cells.forcing[:, n, k].numpy(), ds[key].values[:, li[c], lj[c]])
        np.testing.assert_allclose(cells.static[n].numpy(), ds["static"].values[li[c], lj[c]])
        np.testing.assert_allclose(cells.constraints["gpp"][:, n].numpy(), ds["gpp"].values[:, li[c], lj[c]])
        assert cells.constraints["cue"][n] == pytest.approx(float(ds["cue"].values[li[c], lj[c]]))
        assert cells.lat[n] == ds["lat"].values[li[c]] and cells.lon[n] == ds["lon"].values[lj[c]]
    assert cells.features == STATIC_FEATURE_KEYS
    np.testing.assert_array_equal(cells.cell_index, pick)
    assert (cells.day_month.numpy() == pd.DatetimeIndex(ds["time"].values).month - 1).all()
    assert cells.subset([1]).forcing.shape[1] == 1


def test_load_cells_period(tmp_path):
    ds = make_cube()
    cells = load_cells(ds, period=("2001-02-01", "2001-02-28"))
    assert cells.time[0] == pd.Timestamp("2001-02-01") and len(cells.time) == 28
    assert list(cells.months) == [pd.Timestamp("2001-02-01")]
    assert cells.constraints["et"].shape == (1, cells.n_cells)
    assert (cells.day_month == 0).all()
    np.testing.assert_allclose(cells.forcing[:, :, 1].numpy(), load_cells(ds).forcing[31:59, :, 1].numpy())


def test_load_cells_rejects_bad_index():
    with pytest.raises(IndexError, match="19 cells"):
        load_cells(make_cube(), [19])
