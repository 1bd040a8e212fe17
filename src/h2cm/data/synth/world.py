"""Build a twin world: real geography, generated weather, hidden truth, observed constraints.

The world is written block by block (bands of 5 grid rows, grouped to about ``block_cells``
cells) into a temporary zarr store created from a lazy template, so memory is bounded by one
block even for the global world. The finished store is checked with :func:`check_cube`, then
renamed into place (or converted to NetCDF when ``out`` ends in ``.nc``). Two comparison products
(``products/process_ensemble``, ``products/data_driven``) are made alongside: :mod:`.products`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
import zarr
from tqdm.auto import tqdm

from ...schema import (
    CONSTANTS,
    FORCING_KEYS,
    OUTPUTS,
    STATIC_FEATURE_KEYS,
    STATIC_PARAMETERS,
)
from ..check import CHECK_CHUNKS, check_cube
from ..cube import (
    TRUTH_GROUP,
    commit_path,
    encoding_for,
    grid_cell_area,
    is_netcdf,
    open_cube,
    raise_on_errors,
    remove_path,
    temporary_path,
    with_cf_attrs,
    write_dataset,
)
from ..geography import Geography, load_geography
from .observe import INVERSIONS, NOISE, grace_missing_months, inversion, monthly_means, observe, observed_keys
from .products import PRODUCT_GROUPS, WorldProducts
from .truth import TRUTH_CONSTANTS, TruthStatic, run_truth
from .weather import CellClimate, LargeScale, annual_mean_temperature, generate_weather, smooth_field

Box = tuple[float, float, float, float]  # lat_min, lat_max, lon_min, lon_max (cell edges, degrees)


@dataclass(frozen=True)
class WorldSize:
    name: str
    start: str
    end: str
    regions: tuple[tuple[str, Box], ...] | None  # None = every land cell of the globe
    description: str


SIZES: dict[str, WorldSize] = {
    "tiny": WorldSize(
        "tiny",
        "2016-01-01",
        "2019-12-31",
        (
            ("southern Africa savanna", (-22.0, -18.0, 22.0, 30.0)),
            ("central Siberia boreal", (58.0, 62.0, 100.0, 108.0)),
        ),
        "64 cells in two regions, 2016-2019 (for tests)",
    ),
    "demo": WorldSize(
        "demo",
        "2001-01-01",
        "2019-12-31",
        (
            ("southern Africa", (-25.0, -10.0, 20.0, 35.0)),
            ("Siberian boreal forest", (55.0, 65.0, 95.0, 110.0)),
            ("western Europe", (45.0, 55.0, 0.0, 15.0)),
            ("Amazon", (-10.0, 0.0, -70.0, -55.0)),
            ("North American Great Plains", (35.0, 45.0, -105.0, -90.0)),
            ("West African Sahel", (5.0, 15.0, -5.0, 10.0)),
            ("south-eastern Australia", (-35.0, -25.0, 140.0, 150.0)),
        ),
        "about 1,300 cells in seven regions, 2001-2019",
    ),
    "global": WorldSize("global", "2001-01-01", "2019-12-31", None, "every 1-degree land cell, 2001-2019"),
}
WORLD_VERSION = 2


# --- geography -> grid and static features ------------------------------------------------------


def world_grid(size: WorldSize, geo: Geography) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Global row and column indices of the world's grid, and its land mask (rows, cols)."""
    land = (geo.land_fraction >= 0.5) & (geo.landcover[14] < 0.5) & (geo.lat[:, None] > -60.0)
    if size.regions is None:
        return np.arange(len(geo.lat)), np.arange(len(geo.lon)), land
    inside = np.zeros_like(land)
    for _, (la0, la1, lo0, lo1) in size.regions:
        r = (geo.lat > la0) & (geo.lat < la1)
        c = (geo.lon > lo0) & (geo.lon < lo1)
        inside |= r[:, None] & c[None, :]
    rows = np.nonzero(inside.any(axis=1))[0]
    cols = np.nonzero(inside.any(axis=0))[0]
    return rows, cols, (land & inside)[np.ix_(rows, cols)]


