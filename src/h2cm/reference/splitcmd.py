"""``h2cm split``: a cube's cross-validation split, h2cm's or the authors', as JSON and as a map.

``--method h2cm`` (default) is :func:`h2cm.data.splits.cube_split` with ``--seed``,
``--n-folds``, ``--block-deg`` and ``--test-fraction`` (the ``split`` section of a run
configuration); ``--method reference`` is the authors' split (:mod:`h2cm.data.reference_split`), which
only takes ``--n-folds``. The JSON is what a run keeps as ``RUN/split.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.splits import Split


def cube_split_by_method(cube, method: str = "h2cm", **options) -> Split:
    """The split of a cube's land cells by ``method`` (``h2cm`` or ``reference``)."""
    from ..data.cube import open_cube
    from ..data.reference_split import cube_reference_split
    from ..data.splits import cube_split

    ds = open_cube(cube)
    if method == "reference":
        return cube_reference_split(ds, options.get("n_folds", 10))
    if method != "h2cm":
        raise ValueError(f"split method {method!r}: expected 'h2cm' or 'reference'")
    return cube_split(ds, **options)


def split_figure(split: Split, path: str | os.PathLike, title: str = "") -> Path:
    """A map of the cells coloured by set: the test set grey, folds 0..n-1 in colours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label = np.full(split.n_cells, -1)
    for k, cells in enumerate(split.folds):
        label[cells] = k
    fig, ax = plt.subplots(figsize=(10, 5))
    test = label < 0
    ax.scatter(split.lon[test], split.lat[test], s=2, marker="s", color="0.6", label=f"test ({test.sum()})")
    cmap = plt.get_cmap("tab10" if split.n_folds <= 10 else "tab20")
    for k in range(split.n_folds):
        sel = label == k
        ax.scatter(
            split.lon[sel], split.lat[sel], s=2, marker="s", color=cmap(k % cmap.N), label=f"fold {k} ({sel.sum()})"
        )
    ax.set(xlabel="longitude (degrees_east)", ylabel="latitude (degrees_north)", aspect="equal")
    ax.set_title(title or f"{split.method} split: test set and {split.n_folds} folds")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=4, fontsize=8, frameon=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
