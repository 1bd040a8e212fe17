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

from ... import atomic
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
    encoding_for,
    grid_cell_area,
    is_netcdf,
    open_cube,
    raise_on_errors,
    with_cf_attrs,
    write_dataset,
)
from ..geography import Geography, load_geography
from ..gridio import write_cells
from .observe import INVERSIONS, NOISE, grace_missing_months, inversion, monthly_means, observe, observed_keys
from .products import PRODUCT_GROUPS, WorldProducts
from .static import static_features
from .truth import TRUTH_CONSTANTS, TruthStatic, run_truth
from .weather import CellClimate, LargeScale, generate_weather, smooth_field

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


# --- geography -> grid ------------------------------------------------------------------------


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


# --- the world's plan: grid, calendar and the fields every block reads ----------------------------

TRUTH_KEYS: tuple[str, ...] = tuple(v.key for v in OUTPUTS)  # daily outputs stored in the truth group


@dataclass(frozen=True)
class _World:
    """A twin world before its first block: the grid (``lat``, ``lon``, land ``mask``), the calendar
    and everything on the grid that the blocks share. Made by :func:`_plan_world`."""

    spec: WorldSize
    seed: int
    time: pd.DatetimeIndex  # days
    months: pd.DatetimeIndex  # month starts
    lat: np.ndarray  # (rows,)
    lon: np.ndarray  # (cols,)
    mask: np.ndarray  # (rows, cols) bool
    feats: dict[str, np.ndarray]  # static features, (rows, cols) each
    continentality: np.ndarray  # (rows, cols)
    wetness: np.ndarray  # (rows, cols): a smooth random factor on rain, randomness [seed, 4]
    area: np.ndarray  # (rows, cols) m2
    static: np.ndarray  # (rows, cols, feature): the cube's ``static``, NaN off land
    truth_static: dict[str, np.ndarray]  # ``smmax``, ``alpha_ei`` (rows, cols), NaN off land
    obs_keys: tuple[str, ...]  # monthly constraints observed somewhere in this world
    large: LargeScale  # the large-scale weather all cells share, randomness [seed, 1]
    grace_missing: np.ndarray  # (months,) GRACE-like gaps, randomness [seed, 2]


def _plan_world(spec: WorldSize, seed: int) -> _World:
    """Cut the world's grid out of the real geography and lay out its static fields."""
    geo = load_geography()
    rows, cols, mask = world_grid(spec, geo)
    grid = np.ix_(rows, cols)
    time = pd.date_range(spec.start, spec.end, freq="D")
    months = pd.date_range(spec.start, spec.end, freq="MS")
    lat, lon = geo.lat[rows], geo.lon[cols]
    feats = {k: v[grid] for k, v in static_features(geo, seed).items()}
    rng_w = np.random.default_rng([seed, 4])
    wet_global = np.exp(0.3 * smooth_field(rng_w, np.repeat(geo.lat, 360), np.tile(geo.lon, 180), step=10.0) - 0.045)
    tstatic = TruthStatic.from_features(feats)
    mlat = np.repeat(lat[:, None], len(lon), axis=1)[mask]
    return _World(
        spec=spec,
        seed=seed,
        time=time,
        months=months,
        lat=lat,
        lon=lon,
        mask=mask,
        feats=feats,
        continentality=geo.continentality()[grid],
        wetness=wet_global.reshape(180, 360)[grid],
        area=grid_cell_area(geo.lat, geo.lon)[grid].astype(np.float32),
        static=np.stack([np.where(mask, feats[k], np.nan) for k in STATIC_FEATURE_KEYS], axis=-1).astype(np.float32),
        truth_static={
            "smmax": np.where(mask, tstatic.smmax.numpy(), np.nan).astype(np.float32),
            "alpha_ei": np.where(mask, tstatic.alpha_ei.numpy(), np.nan).astype(np.float32),
        },
        obs_keys=observed_keys(months, mlat, feats["elevation_std"][mask]),
        large=LargeScale.generate(len(time), seed),
        grace_missing=grace_missing_months(months, seed),
    )


# --- template and blocks ------------------------------------------------------------------------


def _lazy(shape: tuple[int, ...]) -> da.Array:
    """An all-NaN lazy array in one dask chunk: the templates are written with ``compute=False``
    (storage chunks from :func:`encoding_for`), so a small graph is all they need."""
    return da.full(shape, np.nan, dtype=np.float32, chunks=shape)