def static_features(geo: Geography, seed: int) -> dict[str, np.ndarray]:
    """The 30 static features on the global 1-degree grid (formulas in docs/data.md)."""
    lat2 = np.repeat(geo.lat[:, None], len(geo.lon), axis=1)
    lon2 = np.repeat(geo.lon[None, :], len(geo.lat), axis=0)
    rng = np.random.default_rng([seed, 3])
    g = [smooth_field(rng, lat2.ravel(), lon2.ravel(), step=5.0).reshape(lat2.shape) for _ in range(4)]
    f: dict[str, np.ndarray] = {
        "land_fraction": geo.land_fraction,
        "elevation": geo.elevation,
        "elevation_std": geo.elevation_std,
    }
    lc = {k: geo.landcover[i] for i, k in enumerate(k for k in STATIC_FEATURE_KEYS if k.startswith("lc_"))}
    f.update(lc)
    forest = lc["lc_enf"] + lc["lc_ebf"] + lc["lc_dnf"] + lc["lc_dbf"] + lc["lc_mf"]
    f["tree_cover"] = np.clip(
        forest + 0.5 * lc["lc_wsa"] + 0.2 * lc["lc_sav"] + 0.25 * lc["lc_cvm"] + 0.1 * lc["lc_csh"], 0, 1
    )
    sand = np.clip(0.35 + 0.3 * lc["lc_bar"] + 0.15 * lc["lc_osh"] - 0.15 * lc["lc_ebf"] + 0.12 * g[0], 0.05, 0.9)
    clay = np.clip((1 - sand) * (0.35 + 0.2 * lc["lc_ebf"] + 0.1 * lc["lc_cro"] + 0.08 * g[1]), 0.03, 0.7)
    f["sand"], f["clay"] = sand, clay
    f["silt"] = np.clip(1.0 - sand - clay, 0.0, 1.0)
    t_ann = annual_mean_temperature(lat2, geo.elevation, geo.continentality())
    cold = 1.0 / (1.0 + np.exp((t_ann - 2.0) / 5.0))
    soc = 4.0 + 30.0 * cold * (0.5 + 0.5 * forest) + 25.0 * lc["lc_wet"] + 8.0 * lc["lc_ebf"] + 2.0 * np.abs(g[2])
    f["soil_organic_carbon"] = soc
    f["bulk_density"] = np.clip(1650.0 - 350.0 * soc / 40.0 - 150.0 * clay, 800.0, 1800.0)
    f["coarse_fragments"] = np.clip(0.05 + geo.elevation_std / 2500.0 + 0.05 * g[3], 0.0, 0.6)
    f["soil_depth"] = np.clip(2.0 - geo.elevation_std / 600.0 - 0.8 * lc["lc_bar"], 0.3, 2.0)
    f["field_capacity"] = 0.08 + 0.45 * clay + 0.2 * f["silt"] + 0.004 * np.minimum(soc, 40.0)
    f["wilting_point"] = 0.02 + 0.35 * clay + 0.03 * f["silt"]
    f["water_holding_capacity"] = (
        (f["field_capacity"] - f["wilting_point"]) * f["soil_depth"] * (1.0 - f["coarse_fragments"]) * 1000.0
    )
    assert tuple(f) == STATIC_FEATURE_KEYS or set(f) == set(STATIC_FEATURE_KEYS)
    return {k: np.asarray(f[k], dtype=np.float32) for k in STATIC_FEATURE_KEYS}


# --- template and blocks ------------------------------------------------------------------------


def _lazy(shape: tuple[int, ...], dims: tuple[str, ...], sizes: dict[str, int]) -> da.Array:
    return da.full(
        shape, np.nan, dtype=np.float32, chunks=tuple(sizes.get(d, n) for d, n in zip(dims, shape, strict=True))
    )


