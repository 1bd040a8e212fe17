"""Read one flux-tower file of any supported family into a canonical daily table.

Families (recognised from the columns, not the file name):

* ``fluxnet-dd``: FLUXNET2015 FULLSET/SUBSET daily files and ONEFlux-processed ICOS/AmeriFlux
  FLUXNET-format daily files (``TIMESTAMP`` = YYYYMMDD); ``*_QC`` of a daily flux is the fraction
  of measured or good-quality gap-filled half-hours (0-1).
* ``fluxnet-hh``: the half-hourly (``_HH_``) or hourly (``_HR_``) files of the same products
  (``TIMESTAMP_START``); aggregated to days here (means; precipitation summed; carbon fluxes
  converted from umol CO2 m-2 s-1 to gC m-2 d-1; a flux's daily QC = the fraction of its records
  with QC 0 (measured) or 1 (good gap-fill); a day needs 80 % of its records).
* ``fluxdatakit``: FluxDataKit daily files (ONEFlux/PLUMBER-2 processing), recognised by
  ``TMIN_F_MDS``/``TMAX_F_MDS`` or ``*_F_MDS`` meteorology or a daytime-only VPD; its
  ``TA_F`` is (TMIN + TMAX) / 2, its VPD may be a daytime mean only, its fluxes were already
  filtered to QC >= 0.8 and its LE carries ``LE_F_MDS_QC``.

The canonical table (:data:`CANONICAL`) has a daily ``DatetimeIndex`` without gaps (missing days
are NaN rows) and these columns, NaN where the file has nothing: ``TA TA_DAY TMIN TMAX`` (degC),
``SW LW NETRAD`` (W m-2), ``VPD VPD_DAY`` (hPa), ``RH`` (%), ``P`` (mm d-1), ``CO2`` (ppm),
``LE`` (W m-2), ``LE_QC``, ``NEE GPP RECO`` (gC m-2 d-1), ``NEE_QC``, ``FPAR``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

MISSING = -9999.0
UMOL_TO_GC_DAY = 12.011e-6 * 86400.0  # umol CO2 m-2 s-1 -> gC m-2 d-1
MIN_DAY_COVERAGE = 0.8  # fraction of a day's half-hours a daily forcing value needs (HH/HR files)

CANONICAL: tuple[str, ...] = (
    "TA", "TA_DAY", "TMIN", "TMAX", "SW", "LW", "NETRAD", "VPD", "VPD_DAY", "RH", "P", "CO2",
    "LE", "LE_QC", "NEE", "NEE_QC", "GPP", "RECO", "FPAR",
)  # fmt: skip
# canonical name -> accepted column names, first found wins (FLUXNET2015 first, then FluxDataKit)
ALIASES: dict[str, tuple[str, ...]] = {
    "TA": ("TA_F", "TA_F_MDS"),
    "TA_DAY": ("TA_F_DAY", "TA_DAY_F_MDS", "TA_F_MDS_DAY"),
    "TMIN": ("TMIN_F_MDS", "TMIN_F", "TA_F_MIN"),
    "TMAX": ("TMAX_F_MDS", "TMAX_F", "TA_F_MAX"),
    "SW": ("SW_IN_F", "SW_IN_F_MDS"),
    "LW": ("LW_IN_F", "LW_IN_F_MDS"),
    "NETRAD": ("NETRAD", "NETRAD_F"),
    "VPD": ("VPD_F", "VPD_F_MDS"),
    "VPD_DAY": ("VPD_F_DAY", "VPD_DAY_F_MDS", "VPD_F_MDS_DAY"),
    "RH": ("RH", "RH_F"),
    "P": ("P_F",),
    "CO2": ("CO2_F_MDS", "CO2_F"),
    "LE": ("LE_F_MDS",),
    "LE_QC": ("LE_F_MDS_QC",),
    "FPAR": ("FPAR", "FAPAR"),
}
VARIANTS = ("VUT", "CUT")


class TowerFileError(ValueError):
    """A tower file that cannot be used: the message names the file, the column and what was expected."""


@dataclass
class TowerRecord:
    """One file read: the canonical daily table and what was found."""

    path: Path
    site: str | None
    family: str
    variant: str
    daily: pd.DataFrame
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> source column used


def site_id(path: str | os.PathLike) -> str | None:
    """The FLUXNET site id (``CC-Sss``) in a file name: FLX_, AMF_, ICOSETC_ and FluxDataKit names."""
    m = re.search(r"(?:^|_)([A-Z]{2}-[A-Za-z0-9]{3})(?=_|\.|$)", Path(path).name)
    return m.group(1) if m else None


def _parse_time(path: Path, raw: pd.Series, column: str, fmt: str) -> pd.DatetimeIndex:
    text = raw.astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    try:
        if text.str.fullmatch(r"\d{4}-\d{2}-\d{2}.*").all():
            return pd.DatetimeIndex(pd.to_datetime(text.str[:10], format="%Y-%m-%d"))
        return pd.DatetimeIndex(pd.to_datetime(text, format=fmt))
    except (ValueError, TypeError):
        example = text.iloc[0] if len(text) else "nothing"
        raise TowerFileError(
            f"{path}: column {column}: cannot read {example!r} as a time stamp; expected {fmt.replace('%', '')}"
        ) from None


def _numeric(path: Path, df: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for c in df.columns:
        v = pd.to_numeric(df[c], errors="coerce")
        bad = v.isna() & df[c].notna() & (df[c].astype(str).str.strip() != "")
        if bad.any():
            raise TowerFileError(
                f"{path}: column {c}: value {df[c][bad].iloc[0]!r} is not a number; expected numbers, -9999 = missing"
            )
        out[c] = v.where(v != MISSING)
    return pd.DataFrame(out, index=df.index, dtype=np.float64)


def _pick(df: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that exists and holds data (else the first that exists)."""
    present = [n for n in names if n in df.columns]
    for n in present:
        if df[n].notna().any():
            return n
    return present[0] if present else None


