"""h2cm import-h2cm against a store in the layout the authors' loader reads (github zavud/h2cm,
datasets/ZarrDataset.py, helpers_loading.py, helpers_preprocessing.py, models/hybrid/hybrid_helpers.py).

The store is built here in miniature exactly as their loader indexes it: one group per variable,
opened with ``xarray.open_zarr(store, group=NAME)``; the variable ``data`` with dims named ``time``,
``lat``, ``lon`` (the static group has one more, the features); ``mean``/``std`` as the group's
attributes (a list per feature for ``static``); the mask and every static field on (lat, lon).
``_their_cells`` reads it back the way their loader does (cells by position from
``np.argwhere(mask)``, forcing stacked by position, months as ``datetime64[M]``) and the imported
cube must give the same numbers. Quirks their loader tolerates are in the store on purpose: lat
coordinates stored as float32 in some groups, a forcing group with noon time stamps, 8-daily and
daily constraints, month stamps on the 1st, the 15th and the last day.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from h2cm.cli import data as import_h2cm_verb
from h2cm.data.cube import land_cells, load_cells, open_cube
from h2cm.data.import_h2cm import StoreLayoutError, read_h2cm_store
from h2cm.data.reference_split import cube_reference_split
from h2cm.training.config import load_config
from h2cm.training.folds import normalization_statistics
from h2cm.training.store_stats import input_statistics, loss_statistics

# builds a store in the authors' layout and imports it per module (about 10 s): the slow lane
pytestmark = pytest.mark.slow

LAT = 9.55 - np.arange(10.0)  # north first, as the store's rows; 0.55 etc. differ in float32
LON = 0.55 + np.arange(15.0)
DAYS = pd.date_range("2001-01-01", "2001-12-31")
FORCING = ("rn", "prec", "tair", "vpd", "co2")
CONSTRAINTS = {  # group -> (cube key, time stamps)
    "tws": ("tws", pd.date_range("2001-01-01", periods=12, freq="MS") + pd.Timedelta(days=14)),
    "et_xbase": ("et", DAYS),
    "q_v2": ("runoff", pd.date_range("2001-01-01", periods=12, freq="MS")),
    "swe_bc": ("swe", DAYS),
    "fapar": ("fapar", pd.date_range("2001-01-01", "2001-12-31", freq="8D")),
    "gpp": ("gpp", pd.date_range("2001-01-01", periods=12, freq="MS")),
    "nee": ("nee", pd.date_range("2001-01-31", periods=12, freq="ME")),
    "nee_iav": ("nee_anomaly", pd.date_range("2001-01-31", periods=12, freq="ME")),
}
N_STATIC = 30
FORCING_STATS = {"rn": (100.5, 40.25), "prec": (2.0, 2.5), "tair": (284.0, 8.0), "vpd": (6.0, 6.5), "co2": (371.0, 0.5)}
RANGES = {"tws": (-80.0, 80.0), "fapar": (0.05, 0.9), "nee": (-3.0, 2.0), "nee_iav": (-0.5, 0.5)}


def _group(store, name, values, dims, time=None, lat=LAT, mean=0.0, std=1.0, units=""):
    coords = {"lat": lat, "lon": LON} | ({"time": time} if time is not None else {})
    decoy = {"units": units, "mean": -999.0}  # a variable attribute their loader never reads
    ds = xr.Dataset({"data": xr.DataArray(values, dims=dims, attrs=decoy)}, coords=coords)
    ds.attrs = {"mean": mean, "std": std}  # group attributes: what their extract_statistics_* read
    ds.to_zarr(store, group=name, mode="a", consolidated=False)


def write_authors_store(store, mask=None, static_stats=N_STATIC, short_group=None):
    """A 10 x 15 cell, one-year store in the authors' layout; returns the land mask."""
    rng = np.random.default_rng(7)
    shape = (len(LAT), len(LON))
    if mask is None:
        mask = (rng.random(shape) < 0.8).astype(np.int8)
        mask[5:, 10:] = 0  # block 5 (of 0..5, row by row) all sea
    draws = {
        "rn": rng.normal(100, 40, (len(DAYS), *shape)),
        "prec": rng.exponential(2, (len(DAYS), *shape)),
        "tair": rng.normal(284, 8, (len(DAYS), *shape)),  # K: their snow model subtracts 273.15
        "vpd": rng.exponential(6, (len(DAYS), *shape)),
        "co2": np.broadcast_to(np.linspace(370, 372, len(DAYS))[:, None, None], (len(DAYS), *shape)),
    }
    units = {"rn": "W m-2", "prec": "mm d-1", "tair": "K", "vpd": "hPa", "co2": "ppm"}
    for name in FORCING:
        days = DAYS[:-1] if name == short_group else DAYS
        time = days + pd.Timedelta(hours=12) if name == "vpd" else days  # stacked by position
        values = draws[name][: len(days)].astype(np.float32)
        mean, std = FORCING_STATS[name]
        _group(store, name, values, ("time", "lat", "lon"), time, mean=mean, std=std, units=units[name])
    for i, (name, (_, stamps)) in enumerate(CONSTRAINTS.items()):
        lo, hi = RANGES.get(name, (0.1, 2.0))
        values = rng.uniform(lo, hi, (len(stamps), *shape)).astype(np.float32)
        values[rng.random(values.shape) < 0.1] = np.nan  # gaps
        if name == "tws":
            values[5] = np.nan  # a month without GRACE
        lat32 = LAT.astype(np.float32) if i % 2 else LAT  # their loader matches cells by position
        _group(store, name, values, ("time", "lat", "lon"), stamps, lat=lat32, mean=0.5 + i, std=0.1 * (i + 1))
    static = (np.arange(N_STATIC)[None, None, :] * 10 + rng.random((*shape, N_STATIC))).astype(np.float32)
    s_mean, s_std = static[mask == 1].mean(0), static[mask == 1].std(0)
    _group(store, "static", static, ("lat", "lon", "variable"), mean=s_mean[:static_stats].tolist(), std=s_std.tolist())
    _group(store, "cue", rng.uniform(0.3, 0.6, shape).astype(np.float32), ("lat", "lon"), mean=0.45, std=0.08)
    area = np.broadcast_to(1.2364e10 * np.cos(np.deg2rad(LAT))[:, None], shape)  # m2, as their loader says
    _group(store, "grid_area", area, ("lat", "lon"))
    _group(store, "mask", mask, ("lat", "lon"))
    return mask


