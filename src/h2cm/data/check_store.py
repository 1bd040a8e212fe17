"""More checks of a cube, and of the store it lives in (``h2cm check``, docs/cli/check.md).

:func:`extra_problems` (run by :func:`h2cm.data.check.check_cube`, so also before any cube is
written): non-finite static inputs in land cells, gaps in the daily axis. :func:`truth_problems`:
the layout of a twin world's ``truth`` group (docs/data.md, "The truth group"). :func:`check_path`:
everything ``h2cm check`` reports for a path, including a store that cannot be opened (the
variable whose grid differs is named) and a chunk that cannot be read (variable and file named).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import CONSTANT_KEYS, DAILY_PARAMETER_KEYS, OUTPUT_KEYS, STATIC_PARAMETER_KEYS, VARIABLES
from .problems import Problem


def _problem(severity: str, variable: str, message: str) -> Problem:
    return Problem(severity, variable, message)


# --- inside a cube ----------------------------------------------------------------------------


def extra_problems(ds: xr.Dataset) -> list:
    """Non-finite static inputs in land cells; missing days in the daily axis."""
    out = []
    if "time" in ds.coords and ds["time"].ndim == 1 and ds.sizes.get("time", 0) > 1:
        try:
            t = pd.DatetimeIndex(ds["time"].values)
        except (TypeError, ValueError):
            t = None
        if t is not None and t.is_monotonic_increasing and not t.has_duplicates:
            full = pd.date_range(t[0].normalize(), t[-1].normalize(), freq="D")
            gaps = full.difference(t.normalize())
            if len(gaps):
                out.append(
                    _problem(
                        "error",
                        "time",
                        f"{len(gaps)} missing day(s) in {t[0].date()}..{t[-1].date()} (first {gaps[0].date()}); "
                        "expected one value per day without gaps (the model steps day by day)",
                    )
                )
    ok_dims = "static" in ds and set(ds["static"].dims) == {"lat", "lon", "feature"} and "feature" in ds.coords
    if ok_dims and "land_mask" in ds and set(ds["land_mask"].dims) == {"lat", "lon"}:
        mask = ds["land_mask"].fillna(0) == 1
        static = ds["static"].transpose("lat", "lon", "feature")
        bad = (~np.isfinite(static) & mask).sum(("lat", "lon"))
        finite = (np.isfinite(static) & mask).sum(("lat", "lon"))
        bad, finite = np.asarray(bad.values), np.asarray(finite.values)
        for i, name in enumerate(str(f) for f in ds["feature"].values):
            if bad[i] and finite[i]:  # an all-NaN feature is reported by check_cube already
                out.append(
                    _problem(
                        "error",
                        f"static[{name}]",
                        f"{int(bad[i])} land cell(s) with NaN or infinite values; expected finite static inputs "
                        "in every cell with land_mask == 1 (fill them or drop the cells from the mask)",
                    )
                )
    return out


# --- the truth group ------------------------------------------------------------------------------


def truth_problems(truth: xr.Dataset, ds: xr.Dataset) -> list:
    """The truth group against its documented layout (docs/data.md) and the cube's axes."""
    out, where = [], "truth"
    known = set(OUTPUT_KEYS) | set(DAILY_PARAMETER_KEYS) | set(STATIC_PARAMETER_KEYS) | set(CONSTANT_KEYS)
    usable = [str(k) for k in truth.data_vars if str(k) in known]
    if not usable:
        out.append(
            _problem(
                "error",
                where,
                f"none of its variables {sorted(map(str, truth.data_vars))} is a model output, parameter or "
                "constant; expected e.g. gpp (time, lat, lon), smmax (lat, lon), q10 ()",
            )
        )
    for dim in ("lat", "lon"):
        if dim in ds.coords and (dim not in truth.coords or truth.sizes.get(dim) != ds.sizes.get(dim)):
            out.append(
                _problem(
                    "error",
                    f"{where}/{dim}",
                    f"{truth.sizes.get(dim)} points; expected the cube's "
                    f"{ds.sizes.get(dim)} (the truth is indexed by the cube's grid positions)",
                )
            )
        elif dim in ds.coords and not np.allclose(truth[dim].values, ds[dim].values, atol=1e-6):
            out.append(_problem("error", f"{where}/{dim}", "values differ from the cube's; expected the same grid"))
    has_daily = any(set(truth[k].dims) != {"lat", "lon"} and truth[k].ndim for k in usable if k in OUTPUT_KEYS)
    if has_daily and "time" in ds.coords:
        if "time" not in truth.coords:
            out.append(_problem("error", f"{where}/time", "missing; expected the cube's daily time axis"))
        else:
            missing = pd.DatetimeIndex(ds["time"].values).difference(pd.DatetimeIndex(truth["time"].values))
            if len(missing):
                out.append(
                    _problem(
                        "error",
                        f"{where}/time",
                        f"{len(missing)} of the cube's days absent (first "
                        f"{missing[0].date()}); expected every day of the cube",
                    )
                )
    for key in usable:
        expected = (
            ("time", "lat", "lon") if key in OUTPUT_KEYS else ("lat", "lon") if key in STATIC_PARAMETER_KEYS else ()
        )
        if tuple(truth[key].dims) != expected and set(truth[key].dims) != set(expected):
            kind = "daily output or parameter" if expected else "global constant"
            kind = "static parameter" if key in STATIC_PARAMETER_KEYS else kind
            out.append(
                _problem("error", f"{where}/{key}", f"dims {tuple(truth[key].dims)}; expected {expected} (a {kind})")
            )
            continue
        units = truth[key].attrs.get("units")
        want = VARIABLES["output"][key].units
        if units is not None and " ".join(str(units).split()) != want:
            out.append(_problem("error", f"{where}/{key}", f"units {units!r}; expected {want!r}"))
    return out


# --- the store -----------------------------------------------------------------------------------