def _variant(df: pd.DataFrame, wanted: str | None) -> str:
    """VUT or CUT: the one asked for, else the first whose NEE has data."""
    if wanted is not None:
        if wanted not in VARIANTS:
            raise ValueError(f"flux variant {wanted!r}: expected one of {VARIANTS}")
        return wanted
    for v in VARIANTS:
        if f"NEE_{v}_REF" in df and df[f"NEE_{v}_REF"].notna().any():
            return v
    return "VUT"


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        df = pd.read_csv(path, na_values=[str(int(MISSING)), str(MISSING), "NA"], low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise TowerFileError(f"{path}: not a readable CSV table ({str(err).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _aggregate_subdaily(path: Path, df: pd.DataFrame, start: pd.DatetimeIndex) -> pd.DataFrame:
    """Half-hourly or hourly records -> daily values (module docstring)."""
    df.index = start
    per_day = int(round(pd.Timedelta("1D") / pd.Series(start).diff().median()))
    day = start.normalize()
    g = df.groupby(day)
    means = g.mean()
    coverage = g.count() / per_day
    out = means.where(coverage >= MIN_DAY_COVERAGE)
    if "P_F" in df:
        out["P_F"] = g["P_F"].sum(min_count=1).where(coverage["P_F"] >= MIN_DAY_COVERAGE)
    ta = _pick(df, ALIASES["TA"])
    if ta is not None:
        out["TMIN_F"], out["TMAX_F"] = g[ta].min(), g[ta].max()
    for c in df.columns:
        if c.endswith("_QC") and c[:-3] in df.columns and not c.startswith(("TA", "SW", "LW", "VPD", "P_", "CO2")):
            out[c] = g[c].apply(lambda q: float((q <= 1).mean()) if q.notna().any() else np.nan)
        if re.match(r"(NEE|GPP|RECO)_", c) and not c.endswith("_QC"):
            out[c] = means[c] * UMOL_TO_GC_DAY  # flux means need no 80 % rule: their QC says how measured
    return out


def read_tower(path: str | os.PathLike, variant: str | None = None) -> TowerRecord:
    """Read ``path`` (any family of the module docstring) into a :class:`TowerRecord`."""
    path = Path(path)
    raw = _read_table(path)
    if "TIMESTAMP" in raw.columns:
        family = "fluxnet-dd"
        time = _parse_time(path, raw.pop("TIMESTAMP"), "TIMESTAMP", "%Y%m%d")
        df = _numeric(path, raw)
        df.index = time
    elif "TIMESTAMP_START" in raw.columns:
        family = "fluxnet-hh"
        start = _parse_time(path, raw.pop("TIMESTAMP_START"), "TIMESTAMP_START", "%Y%m%d%H%M")
        raw.pop("TIMESTAMP_END") if "TIMESTAMP_END" in raw.columns else None
        df = _aggregate_subdaily(path, _numeric(path, raw), start)
    else:
        raise TowerFileError(
            f"{path}: no TIMESTAMP or TIMESTAMP_START column; expected a FLUXNET-format daily (TIMESTAMP, "
            "YYYYMMDD) or half-hourly/hourly (TIMESTAMP_START, YYYYMMDDHHMM) file"
        )
    if df.index.has_duplicates or not df.index.is_monotonic_increasing:
        raise TowerFileError(f"{path}: column TIMESTAMP: not sorted and unique; expected one row per day")
    if len(df) == 0:
        raise TowerFileError(f"{path}: no rows; expected at least one year of days")
    fdk = "TA_F_MDS" in df.columns or any(
        c in df.columns and df[c].notna().any() for c in ("TMIN_F_MDS", "VPD_F_DAY", "VPD_DAY_F_MDS")
    )
    if family == "fluxnet-dd" and fdk:
        family = "fluxdatakit"
    var = _variant(df, variant)
    cols: dict[str, str] = {}
    out = pd.DataFrame(index=pd.date_range(df.index[0], df.index[-1], freq="D", name="time"))
    for key in CANONICAL:
        names = ALIASES.get(key)
        if names is None:
            names = {
                "NEE": (f"NEE_{var}_REF",),
                "NEE_QC": (f"NEE_{var}_REF_QC",),
                "GPP": (f"GPP_NT_{var}_REF", f"GPP_DT_{var}_REF"),
                "RECO": (f"RECO_NT_{var}_REF", f"RECO_DT_{var}_REF", "RECO_GPP_PLUS_NEE"),
            }[key]
        col = _pick(df, names)
        if col is not None:
            cols[key] = col
            out[key] = df[col].reindex(out.index)
        else:
            out[key] = np.nan
    return TowerRecord(path, site_id(path), family, var, out.astype(np.float64), cols)
