"""Several tower files -> one cube with one cell per site (:mod:`h2cm.data.towers` for the rules)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import STATIC_FEATURE_KEYS
from .cube import grid_cell_area, month_starts, save_cube, with_cf_attrs
from .tower_fill import CO2_CITATION
from .tower_read import TowerFileError, read_tower
from .towers import (
    FORCING,
    LE_TO_MM,
    PreparedSite,
    TowerOptions,
    _monthly,
    _on_axis,
    _static,
    prepare_site,
    resolve_site,
    site_table,
)

REFERENCES = (
    "FLUXNET2015: Pastorello et al. (2020), Scientific Data 7:225 (CC-BY-4.0); FluxDataKit: Hufkens, Stocker et al., "
    "doi:10.5281/zenodo.10885933; PLUMBER-2: Ukkola et al. (2022), ESSD; CO2: " + CO2_CITATION
)


def prepare_sites(
    paths: Sequence[str | os.PathLike],
    sites: str | os.PathLike | None = None,
    lat: float | None = None,
    lon: float | None = None,
    opts: TowerOptions | None = None,
) -> list[PreparedSite]:
    """Read and prepare every file; sites sorted north to south (the cube's cell order)."""
    opts = opts or TowerOptions()
    paths = [Path(p) for p in paths]
    if not paths:
        raise TowerFileError("no tower file given; expected one or more FLUXNET-format CSV files")
    if (lat is None) != (lon is None):
        raise TowerFileError("--lat and --lon: give both or neither")
    if lat is not None and len(paths) > 1:
        raise TowerFileError("--lat/--lon apply to one file; for several files use --sites CSV (site,lat,lon)")
    table = site_table(sites)
    records = [read_tower(p, opts.variant) for p in paths]
    infos = [resolve_site(r, table, lat, lon) for r in records]
    names = [i.site for i in infos]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise TowerFileError(f"site(s) {dup} given twice; expected one file per site")
    geo_elev = _static(infos)[:, STATIC_FEATURE_KEYS.index("elevation")]
    prepared = [
        prepare_site(r, i, opts, float(i.elevation) if i.elevation is not None else float(e))
        for r, i, e in zip(records, infos, geo_elev, strict=True)
    ]
    return sorted(prepared, key=lambda s: (-s.info.lat, s.info.lon))


def _grid(sites: Sequence[PreparedSite]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Latitudes (descending) and longitudes (ascending) of the sites and each site's (i, j)."""
    lats = np.array(sorted({s.info.lat for s in sites}, reverse=True))
    lons = np.array(sorted({s.info.lon for s in sites}))
    pos = [(int(np.where(lats == s.info.lat)[0][0]), int(np.where(lons == s.info.lon)[0][0])) for s in sites]
    if len(set(pos)) < len(pos):
        raise TowerFileError("two sites share the same coordinates; expected distinct lat/lon per site")
    return lats, lons, pos


def align_years(sites: Sequence[PreparedSite]) -> None:
    """Shift each site's record by a multiple of 4 years so that it starts within 3 years of the
    earliest record (in place; ``report["year_shift"]``). A shift by 4k years keeps every date's day
    of year and leap day (1901-2099), and the model has no calendar input, so this only shortens
    the common time axis (the cost of every training step); each site keeps its own CO2."""
    first = min(s.time[0].year for s in sites)
    for s in sites:
        k = 4 * ((s.time[0].year - first) // 4)
        s.report["year_shift"] = -k
        if k:
            s.report["period_original"] = s.report["period"]
            s.time = pd.DatetimeIndex(s.time - pd.DateOffset(years=k))
            s.report["period"] = [str(s.time[0].date()), str(s.time[-1].date())]


def sites_cube(sites: Sequence[PreparedSite]) -> xr.Dataset:
    """The cube (unvalidated) of prepared sites (module docstring of :mod:`h2cm.data.towers`)."""
    time = pd.date_range(min(s.time[0] for s in sites), max(s.time[-1] for s in sites), freq="D", name="time")
    months = month_starts(time)
    lats, lons, pos = _grid(sites)
    nt, nm, ny, nx = len(time), len(months), len(lats), len(lons)
    tll, mll = ("time", "lat", "lon"), ("month", "lat", "lon")

    def blank(n):
        return np.full((n, ny, nx), np.nan, dtype=np.float32)

    data = {k: blank(nt) for k in FORCING}
    fluxes = [k for k in ("et", "gpp", "nee", "reco") if any(k in s.report["fluxes"] for s in sites)]
    for k in fluxes:
        data[k], data[f"{k}_daily"] = blank(nm), blank(nt)
    has_fapar = any(s.fapar is not None for s in sites)
    if has_fapar:
        data["fapar"] = blank(nm)
    static = np.full((ny, nx, len(STATIC_FEATURE_KEYS)), np.nan, dtype=np.float32)
    area = np.full((ny, nx), np.nan, dtype=np.float32)
    mask = np.zeros((ny, nx), dtype=np.int8)
    feats = _static([s.info for s in sites])
    for n, (s, (i, j)) in enumerate(zip(sites, pos, strict=True)):
        for k in FORCING:
            data[k][:, i, j] = _on_axis(s, k, time)
        for k in fluxes:
            daily = pd.Series(s.fluxes[k], index=s.time).reindex(time).to_numpy()
            data[f"{k}_daily"][:, i, j] = daily
            data[k][:, i, j] = _monthly(daily, time, months)
        if s.fapar is not None:
            data["fapar"][:, i, j] = _monthly(pd.Series(s.fapar, index=s.time).reindex(time).to_numpy(), time, months)
        static[i, j], mask[i, j] = feats[n], 1
        area[i, j] = grid_cell_area(np.array([s.info.lat]), np.array([s.info.lon]))[0, 0]
    monthly = {*fluxes, "fapar"}
    variables = {k: (mll if k in monthly else tll, v) for k, v in data.items()}
    variables["static"] = (("lat", "lon", "feature"), static)
    variables["cell_area"] = (("lat", "lon"), area)
    variables["land_mask"] = (("lat", "lon"), mask)
    coords = {"time": time, "month": months, "lat": lats, "lon": lons,
              "feature": np.array(STATIC_FEATURE_KEYS, dtype=object)}  # fmt: skip
    ds = xr.Dataset(variables, coords=coords)
    _attributes(ds, sites)
    return with_cf_attrs(ds)


def _attributes(ds: xr.Dataset, sites: Sequence[PreparedSite]) -> None:
    names = [s.info.site for s in sites]
    for k in FORCING:
        ds[k].attrs["h2cm_filled_fraction"] = [float(s.report["filled_fraction"][k]) for s in sites]
        ds[k].attrs["h2cm_gapfill"] = "linear up to N days, then the site's mean seasonal cycle (h2cm.data.tower_fill)"
    ds["rn"].attrs["h2cm_rn_method"] = [str(s.report["rn_method"]) for s in sites]
    if len(sites) == 1:  # the attributes of the one-site importer (h2cm import-fluxnet)
        rad = sites[0].report["_rad"]
        ds["rn"].attrs.update(
            h2cm_gapfill_coefficients=list(rad.coef),
            h2cm_gapfill_r2=rad.r2,
            h2cm_gapfill_days_fitted=rad.n_fit,
            h2cm_gapfill_days_filled=rad.n_filled,
        )
    info = [{k: v for k, v in s.report.items() if not k.startswith("_")} for s in sites]
    ds.attrs.update(
        title=f"flux towers {', '.join(names)} (h2cm cube, one cell per site)",
        source=", ".join(s.record.path.name for s in sites),
        site_id=",".join(names),
        h2cm_sites=",".join(names),
        h2cm_sites_info=json.dumps(info, default=str),
        history=f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%dT%H:%M:%SZ} h2cm import-towers "
        + " ".join(s.record.path.name for s in sites),
        references=REFERENCES,
        h2cm_et_conversion=f"ET = LE_F_MDS * {LE_TO_MM:.6f}",
    )


def report_lines(sites: Sequence[PreparedSite]) -> list[str]:
    """One line per site (what was used and filled) and one per dropped year."""
    lines = []
    for s in sites:
        r = s.report
        filled = ", ".join(f"{k} {v:.1%}" for k, v in r["filled_fraction"].items())
        lines.append(
            f"{r['site']}: {r['file']} ({r['family']}, {r['variant']}), {r['period'][0]}..{r['period'][1]}, "
            f"fluxes {'/'.join(r['fluxes']) or 'none'}; filled: {filled}; rn: {r['rn_method']}; "
            f"vpd: {', '.join(r['vpd_sources'])}"
        )
        if r.get("year_shift"):
            lines.append(f"{r['site']}: record shifted by {r['year_shift']} years on the common axis (align)")
        for year, why in r["dropped_years"].items():
            lines.append(f"{r['site']}: year {year} dropped: {why}")
    return lines


def tower_cube(
    paths: Sequence[str | os.PathLike],
    sites: str | os.PathLike | None = None,
    lat: float | None = None,
    lon: float | None = None,
    opts: TowerOptions | None = None,
    log: Callable[[str], None] | None = None,
    align: bool = False,
) -> xr.Dataset:
    """The cube (unvalidated) of ``paths``; ``log`` receives :func:`report_lines`; ``align``:
    :func:`align_years` (the multi-site study's shorter time axis)."""
    opts = opts or TowerOptions()
    prepared = prepare_sites(paths, sites, lat, lon, opts)
    if align:
        align_years(prepared)
    for line in report_lines(prepared) if log else ():
        log(line)
    ds = sites_cube(prepared)
    ds.attrs["h2cm_min_qc"] = opts.min_qc
    ds.attrs["h2cm_max_linear_days"] = opts.max_linear_days
    ds.attrs["h2cm_max_filled"] = opts.max_filled
    return ds


def import_towers(paths, out, sites=None, lat=None, lon=None, opts=None, log=print) -> Path:
    """Convert tower files to a validated cube at ``out``."""
    return save_cube(tower_cube(paths, sites, lat, lon, opts, log), out)
