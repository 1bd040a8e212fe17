"""The 11 TransCom-3 land regions (Gurney et al., 2002, Nature 415, Fig. 1), approximated by
latitude/longitude boxes.

The published regions follow vegetation and continental outlines; here each is a union of boxes
drawn from that map, evaluated in order (the first region whose box holds a cell wins). Cells in
no box (open ocean, Antarctica) get region 0. Deliberate simplifications, documented in
docs/evaluation.md:

- North America: west of 52 W and north of 10 N (7 N west of 77 W: Central America belongs to the
  temperate region);
  boreal north of 50 N; Greenland goes to North American Boreal.
- South America: 90-30 W, south of 10 N; tropical north of 23.5 S.
- Africa: Northern Africa north of the equator (the Arabian Peninsula, south of 30 N and
  35-60 E, is counted with it as in the TransCom map), Southern Africa south of it with Madagascar.
- Europe: 25 W - 45 E, north of 35 N (Turkey and the Caucasus included).
- Eurasia Boreal: east of 45 E (and the Chukotka tip west of 180), north of 50 N.
- Tropical Asia: 60-155 E, south of 30 N (west of 100 E) or 23 N (east of 100 E), north of 11 S.
- Australia: 110-180 E, south of 11 S (New Zealand included).
- Eurasia Temperate: the rest of Asia east of 35 E, 11-50 N.
"""

from __future__ import annotations

import numpy as np

REGIONS: tuple[tuple[str, str], ...] = (
    ("NABo", "North American Boreal"),
    ("NATe", "North American Temperate"),
    ("SATr", "South American Tropical"),
    ("SATe", "South American Temperate"),
    ("NAfr", "Northern Africa"),
    ("SAfr", "Southern Africa"),
    ("EABo", "Eurasia Boreal"),
    ("EATe", "Eurasia Temperate"),
    ("TrAs", "Tropical Asia"),
    ("Aust", "Australia"),
    ("Euro", "Europe"),
)
REGION_CODES: tuple[str, ...] = tuple(c for c, _ in REGIONS)
REGION_NAMES: dict[str, str] = dict(REGIONS)

# (region number 1..11, lat_min, lat_max, lon_min, lon_max); lon in -180..180; first match wins.
BOXES: tuple[tuple[int, float, float, float, float], ...] = (
    (1, 50.0, 84.0, -170.0, -52.0),  # North American Boreal (Alaska, Canada)
    (1, 59.0, 84.0, -75.0, -10.0),  # Greenland
    (2, 10.0, 50.0, -170.0, -52.0),  # North American Temperate (USA, Mexico, Central America)
    (2, 7.0, 10.0, -92.0, -77.0),  # southern Central America (Costa Rica, Panama)
    (3, -23.5, 10.0, -92.0, -30.0),  # South American Tropical
    (4, -56.0, -23.5, -80.0, -30.0),  # South American Temperate
    (11, 35.0, 72.0, -25.0, 45.0),  # Europe (incl. Iceland, Turkey)
    (11, 72.0, 82.0, -25.0, 45.0),  # Svalbard, northern Scandinavia
    (5, 0.0, 35.0, -20.0, 35.0),  # Northern Africa
    (5, 12.0, 30.0, 35.0, 60.0),  # Arabian Peninsula (with Northern Africa)
    (5, 0.0, 12.0, 35.0, 52.0),  # Horn of Africa
    (6, -36.0, 0.0, -20.0, 52.0),  # Southern Africa (incl. Madagascar)
    (7, 50.0, 82.0, 45.0, 180.0),  # Eurasia Boreal
    (7, 50.0, 82.0, -180.0, -170.0),  # Chukotka west of the date line
    (9, -11.0, 30.0, 60.0, 100.0),  # Tropical Asia: Indian subcontinent, Indochina
    (9, -11.0, 23.0, 100.0, 155.0),  # Tropical Asia: southern China coast, islands, New Guinea
    (10, -48.0, -11.0, 110.0, 180.0),  # Australia and New Zealand
    (8, 11.0, 50.0, 35.0, 150.0),  # Eurasia Temperate (Middle East north of Arabia, Central/East Asia)
)


def wrap_lon(lon) -> np.ndarray:
    """Longitudes mapped to [-180, 180)."""
    return (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0


def region_index(lat, lon) -> np.ndarray:
    """TransCom land region number (1..11, see :data:`REGIONS`) of each point, 0 for none."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = wrap_lon(lon)
    lat, lon = np.broadcast_arrays(lat, lon)
    out = np.zeros(lat.shape, dtype=np.int64)
    for number, la0, la1, lo0, lo1 in BOXES:
        hit = (out == 0) & (lat >= la0) & (lat < la1) & (lon >= lo0) & (lon < lo1)
        out[hit] = number
    return out


def region_code(number: int) -> str:
    """Short code of a region number (1..11)."""
    return REGION_CODES[number - 1]
