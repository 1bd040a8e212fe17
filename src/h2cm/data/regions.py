"""The 11 TransCom-3 land regions (Gurney et al., 2002, Nature 415, 626-630, doi:10.1038/415626a),
looked up on the real TransCom-3 1-degree map shipped with the package.

The map (``h2cm/data/maps/transcom3_1deg.nc``, variable ``region``, int8 on cell centres lat
-89.5..89.5, lon -179.5..179.5) is the OCO-2 v10 MIP's 1-degree TransCom map (Byrne et al., 2023,
ESSD 15, 963-1004, doi:10.5194/essd-15-963-2023): file ``TRANSCOM_mask_original_1x1.nc``
(variable ``mask64``) as kept in mbertolacci/wombat-v2-workflow, rolled by one longitude column
because its stored longitudes are the cells' eastern edges. 1..11 are the land regions in the
standard order (:data:`REGIONS`); 0 is ocean or not optimised (Greenland, Antarctica, some inland
water). Provenance: ``h2cm/data/maps/README.md`` and the file's attributes.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np

REGIONS: tuple[tuple[str, str], ...] = (
    ("NABo", "North American Boreal"),
    ("NATe", "North American Temperate"),
    ("SATr", "South American Tropical"),
    ("SATe", "South American Temperate"),
    ("NAfr", "Northern Africa"),
    ("SAfr", "Southern Africa"),
    ("EABo", "Eurasian Boreal"),
    ("EATe", "Eurasian Temperate"),
    ("TrAs", "Tropical Asia"),
    ("Aust", "Australia"),
    ("Euro", "Europe"),
)
REGION_CODES: tuple[str, ...] = tuple(c for c, _ in REGIONS)
REGION_NAMES: dict[str, str] = dict(REGIONS)

MAP_RESOURCE = ("maps", "transcom3_1deg.nc")  # inside the package h2cm.data
N_LAT, N_LON = 180, 360


@cache
def region_map() -> np.ndarray:
    """The map's ``region`` array, int8 ``(180, 360)``: row ``i`` is centred on latitude
    ``-89.5 + i``, column ``j`` on longitude ``-179.5 + j`` (read once, then cached; read-only)."""
    import xarray as xr

    resource = resources.files("h2cm.data").joinpath(*MAP_RESOURCE)
    with resources.as_file(resource) as path, xr.open_dataset(path) as ds:
        region = ds["region"].transpose("lat", "lon")
        lat = region["lat"].values
        lon = region["lon"].values
        values = np.asarray(region.values, dtype=np.int8)
    if not (
        np.allclose(lat, -89.5 + np.arange(N_LAT)) and np.allclose(lon, -179.5 + np.arange(N_LON))
    ):  # a replaced data file
        raise ValueError(f"{path.name}: expected 1-degree cell centres lat -89.5..89.5, lon -179.5..179.5")
    values.setflags(write=False)
    return values


def wrap_lon(lon) -> np.ndarray:
    """Longitudes mapped to [-180, 180)."""
    return (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0


def region_index(lat, lon) -> np.ndarray:
    """TransCom land region number (1..11, see :data:`REGIONS`) of each point, 0 for none.

    A point belongs to the 1-degree cell ``[lat0, lat0 + 1) x [lon0, lon0 + 1)`` that holds it, so
    a point on a cell edge goes to the cell north / east of the edge (latitude 90 to the northernmost
    row). Longitudes in any convention (-180..180, 0..360, ...); ``lat`` and ``lon`` broadcast.
    Non-finite coordinates or latitudes outside [-90, 90] give 0.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = wrap_lon(lon)
    lat, lon = np.broadcast_arrays(lat, lon)
    ok = np.isfinite(lat) & np.isfinite(lon) & (lat >= -90.0) & (lat <= 90.0)
    i = np.clip(np.floor(np.where(ok, lat, 0.0) + 90.0), 0, N_LAT - 1).astype(np.int64)
    j = np.floor(np.where(ok, lon, 0.0) + 180.0).astype(np.int64) % N_LON
    return np.where(ok, region_map()[i, j], 0).astype(np.int64)


def region_code(number: int) -> str:
    """Short code of a region number (1..11)."""
    return REGION_CODES[number - 1]
