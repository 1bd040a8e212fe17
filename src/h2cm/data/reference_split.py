"""The authors' 10-fold spatial-block split (``split.method: reference``; docs/reference.md).

Reproduces ``datasets/helpers_preprocessing.py`` of github zavud/h2cm on the cube's grid:

1. numpy's legacy global generator is seeded with 1;
2. the grid is cut into blocks of 5 x 5 grid cells (row-major block numbers), the block numbers
   are shuffled and dealt into 13 consecutive sets (``numpy.array_split``); the land cells of the
   first set are the fixed test set;
3. with the same generator, the grid is blocked and shuffled again and dealt into ``n_folds``
   sets (10); only the remaining land cells take part. Fold k validates on set k + 1 and trains
   on the others.

Cells are land cells in row-major (lat, lon) order, as the authors' ``np.argwhere`` of the mask
and h2cm's ``land_cells`` list them, so the split depends on the grid exactly as the published
store lays it out (its lat order included).
"""

from __future__ import annotations

import numpy as np

from .splits import Split

SEED = 1
BLOCK_CELLS = 5
TEST_SETS = 13  # the test set is the first of 13 sets of blocks (~1/13 of the land)
METHOD = "reference"


def block_sets(shape: tuple[int, int], n_sets: int, rng: np.random.RandomState) -> np.ndarray:
    """(nlat, nlon) set number 1..n_sets of every grid cell: blocks of ``BLOCK_CELLS`` cells,
    shuffled with ``rng`` and dealt into ``n_sets`` consecutive groups."""
    nlat, nlon = shape
    nbi, nbj = -(-nlat // BLOCK_CELLS), -(-nlon // BLOCK_CELLS)
    block = (np.arange(nlat)[:, None] // BLOCK_CELLS) * nbj + np.arange(nlon)[None, :] // BLOCK_CELLS
    numbers = np.arange(nbi * nbj)
    rng.shuffle(numbers)
    set_of_block = np.empty(nbi * nbj, dtype=np.int64)
    for k, members in enumerate(np.array_split(numbers, n_sets)):
        set_of_block[members] = k + 1
    return set_of_block[block]


def reference_sets(mask: np.ndarray, n_folds: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(test (nlat, nlon) bool, fold (nlat, nlon) int: 0..n_folds-1 for non-test land, -1 else)."""
    mask = np.asarray(mask).astype(bool)
    if mask.ndim != 2:
        raise ValueError(f"reference split: expected a 2-d (lat, lon) land mask, got shape {mask.shape}")
    rng = np.random.RandomState(SEED)
    test = mask & (block_sets(mask.shape, TEST_SETS, rng) == 1)
    sets = block_sets(mask.shape, n_folds, rng)
    fold = np.where(mask & ~test, sets - 1, -1)
    return test, fold


def reference_split(mask: np.ndarray, lat: np.ndarray, lon: np.ndarray, n_folds: int = 10) -> Split:
    """The authors' split of the land cells of ``mask`` (dims lat, lon) as an h2cm :class:`Split`
    (cell indices in row-major land-cell order; lat/lon the cells' centres)."""
    test, fold = reference_sets(mask, n_folds)
    li, lj = np.nonzero(np.asarray(mask).astype(bool))
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    cell_fold = fold[li, lj]
    spacing = float(np.abs(np.diff(lat)).min()) if len(lat) > 1 else 1.0
    split = Split(
        test=np.nonzero(test[li, lj])[0],
        folds=[np.nonzero(cell_fold == k)[0] for k in range(n_folds)],
        seed=SEED,
        block_deg=BLOCK_CELLS * spacing,
        test_fraction=1 / TEST_SETS,
        lat=lat[li],
        lon=lon[lj],
        method=METHOD,
    )
    split.validate()
    return split


def cube_reference_split(ds, n_folds: int = 10) -> Split:
    """:func:`reference_split` of a cube (its ``land_mask == 1`` cells, its grid order)."""
    mask = np.asarray(ds["land_mask"].transpose("lat", "lon").values) == 1
    return reference_split(mask, ds["lat"].values, ds["lon"].values, n_folds)