def _templates(w: _World) -> tuple[xr.Dataset, xr.Dataset]:
    """The lazy (all-NaN) cube and truth group of the world, with their CF attributes; the
    static fields are filled in already."""
    coords = {
        "time": w.time,
        "month": w.months,
        "lat": w.lat,
        "lon": w.lon,
        "feature": np.array(STATIC_FEATURE_KEYS, dtype=object),
    }
    nt, nm, ny, nx = len(w.time), len(w.months), len(w.lat), len(w.lon)
    data = {k: (("time", "lat", "lon"), _lazy((nt, ny, nx))) for k in FORCING_KEYS}
    data.update({k: (("month", "lat", "lon"), _lazy((nm, ny, nx))) for k in w.obs_keys})
    data["cue"] = (("lat", "lon"), _lazy((ny, nx)))
    data["static"] = (("lat", "lon", "feature"), w.static)
    data["cell_area"] = (("lat", "lon"), w.area)
    data["land_mask"] = (("lat", "lon"), w.mask.astype(np.int8))
    cube = with_cf_attrs(xr.Dataset(data, coords=coords))
    cube.attrs.update(
        title=f"h2cm twin world ({w.spec.name}, seed {w.seed})",
        source="h2cm synth: real geography (global-land-mask, pvlib Altitude.h5, MODIS MCD12C1), generated weather, "
        "truth from the H2CM process equations, observed with noise",
        history=f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%dT%H:%M:%SZ} h2cm synth --size {w.spec.name} --seed {w.seed}",
        h2cm_world_size=w.spec.name,
        h2cm_world_seed=w.seed,
        h2cm_world_version=WORLD_VERSION,
    )
    tcoords = {"time": w.time, "lat": w.lat, "lon": w.lon}
    tdata = {k: (("time", "lat", "lon"), _lazy((nt, ny, nx))) for k in TRUTH_KEYS}
    tdata.update({k: (("lat", "lon"), w.truth_static[k]) for k in ("smmax", "alpha_ei")})
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
    out = Path(out)
    world = _plan_world(SIZES[size], seed)
    products = WorldProducts(size, seed, world.time, world.months, world.lat, world.mask, world.feats)
    final = out if not is_netcdf(out) else out.with_suffix(".zarr")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic.temporary_path(final)
    blocks = _blocks(world.mask, block_cells)
    show = progress if progress is not None else size == "global"
    try:
        _write_world(tmp, world, products, blocks, show)
        cube = open_cube(tmp, chunks=CHECK_CHUNKS)
        raise_on_errors(check_cube(cube, source=str(out)), f"twin world {out}")
        if is_netcdf(out):
            _to_netcdf(tmp, out)
        else:
            atomic.commit(tmp, out)
    finally:
        atomic.remove_path(tmp)
    return out


def _write_world(tmp: Path, w: _World, products: WorldProducts, blocks: list[tuple[int, int]], show: bool) -> None:
    """Create the store ``tmp`` from the templates and fill it: block by block the forcing, the
    observations, the truth and the process ensemble; then the data-driven product and the
    NEE inversions, which smooth the truth's monthly NEE over the whole grid (randomness ``[seed, 6]``)."""
    cube_t, truth_t = _templates(w)
    _write_template(cube_t, tmp, None)
    _write_template(truth_t, tmp, TRUTH_GROUP)
    for group, template in products.templates(cube_t["lat"], cube_t["lon"]).items():
        _write_template(template, tmp, group)
    root = zarr.open_group(str(tmp), mode="r+", zarr_format=3)
    nee_grid = np.full((len(w.months), *w.mask.shape), np.nan)  # the truth's monthly NEE, for the inversions
    for b, (r0, r1) in enumerate(tqdm(blocks, desc=f"twin world {w.spec.name}", unit="block", disable=not show)):
        br, bc = np.nonzero(w.mask[r0:r1])
        weather, truth, obs = _generate_block(w, b, br + r0, bc)
        _write_block(root, w, r0, r1, br, bc, weather, truth, obs)
        nee_grid[:, br + r0, bc] = monthly_means(truth["nee"], w.time, w.months)
        products.add_block(root, r0, r1, br, bc, weather, truth, obs, w.truth_static)
        del weather, truth, obs
    products.finish(root)
    rng = np.random.default_rng([w.seed, 6])
    for k in (k for k in INVERSIONS if k in w.obs_keys):
        root[k][:] = inversion(nee_grid, w.mask, w.lat, w.months, INVERSIONS[k], rng, wrap=len(w.lon) == 360)


def _generate_block(w: _World, b: int, gr: np.ndarray, gc: np.ndarray) -> tuple[dict, dict, dict]:
    """Daily weather, daily truth and observations of the cells at grid rows ``gr``, columns ``gc``
    (block ``b``; randomness ``[seed, 5, b]``)."""
    cells = CellClimate(
        lat=w.lat[gr],
        lon=w.lon[gc],
        elevation=w.feats["elevation"][gr, gc].astype(np.float64),
        elevation_std=w.feats["elevation_std"][gr, gc].astype(np.float64),
        continentality=w.continentality[gr, gc],
        wetness=w.wetness[gr, gc],
        bare=(w.feats["lc_bar"] + 0.5 * w.feats["lc_osh"])[gr, gc],
    )
    rng = np.random.default_rng([w.seed, 5, b])
    weather = generate_weather(w.time, cells, w.large, rng)
    truth = run_truth(weather, TruthStatic.from_features({k: v[gr, gc] for k, v in w.feats.items()}))
    obs = observe(truth, w.time, w.months, cells.lat, cells.elevation_std, w.grace_missing, rng)
    return weather, truth, obs


def _write_block(root, w: _World, r0: int, r1: int, br, bc, weather, truth, obs) -> None:
    """Write one block (grid rows ``r0:r1``, its cells at ``br, bc`` within them): forcing,
    observations but the inversions, CUE, and the daily truth."""
    rows, band = br + r0, (r0, r1)
    for k in FORCING_KEYS:
        write_cells(root[k], weather[k], rows, bc, band)
    for k in w.obs_keys:
        if k not in INVERSIONS:
            write_cells(root[k], obs[k], rows, bc, band)
    write_cells(root["cue"], obs["cue"], rows, bc, band)
    troot = root[TRUTH_GROUP]
    for k in TRUTH_KEYS:
        write_cells(troot[k], truth[k], rows, bc, band)


def _to_netcdf(store: Path, out: Path) -> None:
    """Stream a finished zarr world into one NetCDF file (cube + groups ``truth`` and
    ``products/*``), atomically."""
    with atomic.atomic_path(out) as tmp:
        cube = open_cube(store)
        write_dataset(cube, tmp)
        truth = xr.open_zarr(store, group=TRUTH_GROUP, consolidated=False)
        write_dataset(truth, tmp, group=TRUTH_GROUP, mode="a")
        for group in PRODUCT_GROUPS:
            write_dataset(xr.open_zarr(store, group=group, consolidated=False), tmp, group=group, mode="a")


def describe_sizes() -> str:
    return "; ".join(f"{s.name}: {s.description}" for s in SIZES.values())
