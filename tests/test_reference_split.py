"""split.method: reference (the authors' split), normalization: store, and ``h2cm split``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from h2cm.cli import main
from h2cm.data.geography import load_geography
from h2cm.data.reference_split import cube_reference_split, reference_split
from h2cm.data.splits import Split
from h2cm.data.synth.world import SIZES, world_grid
from h2cm.training.config import ConfigError, load_config
from h2cm.training.folds import make_split, normalization_statistics


@pytest.fixture(scope="module")
def world():
    geo = load_geography()
    _, _, mask = world_grid(SIZES["global"], geo)
    return np.asarray(mask, dtype=bool), geo.lat, geo.lon


def _deal(n_blocks: int, n_sets: int) -> np.ndarray:
    """Set number 1..n_sets of each block after one shuffle of the global generator: the first
    n_blocks % n_sets sets take one block more (numpy.array_split)."""
    ids = np.arange(n_blocks)
    np.random.shuffle(ids)  # noqa: NPY002 - the authors use the legacy global generator
    small, extra = divmod(n_blocks, n_sets)
    owner, start = np.zeros(n_blocks, dtype=int), 0
    for s in range(n_sets):
        size = small + (s < extra)
        owner[ids[start : start + size]] = s + 1
        start += size
    return owner


def _authors_split_by_hand(mask: np.ndarray, n_folds: int = 10):
    """The published algorithm written cell by cell, on numpy's global legacy generator."""
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(1)  # noqa: NPY002
        nbi, nbj = -(-mask.shape[0] // 5), -(-mask.shape[1] // 5)
        first, second = _deal(nbi * nbj, 13), _deal(nbi * nbj, n_folds)
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    test, folds = [], [[] for _ in range(n_folds)]
    for n, (i, j) in enumerate(zip(*np.nonzero(mask), strict=True)):
        block = (i // 5) * nbj + j // 5
        if first[block] == 1:
            test.append(n)
        else:
            folds[second[block] - 1].append(n)
    return test, folds


@pytest.mark.parametrize("shape", ["global", (23, 37)])
def test_reference_split_is_the_published_algorithm(world, shape):
    if shape == "global":
        mask, lat, lon = world
    else:
        mask = np.random.default_rng(5).random(shape) < 0.6  # a grid that 5 does not divide
        lat, lon = np.linspace(60, 38, shape[0]), np.linspace(-10, 26, shape[1])
    split = reference_split(mask, lat, lon)
    test, folds = _authors_split_by_hand(mask)
    assert split.test.tolist() == test
    assert [f.tolist() for f in split.folds] == folds
    assert split.method == "reference" and split.seed == 1 and split.n_cells == mask.sum()
    for k in range(10):  # fold k validates on set k + 1 and trains on the other nine
        train, val = split.fold(k)
        assert val.tolist() == folds[k] and len(train) + len(val) + len(test) == split.n_cells


def test_reference_split_on_the_global_land(world):
    mask, lat, lon = world
    split = reference_split(mask, lat, lon)
    assert 0.04 < len(split.test) / split.n_cells < 0.13  # ~1/13 of the land
    sizes = np.array([len(f) for f in split.folds])
    assert sizes.min() > 0.5 * sizes.mean()
    li, lj = np.nonzero(mask)
    blocks = (li // 5) * 1000 + lj // 5
    assert not set(blocks[split.test]) & set(np.delete(blocks, split.test))  # whole blocks only
    again = Split.from_dict(json.loads(json.dumps(split.to_dict())))
    assert again.method == "reference" and again.test.tolist() == split.test.tolist()


def _cube(tmp_path, mask, lat, lon, with_stats=True):
    """A minimal cube-like dataset (what make_split and the store statistics read)."""
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {
            "land_mask": (("lat", "lon"), mask.astype(np.int8)),
            "static": (("lat", "lon", "feature"), rng.random((*mask.shape, 3)).astype(np.float32)),
            **{
                k: (("time", "lat", "lon"), rng.random((2, *mask.shape)).astype(np.float32))
                for k in ("rn", "prec", "tair", "vpd", "co2")
            },
            "gpp": (("month", "lat", "lon"), rng.random((1, *mask.shape)).astype(np.float32)),
        },
        coords={"lat": lat, "lon": lon, "feature": ["a", "b", "c"]},
    )
    if with_stats:
        for i, k in enumerate(("rn", "prec", "tair", "vpd", "co2", "gpp")):
            ds[k].attrs.update(h2cm_mean=10.0 * (i + 1), h2cm_std=float(i + 1))
        ds["static"].attrs.update(h2cm_mean=[1.0, 2.0, 3.0], h2cm_std=[0.5, 0.25, 2.0])
    ds.to_zarr(tmp_path / "cube.zarr", consolidated=False)
    return tmp_path / "cube.zarr"


def test_runs_use_the_reference_split_and_store_statistics(tmp_path):
    mask = np.random.default_rng(1).random((30, 40)) < 0.7
    lat, lon = np.linspace(59.5, 30.5, 30), np.linspace(0.5, 39.5, 40)
    path = _cube(tmp_path, mask, lat, lon)
    cfg = load_config("paper", [f"data.cube={path}", "split.method=reference", "normalization=store"])
    li, lj = np.nonzero(mask)
    split = make_split(cfg, lat[li], lon[lj])
    assert split.to_dict() == cube_reference_split(xr.open_zarr(path, consolidated=False)).to_dict()
    with pytest.raises(ConfigError, match="land cells of data.cube"):
        make_split(cfg, lat[li][:-1], lon[lj][:-1])

    class Train:  # the parts of CellData that the statistics read
        static = torch.zeros(5, 3)
        constraints = {"gpp": torch.ones(1, 5)}

    (fm, fs, sm, ss), loss = normalization_statistics(cfg, Train)
    assert fm.tolist()[:2] == [10.0, 20.0] and fm[2] == pytest.approx(30.0 + 273.15)  # degC mean -> K
    assert fs.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0] and ss.tolist() == [0.5, 0.25, 2.0]
    assert loss.mean == {"gpp": 60.0} and loss.std == {"gpp": 6.0}
    Train.constraints = {"gpp": torch.ones(1, 5), "et": torch.ones(1, 5)}
    with pytest.raises(ConfigError, match="no variable 'et'"):  # a constraint of the fold without statistics
        normalization_statistics(cfg, Train)
    bare = load_config(cfg, [f"data.cube={_cube(tmp_path / 'b', mask, lat, lon, with_stats=False)}"])
    with pytest.raises(ConfigError, match="variable 'rn' of the cube has no attribute 'h2cm_mean'"):
        normalization_statistics(bare, Train)


def test_split_command_prints_writes_and_draws(tmp_path, capsys):
    mask = np.random.default_rng(2).random((30, 40)) < 0.7
    path = _cube(tmp_path, mask, np.linspace(59.5, 30.5, 30), np.linspace(0.5, 39.5, 40))
    assert main(["split", str(path), "--method", "reference"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["method"] == "reference" and printed["n_cells"] == int(mask.sum())
    out, fig = tmp_path / "split.json", tmp_path / "split.png"
    args = ["split", str(path), "--block-deg", "3", "--n-folds", "4", "--out", str(out), "--figure", str(fig)]
    assert main(args) == 0
    assert Split.load(out).n_folds == 4 and Split.load(out).method == "h2cm"
    assert fig.stat().st_size > 10_000
