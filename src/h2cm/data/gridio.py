"""Read and write the values of scattered grid cells in a gridded zarr array, one chunk tile at a time.

Arrays are ``(..., lat, lon)`` with small spatial chunks, and the cells of a regional world or of
a run's test set cover a small part of the grid. Going through a dense band or bounding box makes
zarr cut (or read) every chunk of a large, mostly empty region; going tile by tile touches only
the chunks that hold cells, and gives the same values in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def _tiles(array, rows: np.ndarray, cols: np.ndarray) -> Iterator[tuple[np.ndarray, int, int, int]]:
    """(positions of the cells in one chunk tile, first row, first column, tile height)."""
    ch_r, ch_c = array.chunks[-2:]
    tile_of = (rows // ch_r) * (array.shape[-1] // ch_c + 1) + cols // ch_c
    order = np.argsort(tile_of, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(tile_of[order]) != 0])
    for idx in np.split(order, starts[1:]) if rows.size else []:
        yield idx, int(rows[idx[0]] // ch_r * ch_r), int(cols[idx[0]] // ch_c * ch_c), ch_r


def write_cells(
    array, values: np.ndarray, rows: np.ndarray, cols: np.ndarray, row_range: tuple[int, int], lead: tuple = ()
) -> None:
    """Set ``array[(*lead, rows, cols)] = values`` (``values``: ``(*leading, cells)``; ``rows``,
    ``cols``: the cells' grid indices; ``lead`` selects the leading dimensions, all of them by
    default) and NaN in every other position of the rows ``row_range`` (start, stop) that share a
    chunk tile with a cell. Tiles without a cell are left untouched: zarr reads them as the fill
    value (NaN). Only rows inside ``row_range`` are written, so bands that split a chunk do not
    overwrite each other."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    values = np.asarray(values, dtype=np.float32)
    r_lo, r_hi = row_range
    for idx, y, x0, ch_r in _tiles(array, rows, cols):
        y0, y1 = max(y, r_lo), min(y + ch_r, r_hi)
        x1 = min(x0 + array.chunks[-1], array.shape[-1])
        tile = np.full((*values.shape[:-1], y1 - y0, x1 - x0), np.nan, dtype=np.float32)
        tile[..., rows[idx] - y0, cols[idx] - x0] = values[..., idx]
        array[(*lead, ..., slice(y0, y1), slice(x0, x1))] = tile


def read_cells(array, lead: tuple, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``array[(*lead, rows, cols)]`` as ``(*leading, cells)``: ``lead`` selects the leading
    dimensions (slices, e.g. ``(slice(None), slice(t0, t1))``); the cells are read tile by tile."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    out = None
    for idx, y0, x0, ch_r in _tiles(array, rows, cols):
        block = np.asarray(array[(*lead, slice(y0, y0 + ch_r), slice(x0, x0 + array.chunks[-1]))])
        if out is None:
            out = np.empty((*block.shape[:-2], rows.size), dtype=block.dtype)
        out[..., idx] = block[..., rows[idx] - y0, cols[idx] - x0]
    if out is None:  # no cells: the leading shape from an empty read
        out = np.empty(np.asarray(array[(*lead, slice(0, 0), slice(0, 0))]).shape[:-2] + (0,), dtype=array.dtype)
    return out