def _open(store, name):
    return xr.open_zarr(store, group=name, consolidated=False)


def _their_monthly(values: np.ndarray, stamps) -> dict[int, np.ndarray]:
    """Their target aggregation: the NaN-mean over entries sharing a datetime64[M] value."""
    months = np.asarray(stamps, dtype="datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN months stay NaN
        return {m: np.nanmean(values[months == m], axis=0) for m in np.unique(months)}


def _their_cells(store):
    """Forcing, static, constraints and grid of every land cell, read as their loader reads them."""
    mask = _open(store, "mask")
    cells = np.argwhere(mask.data.values)
    groups = {n: _open(store, n) for n in (*FORCING, *CONSTRAINTS, "static", "cue", "grid_area")}
    out = {"ij": cells, "lat": mask.lat.values[cells[:, 0]], "lon": mask.lon.values[cells[:, 1]]}
    at = {n: g.data.values for n, g in groups.items()}
    at["static"] = groups["static"].data.transpose("lat", "lon", ...).values
    out["forcing"] = np.stack([at[n][:, cells[:, 0], cells[:, 1]] for n in FORCING], axis=-1)  # (T, N, 5)
    for n in ("static", "cue", "grid_area"):
        out[n] = at[n][cells[:, 0], cells[:, 1]]
    for n in CONSTRAINTS:
        out[n] = _their_monthly(at[n][:, cells[:, 0], cells[:, 1]], groups[n].time.values)
    out["stats"] = {s: [float(groups[n].attrs[s]) for n in FORCING] for s in ("mean", "std")}
    out["static_stats"] = {s: list(groups["static"].attrs[s]) for s in ("mean", "std")}
    out["constraint_stats"] = {n: (groups[n].attrs["mean"], groups[n].attrs["std"]) for n in (*CONSTRAINTS, "cue")}
    return out


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("authors_store")
    write_authors_store(root / "h2cm.zarr")
    parser = argparse.ArgumentParser()  # the verb's own parser and handler (h2cm import-h2cm)
    import_h2cm_verb.register(parser.add_subparsers())
    args = parser.parse_args(["import-h2cm", str(root / "h2cm.zarr"), "--out", str(root / "cube.zarr")])
    assert args.func(args) == 0
    return root / "h2cm.zarr", root / "cube.zarr"


def test_the_cube_holds_what_their_loader_reads(imported):
    store, path = imported
    theirs, cube = _their_cells(store), open_cube(path)
    cells = load_cells(cube)
    assert cube.sizes["lat"] == 10 and cube.sizes["lon"] == 15 and cube.sizes["time"] == 365  # no outer joins
    np.testing.assert_array_equal(cube["lat"].values, LAT)  # the store's row order (north first) is kept
    assert (pd.DatetimeIndex(cube["time"].values) == DAYS).all()  # rn's days; vpd's noon stamps by position
    np.testing.assert_array_equal(np.stack(land_cells(cube), 1), theirs["ij"])  # same cells, same order
    np.testing.assert_array_equal(cells.lat, theirs["lat"])
    np.testing.assert_array_equal(cells.forcing.numpy(), theirs["forcing"])  # (days, cells, 5), exact
    np.testing.assert_array_equal(cells.static.numpy(), theirs["static"])  # the store's feature order
    np.testing.assert_array_equal(cells.constraints["cue"].numpy(), theirs["cue"])
    np.testing.assert_allclose(cells.cell_area.numpy(), theirs["grid_area"], rtol=1e-7)  # m2, unchanged
    assert [str(f) for f in cube["feature"].values[:2]] == ["static_00", "static_01"]
    month_ints = cells.months.values.astype("datetime64[M]").astype(np.int64)
    for group, (key, _) in CONSTRAINTS.items():
        ours = cells.constraints[key].numpy()  # (months, cells)
        for m, value in theirs[group].items():
            np.testing.assert_allclose(ours[list(month_ints).index(m)], value, rtol=1e-6, err_msg=group)
    assert np.isnan(cells.constraints["tws"].numpy()[5]).all()  # the GRACE gap stays a gap


def test_units_and_statistics_attributes(imported):
    store, path = imported
    theirs, cube = _their_cells(store), open_cube(path)
    assert cube["tair"].attrs["units"] == "K" and float(cube["tair"].min()) > 240  # kept in K
    assert cube["cell_area"].attrs["units"] == "m2" and cube["land_mask"].dtype == np.int8
    assert cube["et"].attrs["h2cm_source_group"] == "et_xbase" and cube["runoff"].attrs["units"] == "mm d-1"
    for key in FORCING:
        assert (cube[key].attrs["h2cm_mean"], cube[key].attrs["h2cm_std"]) == FORCING_STATS[key]
    assert list(cube["static"].attrs["h2cm_mean"]) == pytest.approx(theirs["static_stats"]["mean"])
    for group, (key, _) in {**CONSTRAINTS, "cue": ("cue", None)}.items():
        assert (cube[key].attrs["h2cm_mean"], cube[key].attrs["h2cm_std"]) == theirs["constraint_stats"][group]


def test_normalization_store_reads_their_statistics(imported):
    store, path = imported
    theirs = _their_cells(store)
    fm, fs, sm, ss = input_statistics(path)
    assert fm.tolist() == theirs["stats"]["mean"] and fs.tolist() == theirs["stats"]["std"]
    f32 = torch.float32  # their statistics are float32 tensors
    assert torch.equal(sm, torch.tensor(theirs["static_stats"]["mean"], dtype=f32))
    assert torch.equal(ss, torch.tensor(theirs["static_stats"]["std"], dtype=f32))
    cfg = load_config("paper", [f"data.cube={path}"])
    assert cfg.normalization == "store"
    (fm2, _, sm2, _), loss = normalization_statistics(cfg, load_cells(path, cell_index=[0, 1, 2]))
    assert torch.equal(fm2, fm) and torch.equal(sm2, sm)
    direct = loss_statistics(path, ["tws", "et", "gpp", "nee_anomaly", "cue"])
    for key, group in (("et", "et_xbase"), ("gpp", "gpp"), ("nee_anomaly", "nee_iav"), ("cue", "cue")):
        assert (
            (loss.mean[key], loss.std[key]) == theirs["constraint_stats"][group] == (direct.mean[key], direct.std[key])
        )
    assert loss.mean["tws"] == 0.0 and loss.std["tws"] == theirs["constraint_stats"]["tws"][1]  # anomalies


def _their_split(mask: xr.DataArray, k: int):
    """Their random_split_blocking_k on the store's mask, with xarray as they use it:
    (train, validation, test) cell positions from np.argwhere."""

    def blocked(cond: xr.DataArray, n_sets: int) -> xr.Dataset:
        nbi, nbj = -(-cond.sizes["lat"] // 5), -(-cond.sizes["lon"] // 5)
        ids = (np.arange(nbi)[:, None] * nbj + np.arange(nbj)[None, :]).repeat(5, 0).repeat(5, 1)
        order = np.unique(ids)
        np.random.shuffle(order)  # noqa: NPY002 - their legacy global generator
        sets = np.zeros_like(ids)
        for s, members in enumerate(np.array_split(order, n_sets)):
            sets[np.isin(ids, members)] = s + 1
        grid = xr.DataArray(sets, coords=[cond.lat, cond.lon], dims=["lat", "lon"])
        return xr.Dataset({"data": grid}).where(cond, 0)

    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(1)  # noqa: NPY002
        first = blocked(mask, 13)
        test, rest = first.isin([1]), first.isin(np.arange(2, 14))
        second = blocked(rest.data, 10)
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    train = second.isin([s for s in range(1, 11) if s != k + 1])
    return [np.argwhere(m.data.values) for m in (train, second.isin([k + 1]), test)]


def test_reference_split_of_the_imported_cube_is_theirs(imported):
    store, path = imported
    cube = open_cube(path)
    split = cube_reference_split(cube)
    ij = np.stack(land_cells(cube), 1)
    for k in range(10):
        train, val, test = _their_split(_open(store, "mask").data, k)
        ours_train, ours_val = split.fold(k)
        np.testing.assert_array_equal(ij[split.test], test)
        np.testing.assert_array_equal(ij[ours_val], val)
        np.testing.assert_array_equal(ij[np.sort(ours_train)], train)
    # By hand: RandomState(1) shuffles the 6 block numbers to [2 1 4 0 3 5], dealt into 13 sets, so
    # the test set is block 2 (rows 0-4, cols 10-14); the second shuffle [4 2 0 5 3 1] dealt into 10
    # sets gives fold k the block in place k: 4, 2 (the test block), 0, 5 (sea), 3, 1, then nothing.
    assert set(map(tuple, ij[split.test] // 5)) == {(0, 2)}
    assert set(map(tuple, ij[split.folds[0]] // 5)) == {(1, 1)} and set(map(tuple, ij[split.folds[2]] // 5)) == {(0, 0)}
    assert [len(f) > 0 for f in split.folds] == [True, False, True, False, True, True, False, False, False, False]


def test_mask_truth_is_numpys(tmp_path):
    """Their np.argwhere(mask) and Dataset.where(mask) count every non-zero value, NaN too."""
    mask = np.ones((10, 15))
    mask[0, 0], mask[0, 1], mask[0, 2], mask[1, :] = 0, np.nan, -1, 0
    write_authors_store(tmp_path / "s.zarr", mask=mask)
    land = read_h2cm_store(tmp_path / "s.zarr")["land_mask"].values
    np.testing.assert_array_equal(np.argwhere(land), np.argwhere(_open(tmp_path / "s.zarr", "mask").data.values))
    assert land[0, :3].tolist() == [0, 1, 1] and land.sum() == 150 - 16


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"static_stats": 29}, r"static: attribute 'mean' has 29 value\(s\); expected 30 \(one per static feature\)"),
        ({"short_group": "tair"}, r"tair: 364 time steps; expected 365 as in the group 'rn'"),
    ],
)
def test_store_errors_name_the_group(tmp_path, kwargs, message):
    write_authors_store(tmp_path / "s.zarr", **kwargs)
    with pytest.raises(StoreLayoutError, match=message):
        read_h2cm_store(tmp_path / "s.zarr")
