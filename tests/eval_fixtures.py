"""Tiny cubes and random-weight runs for the evaluation and report tests (no training needed).

A 4 x 5 grid over southern Africa (two ocean points), two years daily. Forcing from
``h2cm.toy``; "observations" are a random-weight model's monthly outputs plus noise; the hidden
truth (group ``truth``) is that model's daily outputs, static parameters and constants.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
import yaml

from h2cm.aggregate import month_index, monthly_mean
from h2cm.constraints import MONTHLY_CONSTRAINT_KEYS
from h2cm.data.cube import grid_cell_area, save_cube
from h2cm.model import H2CM
from h2cm.schema import CONSTANT_KEYS, FORCING_KEYS, OUTPUT_KEYS, STATIC_PARAMETER_KEYS
from h2cm.toy import toy_inputs, toy_model_statistics

LAT = np.array([-17.5, -16.5, -15.5, -14.5])
LON = np.array([23.5, 24.5, 25.5, 26.5, 27.5])
N_STATIC = 6


def _model(seed: int, forcing, static) -> H2CM:
    torch.manual_seed(seed)
    m = H2CM(n_static=N_STATIC, lstm_hidden=8, fc_hidden=8, code_size=4)
    m.set_normalization(*toy_model_statistics(forcing, static))
    m.eval()
    return m


def make_cube(path: Path, years: tuple[int, int] = (2001, 2002), truth: bool = True, seed: int = 0) -> Path:
    time = pd.date_range(f"{years[0]}-01-01", f"{years[1]}-12-31", freq="D")
    months = pd.date_range(time[0], time[-1], freq="MS")
    mask = np.ones((len(LAT), len(LON)), dtype=np.int8)
    mask[0, 0] = mask[3, 4] = 0
    ii, jj = np.nonzero(mask)
    n = len(ii)
    forcing, static = toy_inputs(len(time), n, n_static=N_STATIC, seed=seed)
    forcing[..., FORCING_KEYS.index("prec")] *= 1.5
    true_model = _model(123, forcing, static)
    with torch.no_grad():
        sim = true_model(forcing, static, outputs="all")
    dm = torch.from_numpy(month_index(time, months))
    monthly = {k: monthly_mean(sim.outputs[k], dm, len(months)).numpy() for k in OUTPUT_KEYS}
    rng = np.random.default_rng(seed)

    def grid(values: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
        out = np.full((*lead, len(LAT), len(LON)), np.nan, dtype=np.float32)
        out[..., ii, jj] = values
        return out

    data = {
        k: (("time", "lat", "lon"), grid(forcing[..., i].numpy(), (len(time),))) for i, k in enumerate(FORCING_KEYS)
    }
    static_grid = np.full((len(LAT), len(LON), N_STATIC), np.nan, dtype=np.float32)
    static_grid[ii, jj] = static.numpy()
    data["static"] = (("lat", "lon", "feature"), static_grid)
    for k in MONTHLY_CONSTRAINT_KEYS:
        base = monthly["nee" if k == "nee_anomaly" else k]
        if k == "nee_anomaly":
            moy = months.month.to_numpy() - 1
            msc = np.stack([base[moy == m].mean(0) for m in range(12)])
            base = base - msc[moy]
        if k == "tws":
            base = base - base.mean(0)
        noisy = base + 0.1 * np.nanstd(base) * rng.standard_normal(base.shape)
        noisy[rng.random(base.shape) < 0.1] = np.nan
        data[k] = (("month", "lat", "lon"), grid(noisy.astype(np.float32), (len(months),)))
    npp, gpp = monthly["npp"].mean(0), monthly["gpp"].mean(0)
    data["cue"] = (("lat", "lon"), grid(np.where(gpp > 0.1, npp / np.maximum(gpp, 1e-6), 0.5), ()))
    data["cell_area"] = (("lat", "lon"), grid_cell_area(LAT, LON).astype(np.float32))
    data["land_mask"] = (("lat", "lon"), mask)
    ds = xr.Dataset(
        data,
        coords={"time": time, "month": months, "lat": LAT, "lon": LON, "feature": [f"f{i}" for i in range(N_STATIC)]},
    )
    truth_ds = None
    if truth:
        tv = {k: (("time", "lat", "lon"), grid(sim.outputs[k].numpy(), (len(time),))) for k in OUTPUT_KEYS}
        for k in STATIC_PARAMETER_KEYS:
            tv[k] = (("lat", "lon"), grid(getattr(sim.static, k).numpy(), ()))
        for k in CONSTANT_KEYS:
            tv[k] = ((), np.float32(getattr(sim.constants, k).item()))
        truth_ds = xr.Dataset(tv, coords={"time": time, "lat": LAT, "lon": LON})
    save_cube(ds, path, truth=truth_ds, validate=False)
    return path


def make_run(path: Path, cube: Path, folds: int = 2, test: tuple[int, ...] = (2, 7, 8, 12, 13)) -> Path:
    """A run directory with random-weight fold models (normalised on the cube's forcing)."""
    from h2cm.data.cube import load_cells, open_cube
    from h2cm.data.splits import Split

    path.mkdir(parents=True, exist_ok=True)
    data = load_cells(open_cube(cube))
    rest = [i for i in range(data.n_cells) if i not in test]
    (path / "config.yaml").write_text(yaml.safe_dump({"cube": str(cube), "preset": "test", "folds": folds}))
    Split(
        test=np.asarray(test),
        folds=[np.asarray(rest[k::folds]) for k in range(folds)],
        seed=0,
        block_deg=5.0,
        test_fraction=len(test) / data.n_cells,
        lat=data.lat,
        lon=data.lon,
    ).save(path / "split.json")
    (path / "manifest.json").write_text(json.dumps({"h2cm": "test"}))
    for k in range(folds):
        model = _model(k, data.forcing, data.static)
        (path / f"fold_{k}").mkdir(exist_ok=True)
        save_model(model, path / f"fold_{k}" / "best.pt")
    return path


def save_model(model: H2CM, path: Path) -> None:
    """Save a best.pt the way training does."""
    from h2cm.training.checkpoint import model_payload, save_checkpoint

    save_checkpoint(path, model_payload(model))


_CACHE: dict[str, Path] = {}


def tiny_world(tmp_path_factory) -> dict[str, Path]:
    """Cube, run, daily simulations and evaluation of the tiny world, built once per session."""
    from h2cm import runtime
    from h2cm.evaluation.evaluate import evaluate
    from h2cm.evaluation.predict import predict

    if not _CACHE:
        runtime.configure(threads=1)
        base = tmp_path_factory.mktemp("tiny_world")
        cube = make_cube(base / "cube.zarr")
        run = make_run(base / "run", cube)
        sims = predict(run, base / "simulations.zarr", threads=1, progress=False)
        ev = evaluate(run, maps_cells="all", simulations=sims, threads=1, progress=False)
        _CACHE.update(base=base, cube=cube, run=run, sims=sims, evaluation=ev)
    return dict(_CACHE)