def _templates(size, seed, time, months, lat, lon, mask, static, area, truth_keys, truth_static, obs_keys):
    coords = {
        "time": time,
        "month": months,
        "lat": lat,
        "lon": lon,
        "feature": np.array(STATIC_FEATURE_KEYS, dtype=object),
    }
    nt, nm, ny, nx = len(time), len(months), len(lat), len(lon)
    sizes = {"time": nt, "month": nm, "lat": 5, "lon": 5}
    data = {k: (("time", "lat", "lon"), _lazy((nt, ny, nx), ("time", "lat", "lon"), sizes)) for k in FORCING_KEYS}
    data.update({k: (("month", "lat", "lon"), _lazy((nm, ny, nx), ("month", "lat", "lon"), sizes)) for k in obs_keys})
    data["cue"] = (("lat", "lon"), _lazy((ny, nx), ("lat", "lon"), sizes))
    data["static"] = (("lat", "lon", "feature"), static)
    data["cell_area"] = (("lat", "lon"), area)
    data["land_mask"] = (("lat", "lon"), mask.astype(np.int8))
    cube = with_cf_attrs(xr.Dataset(data, coords=coords))
    cube.attrs.update(
        title=f"h2cm twin world ({size.name}, seed {seed})",
        source="h2cm synth: real geography (global-land-mask, pvlib Altitude.h5, MODIS MCD12C1), generated weather, "
        "truth from the H2CM process equations, observed with noise",
        history=f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%dT%H:%M:%SZ} h2cm synth --size {size.name} --seed {seed}",
        h2cm_world_size=size.name,
        h2cm_world_seed=seed,
        h2cm_world_version=WORLD_VERSION,
    )
    tcoords = {"time": time, "lat": lat, "lon": lon}
    tdata = {k: (("time", "lat", "lon"), _lazy((nt, ny, nx), ("time", "lat", "lon"), sizes)) for k in truth_keys}
    tdata.update({k: (("lat", "lon"), truth_static[k]) for k in ("smmax", "alpha_ei")})
    tdata.update({k: ((), np.float64(v)) for k, v in TRUTH_CONSTANTS.items()})
    truth = xr.Dataset(tdata, coords=tcoords)
    for v in (*OUTPUTS, *STATIC_PARAMETERS, *CONSTANTS):
        if v.key in truth:
            truth[v.key].attrs = v.attrs()
    truth.attrs.update(
        title="hidden truth of the twin world (never read by training)",
        observation_noise="; ".join(
            [f"{k}: additive sd {a:g}, multiplicative sd {m:g}" for k, (a, m) in NOISE.items()]
            + [
                f"{k} ({v.like}-like inversion): Gaussian smoothing {v.smoothing_km:g} km, correlated error sd "
                f"{v.error_sd:g} over {v.error_km:g} km, white error sd {v.white_sd:g}"
                for k, v in INVERSIONS.items()
            ]
        ),
    )
    cube = with_cf_attrs(cube)
    for key in ("lat", "lon"):
        truth[key].attrs = dict(cube[key].attrs)
    return cube, truth


def _write_template(ds: xr.Dataset, path: Path, group: str | None) -> None:
    ds = ds.copy()
    if "feature" in ds.coords:
        ds["feature"].attrs = {"long_name": "static feature name"}
    ds.to_zarr(
        path,
        group=group,
        mode="w" if group is None else "a",
        compute=False,
        encoding=encoding_for(ds),
        consolidated=False,
        zarr_format=3,
    )


def _blocks(mask: np.ndarray, block_cells: int, band: int = 5) -> list[tuple[int, int]]:
    """Row ranges (bands of ``band`` rows grouped until they hold about ``block_cells`` cells)."""
    counts = mask.sum(axis=1)
    blocks, start, n = [], 0, 0
    for r0 in range(0, mask.shape[0], band):
        n += int(counts[r0 : r0 + band].sum())
        r1 = min(r0 + band, mask.shape[0])
        if n >= block_cells or r1 == mask.shape[0]:
            if n > 0:
                blocks.append((start, r1))
            start, n = r1, 0
    return blocks


