"""Validate a cube: every problem with the variable, what was found and what was expected.

``check_cube(ds)`` returns a list of :class:`Problem`; ``h2cm check CUBE`` prints them and exits
non-zero when any is an error. Data statistics are computed lazily in one dask pass, so a
global cube is checked without loading it into memory.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from ..constraints import MONTHLY_CONSTRAINT_KEYS, STATIC_CONSTRAINT_KEYS
from ..schema import (
    CUBE_VERSION,
    FORCING_KEYS,
    VARIABLES,
)
from .check_store import extra_problems
from .problems import Problem, raise_on_errors

# Accepted spellings of each schema unit (CF/UDUNITS-equivalent forms people actually write).
UNIT_ALIASES: dict[str, set[str]] = {
    "W m-2": {"W m-2", "W/m2", "W m**-2", "W/m^2", "W.m-2", "W m^-2"},
    "mm d-1": {"mm d-1", "mm/d", "mm/day", "mm day-1", "kg m-2 d-1", "mm d**-1"},
    "K": {"K", "kelvin", "Kelvin", "degK"},
    "hPa": {"hPa", "mbar", "hectopascal"},
    "ppm": {"ppm", "ppmv", "1e-6", "umol mol-1", "µmol mol-1"},
    "mm": {"mm", "kg m-2", "millimeter", "millimetre"},
    "1": {"1", "-", "", "fraction", "unitless", "dimensionless"},
    "g m-2 d-1": {"g m-2 d-1", "gC m-2 d-1", "g C m-2 d-1", "gC/m2/d", "gC m-2 day-1", "g m-2 day-1"},
    "m2": {"m2", "m^2", "m**2"},
    "m": {"m", "meter", "metre"},
    "kg m-2": {"kg m-2", "kg/m2"},
    "kg m-3": {"kg m-3", "kg/m3"},
}
CELSIUS_MAX = 80.0  # a temperature field whose maximum is below this is in degC, not K
# dask chunks for checking a cube from disk: 6 x 12 on-disk chunks per task (fewer, larger tasks)
CHECK_CHUNKS: dict[str, int] = {"lat": 30, "lon": 60}


def units_match(found: str, expected: str) -> bool:
    found = " ".join(str(found).split())
    return found == expected or found in UNIT_ALIASES.get(expected, set())


class _Checker:
    def __init__(self, ds: xr.Dataset, source: str):
        self.ds = ds
        self.source = source
        self.problems: list[Problem] = []

    def error(self, variable: str, message: str) -> None:
        self.problems.append(Problem("error", variable, message))

    def warn(self, variable: str, message: str) -> None:
        self.problems.append(Problem("warning", variable, message))

    # --- structure ------------------------------------------------------------------------------

    def coords(self) -> bool:
        ds, ok = self.ds, True
        for dim, units in (("lat", "degrees_north"), ("lon", "degrees_east")):
            if dim not in ds.coords:
                self.error(dim, f"missing coordinate; expected a 1-D '{dim}' coordinate in {units}")
                ok = False
                continue
            values = np.asarray(ds[dim].values, dtype=np.float64)
            found = ds[dim].attrs.get("units")
            if found != units:
                self.error(dim, f"units {found!r}; expected {units!r}")
            d = np.diff(values)
            if len(values) > 1 and not (np.all(d > 0) or np.all(d < 0)):
                self.error(dim, "coordinate is not strictly monotonic; expected sorted unique values")
            limit = 90.0 if dim == "lat" else 360.0
            if np.any(np.abs(values) > limit):
                self.error(dim, f"values {values.min():g}..{values.max():g}; expected within +-{limit:g} degrees")
        for dim in ("time", "month"):
            if dim not in ds.coords:
                if dim == "time":
                    self.error("time", "missing coordinate; expected a daily datetime64 'time' coordinate")
                    ok = False
                continue
            idx = pd.DatetimeIndex(ds[dim].values)
            dup = idx[idx.duplicated()]
            if len(dup):
                self.error(dim, f"{len(dup)} duplicated time value(s), first {dup[0].date()}; expected unique values")
            if not idx.is_monotonic_increasing:
                pos = int(np.argmax(np.diff(idx.values).astype(np.int64) < 0))
                self.error(
                    dim,
                    f"time is not sorted: {idx[pos].date()} is followed by {idx[pos + 1].date()}; expected increasing",
                )
            if dim == "month" and len(idx) and not (idx.day == 1).all():
                self.error("month", "values are not first days of months; expected e.g. 2001-01-01, 2001-02-01")
        if ds.attrs.get("h2cm_cube_version") != CUBE_VERSION:
            self.warn(
                "(global)",
                f"attribute h2cm_cube_version={ds.attrs.get('h2cm_cube_version')!r}; expected {CUBE_VERSION}",
            )
        return ok

    def presence_and_dims(self) -> None:
        ds = self.ds
        expected_dims = {k: ("time", "lat", "lon") for k in FORCING_KEYS}
        expected_dims.update({k: ("lat", "lon") for k in ("cell_area", "land_mask", *STATIC_CONSTRAINT_KEYS)})
        expected_dims["static"] = ("lat", "lon", "feature")
        for key in MONTHLY_CONSTRAINT_KEYS:
            if key in ds:
                expected_dims[key] = ("month", "lat", "lon")
        required = (*FORCING_KEYS, "static", "cell_area", "land_mask")
        for key in required:
            if key not in ds:
                role = "forcing" if key in FORCING_KEYS else "static input" if key == "static" else "ancillary"
                self.error(
                    key, f"missing variable; expected the {role} variable {key!r} with dims {expected_dims[key]}"
                )
        for key, dims in expected_dims.items():
            if key not in ds:
                continue
            found = tuple(ds[key].dims)
            if set(found) != set(dims):
                if key in MONTHLY_CONSTRAINT_KEYS or key in STATIC_CONSTRAINT_KEYS:
                    spatial = {d: ds.sizes[d] for d in found if d not in ("month", "time")}
                    self.error(
                        key,
                        f"grid {spatial} does not match the forcing grid "
                        f"(lat: {ds.sizes.get('lat')}, lon: {ds.sizes.get('lon')}); expected dims {dims}",
                    )
                else:
                    self.error(key, f"dims {found}; expected {dims}")
        if not any(k in ds for k in (*MONTHLY_CONSTRAINT_KEYS, *STATIC_CONSTRAINT_KEYS)):
            self.warn("(constraints)", "no constraint variable; the cube can drive a simulation but not training")
        if "static" in ds and "feature" not in ds.coords:
            self.error("static", "no 'feature' coordinate; expected the static feature names")

    def units(self) -> None:
        for role in ("forcing", "constraint", "ancillary", "evaluation"):
            for key, var in VARIABLES[role].items():
                if key not in self.ds or key == "static":
                    continue
                found = self.ds[key].attrs.get("units")
                if found is None:
                    self.error(key, f"missing units attribute; expected {var.units!r}")
                elif not units_match(found, var.units):
                    self.error(key, f"units {found!r}; expected {var.units!r}")

    # --- data ---------------------------------------------------------------------------------

    def _dims_ok(self, key: str, dims: tuple[str, ...]) -> bool:
        return key in self.ds and set(self.ds[key].dims) == set(dims)

    def data(self) -> None:
        ds = self.ds
        if not self._dims_ok("land_mask", ("lat", "lon")):
            return
        mask = ds["land_mask"].fillna(0) == 1
        stats: dict[str, xr.DataArray] = {
            "mask_n": mask.sum(),
            "mask_bad": (~ds["land_mask"].isin([0, 1])).sum(),
        }
        forcing = [k for k in FORCING_KEYS if self._dims_ok(k, ("time", "lat", "lon"))]
        for k in forcing:
            inside = ds[k].where(mask)
            stats[f"{k}_min"] = inside.min()
            stats[f"{k}_max"] = inside.max()
            stats[f"{k}_mean"] = inside.mean()
            stats[f"{k}_nan"] = (ds[k].isnull() & mask).sum()
            stats[f"{k}_nancells"] = (ds[k].isnull() & mask).any("time").sum()
        monthly = [k for k in MONTHLY_CONSTRAINT_KEYS if self._dims_ok(k, ("month", "lat", "lon"))]
        forcing_any = ds[forcing[0]].notnull().any("time") if forcing else None
        for k in [*monthly, *[k for k in STATIC_CONSTRAINT_KEYS if self._dims_ok(k, ("lat", "lon"))]]:
            inside = ds[k].where(mask)
            stats[f"{k}_min"] = inside.min()
            stats[f"{k}_max"] = inside.max()
            stats[f"{k}_n"] = inside.notnull().sum()
            if forcing_any is not None:
                points = ds[k].notnull().any("month") if "month" in ds[k].dims else ds[k].notnull()
                stats[f"{k}_points"] = points.sum()
                stats[f"{k}_offgrid"] = (points & ~forcing_any).sum()
        if self._dims_ok("static", ("lat", "lon", "feature")) and "feature" in ds.coords:
            inside = ds["static"].where(mask)
            stats["static_min"] = inside.min(("lat", "lon"))
            stats["static_max"] = inside.max(("lat", "lon"))
            stats["static_n"] = inside.notnull().sum(("lat", "lon"))
        if self._dims_ok("cell_area", ("lat", "lon")):
            stats["cell_area_bad"] = ((ds["cell_area"] <= 0) | ds["cell_area"].isnull()).where(mask, False).sum()
        with warnings.catch_warnings():  # all-NaN chunks (ocean) are expected
            warnings.simplefilter("ignore", RuntimeWarning)
            s = {k: np.asarray(v) for k, v in xr.Dataset(stats).compute().data_vars.items()}

        n_mask = int(s["mask_n"])
        if int(s["mask_bad"]):
            self.error("land_mask", f"{int(s['mask_bad'])} values other than 0/1; expected 0 (skip) or 1 (cell)")
        if n_mask == 0:
            self.error("land_mask", "empty mask: no grid point has land_mask == 1; expected at least one cell")
            return
        self._forcing_values(forcing, s)
        self._constraint_values(monthly, s)
        self._static_values(s, n_mask)
        if "cell_area_bad" in s and int(s["cell_area_bad"]):
            self.error("cell_area", f"{int(s['cell_area_bad'])} cells with area <= 0 or NaN; expected > 0 m2")
        self._periods(monthly)

    def _forcing_values(self, forcing: list[str], s: dict[str, np.ndarray]) -> None:
        for k in forcing:
            var = VARIABLES["forcing"][k]
            lo, hi, n_nan = float(s[f"{k}_min"]), float(s[f"{k}_max"]), int(s[f"{k}_nan"])
            if n_nan:
                self.error(
                    k,
                    f"{n_nan} NaN values in {int(s[f'{k}_nancells'])} cell(s) inside the land mask; "
                    "expected complete forcing for every cell (gap-fill it or drop the cell from the mask)",
                )
            if np.isnan(lo):  # no value at all: the NaN error above says it
                continue
            if not (np.isfinite(lo) and np.isfinite(hi)):
                self.error(k, f"infinite values ({lo:g}..{hi:g}) inside the land mask; expected finite forcing")
                continue
            if k == "tair" and (hi < CELSIUS_MAX or float(s["tair_mean"]) < 150.0):
                self.error(
                    k,
                    f"values {lo:.1f}..{hi:.1f} (mean {float(s['tair_mean']):.1f}) look like degC "
                    f"whatever the units attribute says; expected K (add 273.15)",
                )
                continue
            if k == "prec" and lo < 0:
                self.error(k, f"negative precipitation (min {lo:g} {var.units}); expected >= 0")
                continue
            if (var.valid_min is not None and lo < var.valid_min) or (var.valid_max is not None and hi > var.valid_max):
                self.error(
                    k, f"values {lo:g}..{hi:g} {var.units}; expected within {var.valid_min:g}..{var.valid_max:g}"
                )

    def _constraint_values(self, monthly: list[str], s: dict[str, np.ndarray]) -> None:
        for k in [*monthly, *STATIC_CONSTRAINT_KEYS]:
            if f"{k}_n" not in s:
                continue
            var = VARIABLES["constraint"][k]
            off, points = int(s.get(f"{k}_offgrid", 0)), int(s.get(f"{k}_points", 0))
            if points and off > points / 2:
                self.error(
                    k,
                    f"{off} of its {points} grid points with data have no forcing: the constraint grid does not "
                    "match the forcing grid; expected constraint data where the forcing is",
                )
                continue
            if int(s[f"{k}_n"]) == 0:
                self.error(k, "all values are NaN inside the land mask; expected some data (or drop the variable)")
                continue
            lo, hi = float(s[f"{k}_min"]), float(s[f"{k}_max"])
            if not (np.isfinite(lo) and np.isfinite(hi)):
                self.error(k, f"infinite values ({lo:g}..{hi:g}) inside the land mask; expected finite values or NaN")
                continue
            if (var.valid_min is not None and lo < var.valid_min) or (var.valid_max is not None and hi > var.valid_max):
                self.error(
                    k, f"values {lo:g}..{hi:g} {var.units}; expected within {var.valid_min:g}..{var.valid_max:g}"
                )

    def _static_values(self, s: dict[str, np.ndarray], n_cells: int) -> None:
        if "static_n" not in s:
            return
        features = [str(f) for f in self.ds["feature"].values]
        if len(set(features)) != len(features):
            self.error("static", f"duplicated feature names {sorted({f for f in features if features.count(f) > 1})}")
        for i, name in enumerate(features):
            label = f"static[{name}]"
            if int(s["static_n"][i]) == 0:
                self.error(label, "all NaN inside the land mask; expected values (drop the feature)")
                continue
            lo, hi = float(s["static_min"][i]), float(s["static_max"][i])
            if lo == hi and n_cells > 1:
                self.warn(label, f"constant ({lo:g}) over all cells; expected variation (it carries no information)")
            var = VARIABLES["static"].get(name)
            if var and var.valid_min is not None and (lo < var.valid_min or hi > var.valid_max):
                self.error(
                    label, f"values {lo:g}..{hi:g} {var.units}; expected within {var.valid_min:g}..{var.valid_max:g}"
                )

    def _periods(self, monthly: list[str]) -> None:
        ds = self.ds
        if not monthly or "month" not in ds.coords or "time" not in ds.coords or ds.sizes.get("time", 0) == 0:
            return
        time = pd.DatetimeIndex(ds["time"].values)
        months = pd.DatetimeIndex(ds["month"].values)
        first = time.min().to_period("M").to_timestamp()
        last = time.max()
        outside = months[(months < first) | (months > last)]
        if len(outside):
            self.error(
                "month",
                f"{len(outside)} constraint month(s) outside the forcing period "
                f"({outside.min():%Y-%m}..{outside.max():%Y-%m}); expected months within "
                f"{first:%Y-%m}..{last:%Y-%m}",
            )

    def run(self) -> list[Problem]:
        coords_ok = self.coords()
        self.presence_and_dims()
        self.units()
        if coords_ok:
            self.data()
        return self.problems


def check_cube(ds: xr.Dataset, source: str = "cube") -> list[Problem]:
    """Every problem of a cube (errors and warnings); an empty list means it is valid."""
    problems = _Checker(ds, source).run()
    return problems + extra_problems(ds) if not any(p.variable in ("lat", "lon") for p in problems) else problems


def require_structure(ds: xr.Dataset, source: str = "cube") -> None:
    """CubeError naming every structural problem (variables, dims, coordinates, units; no data
    read): what the loaders need before they read cells."""
    checker = _Checker(ds, source)
    checker.coords()
    checker.presence_and_dims()
    checker.units()
    raise_on_errors([p for p in checker.problems if p.severity == "error"], f"cube {source}")
