"""Time and space for ``h2cm import``: calendars, time steps, grids (docs/cli/import.md).

Everything works on lazy (dask) DataArrays; only coordinates are read.

Time: calendars ``standard``/``gregorian``/``proleptic_gregorian`` as they are; ``noleap``/
``365_day`` put on real dates (the same year, month and day; the missing 29 February of a leap
year is a copy of 28 February); ``360_day`` monthly values become calendar months, daily or finer
ones are refused (30 February cannot be put on a real date). Steps must be regular (monthly:
one value per calendar month). Daily forcing comes from steps of one day or a divisor of a day
(complete days only); monthly constraints from any step up to a month.

Space: latitude and longitude are recognised by name, ``standard_name`` or units; longitudes
0..360 become -180..180, the grid is sorted north to south and west to east (the cube's
orientation: the twin world's and the published H2CM data's). A 1-degree grid must have its
centres at half degrees; a finer one, at an exact integer fraction of a degree and nesting in
1-degree cells, is coarsened to 1 degree with area weights (a NaN-aware area-weighted mean;
sums for ``cell_area``). Any other grid is refused, naming it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

TOL = 1e-6
_LAT_NAMES = ("lat", "latitude", "nav_lat", "y")
_LON_NAMES = ("lon", "longitude", "nav_lon", "x")
STANDARD_CALENDARS = ("standard", "gregorian", "proleptic_gregorian")
NOLEAP_CALENDARS = ("noleap", "365_day")


class GridError(ValueError):
    """A time axis or grid that the importer cannot put on the cube's axes."""


# --- space --------------------------------------------------------------------------------------


def _find_dim(da: xr.DataArray, names: tuple[str, ...], standard: str, units: tuple[str, ...]) -> str | None:
    for dim in da.dims:
        coord = da.coords.get(dim)
        attrs = coord.attrs if coord is not None else {}
        if attrs.get("standard_name") == standard or str(attrs.get("units", "")) in units:
            return str(dim)
    for dim in da.dims:
        if str(dim).lower() in names:
            return str(dim)
    return None


def canonical_dims(da: xr.DataArray, where: str, need_time: bool) -> xr.DataArray:
    """Rename the latitude, longitude and time dimensions to ``lat``, ``lon``, ``time``."""
    lat = _find_dim(da, _LAT_NAMES, "latitude", ("degrees_north", "degree_north", "degrees_N"))
    lon = _find_dim(da, _LON_NAMES, "longitude", ("degrees_east", "degree_east", "degrees_E"))
    time = _find_dim(da, ("time", "date", "t", "valid_time", "month"), "time", ())
    if lat is None or lon is None:
        raise GridError(f"{where}: no latitude/longitude dimensions among {tuple(da.dims)}; expected e.g. 'lat', 'lon'")
    rename = {lat: "lat", lon: "lon"}
    if time is not None and time not in (lat, lon):
        rename[time] = "time"
    da = da.rename({k: v for k, v in rename.items() if k != v})
    if need_time and "time" not in da.dims:
        raise GridError(f"{where}: no time dimension among {tuple(da.dims)}; expected a time axis")
    for dim in ("lat", "lon"):
        if dim not in da.coords:
            raise GridError(f"{where}: no {dim} coordinate values; expected 1-D coordinates in degrees")
    return da


def normalise_orientation(da: xr.DataArray) -> xr.DataArray:
    """Longitudes -180..180, sorted west to east; latitudes north to south."""
    lon = np.asarray(da["lon"].values, dtype=np.float64)
    if lon.max() > 180.0 + TOL:
        da = da.assign_coords(lon=((lon + 180.0) % 360.0) - 180.0)
    da = da.sortby("lon")
    return da.sortby("lat", ascending=False)


def _spacing(values: np.ndarray, dim: str, where: str) -> float:
    if len(values) < 2:
        return 1.0
    d = np.abs(np.diff(values))
    if np.any(np.abs(d - d[0]) > 1e-4 * d[0]):
        raise GridError(
            f"{where}: {dim} is not evenly spaced (steps {d.min():g}..{d.max():g} degrees); expected a regular "
            "grid of 1 degree or an exact fraction of it"
        )
    return float(d[0])


