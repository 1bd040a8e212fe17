"""Ablation worlds for the claims study (docs/studies/claims.md, "What stands between the model
and each threshold"): a copy of a twin world with one observation made perfect.

    python benchmarks/claims_ablation.py WORLD.zarr OUT.zarr perfect-nee

``perfect-nee``: the OCO-2-like NEE replaced by the truth's own monthly NEE of each cell, in
the same months (2015-2019), without smoothing or errors. Everything else (forcing, the other
constraints, the truth, the products) is copied unchanged; the copy is checked like any cube.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from h2cm.data.check import check_cube
from h2cm.data.cube import open_cube, open_truth, raise_on_errors

ABLATIONS = ("perfect-nee",)


def perfect_nee(world: Path, out: Path) -> Path:
    shutil.copytree(world, out)
    cube = open_cube(out)
    truth = open_truth(out)
    months = cube["month"].to_index()
    monthly = truth["nee"].resample(time="MS").mean().reindex(time=months)
    observed = np.isfinite(np.asarray(cube["nee"].values))
    values = np.where(observed, np.asarray(monthly.transpose("time", "lat", "lon").values), np.nan)
    zarr.open_group(str(out), mode="r+")["nee"][:] = values.astype(np.float32)
    raise_on_errors(check_cube(xr.open_zarr(out, consolidated=False)), f"ablation world {out}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("world")
    p.add_argument("out")
    p.add_argument("ablation", choices=ABLATIONS)
    a = p.parse_args()
    out = Path(a.out)
    if out.exists():
        raise SystemExit(f"{out} exists")
    print(perfect_nee(Path(a.world), out))


if __name__ == "__main__":
    main()
