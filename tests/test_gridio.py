"""Cells scattered over a gridded zarr array, written and read one chunk tile at a time."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from h2cm.data.gridio import read_cells, write_cells


def _cells(seed: int = 0):
    rng = np.random.default_rng(seed)
    mask = rng.random((9, 10)) < 0.4
    mask[0, 9] = True  # a cell in the last, short chunk column
    rows, cols = np.nonzero(mask)
    return rows, cols, rng.random((7, rows.size)).astype(np.float32)


@pytest.mark.parametrize("chunk_rows", [3, 4])  # 4: chunks that two bands of 3 rows share
def test_write_cells_equals_a_dense_band_write(tmp_path, chunk_rows):
    rows, cols, values = _cells()
    root = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", zarr_format=3)
    got = root.create_array("x", shape=(7, 9, 10), chunks=(7, chunk_rows, 3), dtype="f4", fill_value=np.nan)
    flat = root.create_array("cue", shape=(9, 10), chunks=(chunk_rows, 3), dtype="f4", fill_value=np.nan)
    for r0 in range(0, 9, 3):  # bands of 3 rows, as a world's blocks
        here = (rows >= r0) & (rows < r0 + 3)
        write_cells(got, values[:, here], rows[here], cols[here], (r0, r0 + 3))
        write_cells(flat, values[0, here], rows[here], cols[here], (r0, r0 + 3))
    want = np.full((7, 9, 10), np.nan, dtype=np.float32)
    want[:, rows, cols] = values
    np.testing.assert_array_equal(got[:], want)
    np.testing.assert_array_equal(flat[:], want[0])


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_read_cells_equals_fancy_indexing(tmp_path, zarr_format):
    rows, cols, _ = _cells(1)
    rng = np.random.default_rng(2)
    dense = rng.random((2, 5, 9, 10)).astype(np.float32)  # (fold, time, lat, lon)
    root = zarr.open_group(str(tmp_path / "r.zarr"), mode="w", zarr_format=zarr_format)
    arr = root.create_array("x", shape=dense.shape, chunks=(1, 5, 4, 3), dtype="f4", fill_value=np.nan)
    arr[:] = dense
    pick = rng.permutation(rows.size)[:17]  # any order, as a batch of cells comes
    got = read_cells(arr, (slice(None), slice(1, 4)), rows[pick], cols[pick])
    np.testing.assert_array_equal(got, dense[:, 1:4][:, :, rows[pick], cols[pick]])
    assert read_cells(arr, (slice(None), slice(1, 4)), rows[:0], cols[:0]).shape == (2, 3, 0)


def test_write_cells_into_a_slice_of_the_leading_dimensions(tmp_path):
    rows, cols, values = _cells(3)
    root = zarr.open_group(str(tmp_path / "w.zarr"), mode="w", zarr_format=2)
    arr = root.create_array("x", shape=(2, 9, 9, 10), chunks=(1, 9, 4, 3), dtype="f4", fill_value=np.nan)
    arr[:] = -1.0  # outside the written slice nothing changes
    write_cells(arr, np.stack([values[:3], values[3:6]]), rows, cols, (0, 9), lead=(slice(None), slice(2, 5)))
    want = np.full((2, 9, 9, 10), -1.0, dtype=np.float32)
    ch = np.zeros((9, 10), dtype=bool)  # every position of a tile holding a cell becomes NaN first
    for r, c in zip(rows, cols, strict=True):
        ch[r // 4 * 4 : r // 4 * 4 + 4, c // 3 * 3 : c // 3 * 3 + 3] = True
    want[:, 2:5][:, :, ch] = np.nan
    want[:, 2:5, rows, cols] = np.stack([values[:3], values[3:6]])
    np.testing.assert_array_equal(arr[:], want)
