"""Spatial-block cross-validation splits and the Appendix D time split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from h2cm.data.geography import load_geography
from h2cm.data.splits import Split, block_ids, spatial_split, time_split
from h2cm.data.synth.world import SIZES, world_grid


@pytest.fixture(scope="module")
def global_cells():
    geo = load_geography()
    _, _, mask = world_grid(SIZES["global"], geo)
    li, lj = np.nonzero(mask)
    return geo.lat[li], geo.lon[lj]


@pytest.fixture(scope="module")
def split(global_cells):
    return spatial_split(*global_cells, seed=7)


def test_every_cell_in_exactly_one_set(split, global_cells):
    n = len(global_cells[0])
    sets = [split.test, *split.folds]
    every = np.concatenate(sets)
    assert len(every) == n and len(np.unique(every)) == n
    assert set(every) == set(range(n))
    assert split.n_folds == 10


def test_blocks_are_not_cut(split, global_cells):
    ids = block_ids(*global_cells, 5.0)
    owner = {}
    for name, idx in [("test", split.test)] + [(f"fold{k}", f) for k, f in enumerate(split.folds)]:
        for b in np.unique(ids[idx]):
            assert owner.setdefault(b, name) == name  # a block belongs to one set only


def test_proportions_roughly_80_10_10(split, global_cells):
    n = len(global_cells[0])
    assert 0.06 < len(split.test) / n < 0.095  # about 1/13
    for k in range(split.n_folds):
        train, val = split.fold(k)
        assert 0.78 < len(train) / n < 0.87 and 0.07 < len(val) / n < 0.11
        assert not set(train) & set(val) and not set(val) & set(split.test) and not set(train) & set(split.test)
        assert len(train) + len(val) + len(split.test) == n


def test_deterministic_from_seed(split, global_cells):
    again = spatial_split(*global_cells, seed=7)
    np.testing.assert_array_equal(again.test, split.test)
    for a, b in zip(again.folds, split.folds, strict=True):
        np.testing.assert_array_equal(a, b)
    other = spatial_split(*global_cells, seed=8)
    assert not np.array_equal(other.test, split.test)


def test_json_roundtrip(tmp_path, split):
    split.time = time_split()
    path = split.save(tmp_path / "run" / "split.json")
    back = Split.load(path)
    np.testing.assert_array_equal(back.test, split.test)
    assert [list(f) for f in back.folds] == [list(f) for f in split.folds]
    assert back.seed == 7 and back.block_deg == 5.0 and back.time == split.time
    np.testing.assert_allclose(back.lat, split.lat)
    assert [p.name for p in path.parent.iterdir()] == ["split.json"]


def test_load_rejects_overlapping_sets(tmp_path, split):
    d = split.to_dict()
    d["folds"][0].append(d["test"][0])
    with pytest.raises(ValueError, match="more than one set"):
        Split.from_dict(d)


def test_too_few_blocks_is_a_clear_error():
    lat = np.array([0.5, 1.5, 10.5])
    lon = np.array([0.5, 1.5, 10.5])
    with pytest.raises(ValueError, match="only 2 blocks"):
        spatial_split(lat, lon)
    small = spatial_split(lat, lon, n_folds=2, test_fraction=0)
    assert len(small.test) == 0 and small.n_cells == 3


def test_fold_out_of_range(split):
    with pytest.raises(IndexError, match="10 folds"):
        split.fold(10)


def test_time_split_appendix_d():
    ts = time_split()
    days = pd.date_range("2001-01-01", "2019-12-31")
    train, test = ts.masks(days)
    assert days[train][-1] == pd.Timestamp("2017-12-31") and days[test][0] == pd.Timestamp("2018-01-01")
    assert train.sum() + test.sum() == len(days) and not (train & test).any()
    with pytest.raises(ValueError, match="before"):
        time_split(train_end="2018-06-30")
