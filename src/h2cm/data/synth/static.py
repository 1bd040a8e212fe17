"""The twin world's 30 static features (soil, land cover, topography) on the global 1-degree grid.

Land fraction, elevation and land cover come from the real geography (:mod:`h2cm.data.geography`);
soil texture, organic carbon, bulk density, depth and water-holding capacity are made from them
with smooth random fields (randomness ``[seed, 3]``). Formulas: docs/data.md.
"""

from __future__ import annotations

import numpy as np

from ...schema import STATIC_FEATURE_KEYS
from ..geography import Geography
from .weather import annual_mean_temperature, smooth_field


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