def _scatter(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(X, cells) -> dense (X, *shape) with NaN where there is no cell."""
    dense = np.full((values.shape[0], *shape), np.nan, dtype=np.float32)
    dense[:, rows, cols] = values
    return dense


def make_twin_world(
    size: str = "tiny",
    seed: int = 0,
    out: str | Path = "twin.zarr",
    *,
    block_cells: int = 1000,
    progress: bool | None = None,
) -> Path:
    """Generate a twin world and write it to ``out`` (zarr, or NetCDF for ``.nc``); returns the
    path. The hidden truth goes into the group ``truth`` of the same store, the comparison
    products into ``products/process_ensemble`` and ``products/data_driven``."""
    if size not in SIZES:
        raise ValueError(f"unknown world size {size!r}; expected one of {', '.join(SIZES)}")
    spec = SIZES[size]
    out = Path(out)
    geo = load_geography()
    rows, cols, mask = world_grid(spec, geo)
    time = pd.date_range(spec.start, spec.end, freq="D")
    months = pd.date_range(spec.start, spec.end, freq="MS")
    lat, lon = geo.lat[rows], geo.lon[cols]
    feats_global = static_features(geo, seed)
    feats = {k: v[np.ix_(rows, cols)] for k, v in feats_global.items()}
    cont = geo.continentality()[np.ix_(rows, cols)]
    rng_w = np.random.default_rng([seed, 4])
    wet_global = np.exp(0.3 * smooth_field(rng_w, np.repeat(geo.lat, 360), np.tile(geo.lon, 180), step=10.0) - 0.045)
    wetness = wet_global.reshape(180, 360)[np.ix_(rows, cols)]
    area = grid_cell_area(geo.lat, geo.lon)[np.ix_(rows, cols)].astype(np.float32)

    static = np.stack([np.where(mask, feats[k], np.nan) for k in STATIC_FEATURE_KEYS], axis=-1).astype(np.float32)
    tstatic = TruthStatic.from_features(feats)
    truth_static = {
        "smmax": np.where(mask, tstatic.smmax.numpy(), np.nan).astype(np.float32),
        "alpha_ei": np.where(mask, tstatic.alpha_ei.numpy(), np.nan).astype(np.float32),
    }
    truth_keys = tuple(v.key for v in OUTPUTS)
    mlat = np.repeat(lat[:, None], len(lon), axis=1)[mask]
    obs_keys = observed_keys(months, mlat, feats["elevation_std"][mask])
    cube_t, truth_t = _templates(
        spec, seed, time, months, lat, lon, mask, static, area, truth_keys, truth_static, obs_keys
    )

    products = WorldProducts(size, seed, time, months, lat, mask, feats)
    large = LargeScale.generate(len(time), seed)
    grace_missing = grace_missing_months(months, seed)
    final = out if not is_netcdf(out) else out.with_suffix(".zarr")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(final)
    blocks = _blocks(mask, block_cells)
    show = progress if progress is not None else size == "global"
    nee_grid = np.full((len(months), *mask.shape), np.nan)  # the truth's monthly NEE, for the inversions
    try:
        _write_template(cube_t, tmp, None)
        _write_template(truth_t, tmp, TRUTH_GROUP)
        for group, template in products.templates(cube_t["lat"], cube_t["lon"]).items():
            _write_template(template, tmp, group)
        root = zarr.open_group(str(tmp), mode="r+", zarr_format=3)
        troot = root[TRUTH_GROUP]
        for b, (r0, r1) in enumerate(tqdm(blocks, desc=f"twin world {size}", unit="block", disable=not show)):
            bmask = mask[r0:r1]
            br, bc = np.nonzero(bmask)
            gr, gc = br + r0, bc
            cells = CellClimate(
                lat=lat[gr],
                lon=lon[gc],
                elevation=feats["elevation"][gr, gc].astype(np.float64),
                elevation_std=feats["elevation_std"][gr, gc].astype(np.float64),
                continentality=cont[gr, gc],
                wetness=wetness[gr, gc],
                bare=(feats["lc_bar"] + 0.5 * feats["lc_osh"])[gr, gc],
            )
            rng = np.random.default_rng([seed, 5, b])
            weather = generate_weather(time, cells, large, rng)
            cell_feats = {k: v[gr, gc] for k, v in feats.items()}
            truth = run_truth(weather, TruthStatic.from_features(cell_feats))
            obs = observe(truth, time, months, cells.lat, cells.elevation_std, grace_missing, rng)
            shape = (r1 - r0, len(lon))
            for k in FORCING_KEYS:
                root[k][:, r0:r1, :] = _scatter(weather[k], br, bc, shape)
            for k in obs_keys:
                if k not in INVERSIONS:
                    root[k][:, r0:r1, :] = _scatter(obs[k], br, bc, shape)
            nee_grid[:, gr, gc] = monthly_means(truth["nee"], time, months)
            root["cue"][r0:r1, :] = _scatter(obs["cue"][None], br, bc, shape)[0]
            for k in truth_keys:
                troot[k][:, r0:r1, :] = _scatter(truth[k], br, bc, shape)
            products.add_block(root, r0, r1, br, bc, weather, truth, obs, truth_static)
            del weather, truth, obs
        products.finish(root)
        rng = np.random.default_rng([seed, 6])
        for k in (k for k in INVERSIONS if k in obs_keys):
            root[k][:] = inversion(nee_grid, mask, lat, months, INVERSIONS[k], rng, wrap=len(lon) == 360)
        cube = open_cube(tmp, chunks=CHECK_CHUNKS)
        raise_on_errors(check_cube(cube, source=str(out)), f"twin world {out}")
        if is_netcdf(out):
            _to_netcdf(tmp, out)
            remove_path(tmp)
        else:
            commit_path(tmp, out)
    except BaseException:
        remove_path(tmp)
        raise
    return out


def _to_netcdf(store: Path, out: Path) -> None:
    """Stream a finished zarr world into one NetCDF file (cube + groups ``truth`` and
    ``products/*``), atomically."""
    tmp = temporary_path(out)
    try:
        cube = open_cube(store)
        write_dataset(cube, tmp)
        truth = xr.open_zarr(store, group=TRUTH_GROUP, consolidated=False)
        write_dataset(truth, tmp, group=TRUTH_GROUP, mode="a")
        for group in PRODUCT_GROUPS:
            write_dataset(xr.open_zarr(store, group=group, consolidated=False), tmp, group=group, mode="a")
        commit_path(tmp, out)
    except BaseException:
        remove_path(tmp)
        raise


def describe_sizes() -> str:
    return "; ".join(f"{s.name}: {s.description}" for s in SIZES.values())