def _factor(step: float, first: float, dim: str, where: str) -> int:
    """Fine cells per 1-degree cell along ``dim``; GridError naming the grid otherwise."""
    k = 1.0 / step
    grid = f"{dim} step {step:g} degrees, first centre {first:g}"
    if abs(k - round(k)) > 1e-4 * k or round(k) < 1:
        raise GridError(
            f"{where}: grid ({grid}) is not 1 degree nor finer by an exact factor; expected 1-degree cells "
            "(centres at x.5) or e.g. 0.5, 0.25, 0.1 degree cells nesting in them"
        )
    k = int(round(k))
    edge = first + step / 2 if dim == "lat" else first - step / 2  # north / west edge of the first cell
    if abs(edge - round(edge)) > 1e-4:
        raise GridError(
            f"{where}: grid ({grid}) does not nest in 1-degree cells: the first cell's edge is at {edge:g}; "
            "expected cell edges on whole degrees"
        )
    return k


def _area_weights(lat: np.ndarray, step: float) -> np.ndarray:
    top = np.radians(np.clip(lat + step / 2, -90, 90))
    bottom = np.radians(np.clip(lat - step / 2, -90, 90))
    return np.abs(np.sin(top) - np.sin(bottom))


def to_one_degree(da: xr.DataArray, where: str, extensive: bool = False) -> tuple[xr.DataArray, int]:
    """The variable on a 1-degree grid and the coarsening factor (1: already 1 degree).

    Finer grids: area-weighted mean of the fine cells with data in each 1-degree cell (the sum
    for an ``extensive`` variable such as cell area); whole 1-degree cells only (partial ones at
    the edges of the grid are dropped)."""
    lat = np.asarray(da["lat"].values, dtype=np.float64)
    lon = np.asarray(da["lon"].values, dtype=np.float64)
    dlat, dlon = _spacing(lat, "lat", where), _spacing(lon, "lon", where)
    ky, kx = _factor(dlat, lat[0], "lat", where), _factor(dlon, lon[0], "lon", where)
    if ky != kx:
        raise GridError(
            f"{where}: grid of {dlat:g} x {dlon:g} degrees (lat x lon); expected square cells of 1 degree or an "
            "exact fraction of it"
        )
    if ky == 1:
        return da, 1
    ny, nx = (len(lat) // ky) * ky, (len(lon) // kx) * kx
    da = da.isel(lat=slice(0, ny), lon=slice(0, nx))
    if da.chunks:
        da = da.chunk({"lat": max(1, 60 // ky) * ky, "lon": max(1, 60 // kx) * kx})
    w = xr.DataArray(_area_weights(lat[:ny], dlat), dims="lat", coords={"lat": da["lat"]})
    if extensive:
        out = da.coarsen(lat=ky, lon=kx).sum(skipna=True)
    else:
        num = (da.fillna(0.0) * w).coarsen(lat=ky, lon=kx).sum()
        den = (da.notnull() * w).coarsen(lat=ky, lon=kx).sum()
        out = (num / den.where(den > 0)).astype(da.dtype)
    out.attrs = dict(da.attrs)
    return out, ky


def check_one_degree(lat: np.ndarray, lon: np.ndarray, where: str) -> None:
    """The centres of a 1-degree grid are at half degrees."""
    for dim, v in (("lat", lat), ("lon", lon)):
        off = np.abs((np.asarray(v) - 0.5) - np.round(np.asarray(v) - 0.5))
        if np.any(off > 1e-4):
            raise GridError(f"{where}: 1-degree {dim} centres at {v[0]:g}, ...; expected centres at x.5 degrees")


def align(da: xr.DataArray, lat: np.ndarray, lon: np.ndarray) -> xr.DataArray:
    """``da`` on the target 1-degree grid (NaN where it has no data)."""
    return da.reindex(lat=lat, lon=lon, method="nearest", tolerance=0.01)


# --- time ---------------------------------------------------------------------------------------


def real_dates(da: xr.DataArray, where: str, daily: bool) -> xr.DataArray:
    """The time axis as datetime64 (module docstring: calendars)."""
    index = da.indexes["time"]
    if isinstance(index, pd.DatetimeIndex):
        return da
    calendar = getattr(index, "calendar", "standard")
    if calendar in STANDARD_CALENDARS:
        return da.assign_coords(time=index.to_datetimeindex(time_unit="ns"))
    dates = [(t.year, t.month, t.day, t.hour, t.minute) for t in index]
    if calendar == "360_day" and not daily:
        stamps = pd.DatetimeIndex([pd.Timestamp(y, m, 1) for y, m, *_ in dates])
        return da.assign_coords(time=stamps)
    if calendar in NOLEAP_CALENDARS:
        stamps = pd.DatetimeIndex([pd.Timestamp(y, m, d, h, mi) for y, m, d, h, mi in dates])
        da = da.assign_coords(time=stamps)
        if not daily:
            return da
        return _fill_leap_days(da)
    raise GridError(
        f"{where}: calendar {calendar!r}: daily values of this calendar cannot be put on real dates without "
        "inventing days; expected a standard, noleap/365_day calendar (or 360_day for monthly values); "
        "convert the files first, e.g. with xarray's convert_calendar(..., align_on='year')"
    )


def _fill_leap_days(da: xr.DataArray) -> xr.DataArray:
    """A noleap series on real dates: 29 February (absent) is a copy of 28 February's steps."""
    t = pd.DatetimeIndex(da["time"].values)
    step = t[1] - t[0] if len(t) > 1 else pd.Timedelta(days=1)
    full = pd.date_range(t[0], t[-1], freq=step)
    if len(full) == len(t):
        return da
    pos = pd.Series(np.arange(len(t)), index=t)
    leap = (full.month == 2) & (full.day == 29)
    source = full.where(~leap, full - pd.Timedelta(days=1))
    idx = pos.reindex(source).to_numpy()
    if np.isnan(idx).any():  # a real gap in the data: leave it for the gap check
        return da
    out = da.isel(time=idx.astype(np.int64))
    return out.assign_coords(time=full)


def step_days(time: pd.DatetimeIndex, where: str) -> xr.DataArray:
    """Length of every time step in days (regular steps; calendar months for monthly data)."""
    if len(time) < 2:
        return xr.DataArray(np.ones(len(time)), dims="time", coords={"time": time})
    d = np.diff(time.values).astype("timedelta64[s]").astype(np.float64) / 86400.0
    if np.median(d) >= 27.5:
        if np.median(d) > 31.5:
            raise GridError(f"{where}: time step of about {np.median(d):.0f} days; expected at most a month")
        lengths = np.asarray(time.days_in_month, dtype=np.float64)
    else:
        if np.any(np.abs(d - d[0]) > 1e-6):
            bad = int(np.argmax(np.abs(d - d[0]) > 1e-6))
            raise GridError(
                f"{where}: irregular time steps ({d[0]:g} days, then {d[bad]:g} days after {time[bad]}); "
                "expected a regular step (missing steps are not allowed)"
            )
        lengths = np.full(len(time), d[0])
    return xr.DataArray(lengths, dims="time", coords={"time": time})


def to_daily(da: xr.DataArray, where: str) -> tuple[xr.DataArray, int]:
    """Daily means of a regular series of one day or a divisor of a day; (series, steps per day)."""
    t = pd.DatetimeIndex(da["time"].values)
    if len(t) < 2:
        return da.assign_coords(time=t.normalize()), 1
    step = (t[1] - t[0]).total_seconds()
    if step > 86400 + 1 or 86400 % step > 1:
        raise GridError(
            f"{where}: time step {step / 3600:g} h; expected daily forcing or a step that divides a day (e.g. 1 h, 3 h)"
        )
    per_day = int(round(86400 / step))
    if per_day == 1:
        return da.assign_coords(time=t.normalize()), 1
    counts = pd.Series(1, index=t).resample("1D").count()
    partial = counts[counts != per_day]
    if len(partial):
        raise GridError(
            f"{where}: {len(partial)} day(s) without all {per_day} steps of {step / 3600:g} h (first "
            f"{partial.index[0].date()}: {int(partial.iloc[0])}); expected complete days"
        )
    daily = da.resample(time="1D").mean()
    daily.attrs = dict(da.attrs)
    return daily, per_day


def to_monthly(da: xr.DataArray, where: str) -> xr.DataArray:
    """Monthly means on a ``month`` axis of month starts, from any step up to a month."""
    t = pd.DatetimeIndex(da["time"].values)
    d = np.median(np.diff(t.values).astype("timedelta64[s]").astype(np.float64)) / 86400.0 if len(t) > 1 else 30.0
    if d < 27.5:
        da = da.resample(time="MS").mean()
        t = pd.DatetimeIndex(da["time"].values)
    starts = t.to_period("M").to_timestamp()
    if starts.has_duplicates:
        raise GridError(f"{where}: two values in month {starts[starts.duplicated()][0]:%Y-%m}; expected one per month")
    return da.assign_coords(time=starts).rename(time="month")


def missing_days(time: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Days absent from a daily axis between its first and last day."""
    if len(time) == 0:
        return pd.DatetimeIndex([])
    full = pd.date_range(time.min().normalize(), time.max().normalize(), freq="D")
    return full.difference(time.normalize())
