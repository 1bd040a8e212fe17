"""The single source of truth for every variable h2cm reads or writes.

Each variable has a key (the name used in cubes, outputs and code), a role, CF units, a
long_name, a CF standard_name where the CF table has one that matches the units' dimension,
and a plausible valid range used by ``h2cm check``. Nothing else in the package spells a
unit or a long name: it asks this module (``VARIABLES[key]`` / :func:`cf_attrs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["forcing", "static", "constraint", "output", "parameter", "constant", "ancillary", "evaluation"]


@dataclass(frozen=True)
class Variable:
    key: str
    role: Role
    units: str
    long_name: str
    standard_name: str | None = None
    valid_min: float | None = None
    valid_max: float | None = None
    description: str = ""

    def attrs(self) -> dict[str, object]:
        """CF attributes for an xarray variable."""
        out: dict[str, object] = {"units": self.units, "long_name": self.long_name}
        if self.standard_name:
            out["standard_name"] = self.standard_name
        if self.description:
            out["description"] = self.description
        return out


_V = Variable

# Daily forcing, in physical units (the process model consumes these; the networks see z-scores).
FORCING: tuple[Variable, ...] = (
    _V("rn", "forcing", "W m-2", "net radiation", "surface_net_downward_radiative_flux", -400.0, 600.0),
    _V("prec", "forcing", "mm d-1", "precipitation", "lwe_precipitation_rate", 0.0, 2000.0),
    _V("tair", "forcing", "K", "air temperature", "air_temperature", 180.0, 340.0),
    _V("vpd", "forcing", "hPa", "vapour pressure deficit", "water_vapor_saturation_deficit_in_air", 0.0, 200.0),
    _V(
        "co2",
        "forcing",
        "ppm",
        "atmospheric CO2 mole fraction",
        "mole_fraction_of_carbon_dioxide_in_air",
        150.0,
        1200.0,
    ),
)
FORCING_KEYS: tuple[str, ...] = tuple(v.key for v in FORCING)

# Monthly (and one static) observation constraints; see docs/data.md and docs/training.md.
CONSTRAINTS: tuple[Variable, ...] = (
    _V("tws", "constraint", "mm", "terrestrial water storage anomaly", None, -3000.0, 3000.0),
    _V("swe", "constraint", "mm", "snow water equivalent", "lwe_thickness_of_surface_snow_amount", 0.0, 10000.0),
    _V("et", "constraint", "mm d-1", "evapotranspiration", None, -5.0, 30.0),
    _V("runoff", "constraint", "mm d-1", "total runoff", None, 0.0, 500.0),
    _V(
        "fapar",
        "constraint",
        "1",
        "fraction of absorbed photosynthetically active radiation",
        "fraction_of_surface_downwelling_photosynthetic_radiative_flux_absorbed_by_vegetation",
        0.0,
        1.0,
    ),
    _V(
        "gpp",
        "constraint",
        "g m-2 d-1",
        "gross primary productivity (carbon)",
        "gross_primary_productivity_of_biomass_expressed_as_carbon",
        -5.0,
        50.0,
    ),
    _V("nee", "constraint", "g m-2 d-1", "net ecosystem exchange (carbon), fire removed", None, -50.0, 50.0),
    _V("nee_anomaly", "constraint", "g m-2 d-1", "net ecosystem exchange monthly anomaly (carbon)", None, -50.0, 50.0),
    _V("cue", "constraint", "1", "mean annual carbon use efficiency", None, 0.0, 1.0),
)
CONSTRAINT_KEYS: tuple[str, ...] = tuple(v.key for v in CONSTRAINTS)

ANCILLARY: tuple[Variable, ...] = (
    _V("cell_area", "ancillary", "m2", "grid cell area", "cell_area", 0.0, 2.0e10),
    _V("land_mask", "ancillary", "1", "land mask (1 = modelled cell)", "land_binary_mask", 0.0, 1.0),
    _V("static", "static", "1", "static land properties (see feature coordinate)", None),
)

_G = "g m-2 d-1"
_W = "mm d-1"
# Daily outputs of a simulation (docs/cli/predict.md).
OUTPUTS: tuple[Variable, ...] = (
    _V("swe", "output", "mm", "snow water equivalent", "lwe_thickness_of_surface_snow_amount"),
    _V("sm", "output", "mm", "soil moisture"),
    _V("gw", "output", "mm", "groundwater storage"),
    _V("tws", "output", "mm", "terrestrial water storage (swe + sm + gw)"),
    _V("snowfall", "output", _W, "snowfall after beta_snow correction"),
    _V("rainfall", "output", _W, "rainfall"),
    _V("snowmelt", "output", _W, "snowmelt"),
    _V("ei", "output", _W, "interception evaporation"),
    _V("es", "output", _W, "soil evaporation"),
    _V("tr", "output", _W, "transpiration"),
    _V("et", "output", _W, "evapotranspiration"),
    _V("water_input", "output", _W, "water reaching the ground (rain + melt - interception)"),
    _V("r_soil", "output", _W, "soil recharge"),
    _V("r_gw", "output", _W, "groundwater recharge"),
    _V("q_fast", "output", _W, "fast (surface) runoff"),
    _V("q_base", "output", _W, "slow runoff (baseflow)"),
    _V("runoff", "output", _W, "total runoff"),
    _V(
        "gpp",
        "output",
        _G,
        "gross primary productivity (carbon)",
        "gross_primary_productivity_of_biomass_expressed_as_carbon",
    ),
    _V(
        "npp",
        "output",
        _G,
        "net primary productivity (carbon)",
        "net_primary_productivity_of_biomass_expressed_as_carbon",
    ),
    _V("ra", "output", _G, "autotrophic respiration (carbon)", "plant_respiration_carbon_flux"),
    _V("rh", "output", _G, "heterotrophic respiration (carbon)", "heterotrophic_respiration_carbon_flux"),
    _V("ter", "output", _G, "total ecosystem respiration (carbon)"),
    _V("nep", "output", _G, "net ecosystem production (carbon)"),
    _V("nee", "output", _G, "net ecosystem exchange (carbon), positive upward"),
    _V(
        "fapar",
        "output",
        "1",
        "fraction of absorbed photosynthetically active radiation",
        "fraction_of_surface_downwelling_photosynthetic_radiative_flux_absorbed_by_vegetation",
    ),
    _V("alpha_smelt", "parameter", "mm degC-1 d-1", "snowmelt factor"),
    _V("alpha_rsoil", "parameter", "1", "soil recharge fraction parameter"),
    _V("alpha_rgw", "parameter", "1", "groundwater recharge fraction parameter"),
    _V("alpha_t", "parameter", "1", "transpiration fraction parameter"),
    _V("alpha_es", "parameter", "1", "soil evaporation fraction parameter"),
    _V("alpha_wue", "parameter", "g kg-1 ppm-1", "water use efficiency parameter (scaled by beta_co2)"),
    _V("cue", "parameter", "1", "carbon use efficiency"),
    _V("rb", "parameter", _G, "basal heterotrophic respiration at 15 degC"),
)
STATIC_PARAMETERS: tuple[Variable, ...] = (
    _V("smmax", "parameter", "mm", "soil water holding capacity"),
    _V("alpha_ei", "parameter", "mm", "interception capacity per unit fAPAR"),
)
CONSTANTS: tuple[Variable, ...] = (
    _V("q10", "constant", "1", "temperature sensitivity of heterotrophic respiration"),
    _V("beta_co2", "constant", "ppm-1", "CO2 fertilisation factor"),
    _V("beta_baseflow", "constant", "d-1", "baseflow recession rate"),
    _V("beta_snow", "constant", "1", "snowfall correction factor"),
)

OUTPUT_KEYS: tuple[str, ...] = tuple(v.key for v in OUTPUTS)
DAILY_PARAMETER_KEYS: tuple[str, ...] = tuple(v.key for v in OUTPUTS if v.role == "parameter")
STATIC_PARAMETER_KEYS: tuple[str, ...] = tuple(v.key for v in STATIC_PARAMETERS)
CONSTANT_KEYS: tuple[str, ...] = tuple(v.key for v in CONSTANTS)
WATER_STATE_KEYS: tuple[str, ...] = ("swe", "sm", "gw")

# Outputs the training loss reads (docs/training.md): the "loss" output mode stores only these.
LOSS_OUTPUT_KEYS: tuple[str, ...] = ("tws", "swe", "et", "runoff", "fapar", "gpp", "npp", "nee")

# Static input features (the ``feature`` coordinate of the cube's ``static`` variable). The twin
# world (``h2cm synth``) writes exactly these 30, in this order; imported cubes may carry others.
_F = "static"
_LC = (
    ("enf", "evergreen needleleaf forest"),
    ("ebf", "evergreen broadleaf forest"),
    ("dnf", "deciduous needleleaf forest"),
    ("dbf", "deciduous broadleaf forest"),
    ("mf", "mixed forest"),
    ("csh", "closed shrubland"),
    ("osh", "open shrubland"),
    ("wsa", "woody savanna"),
    ("sav", "savanna"),
    ("gra", "grassland"),
    ("wet", "permanent wetland"),
    ("cro", "cropland"),
    ("urb", "urban and built-up land"),
    ("cvm", "cropland / natural vegetation mosaic"),
    ("snow", "permanent snow and ice"),
    ("bar", "barren"),
)
STATIC_FEATURES: tuple[Variable, ...] = (
    _V("land_fraction", _F, "1", "land fraction of the grid cell", "land_area_fraction", 0.0, 1.0),
    _V("elevation", _F, "m", "mean surface elevation", "surface_altitude", -500.0, 9000.0),
    _V("elevation_std", _F, "m", "sub-grid standard deviation of elevation", None, 0.0, 5000.0),
    *(_V(f"lc_{code}", _F, "1", f"fraction of land covered by {name} (IGBP)", None, 0.0, 1.0) for code, name in _LC),
    _V("tree_cover", _F, "1", "tree cover fraction", None, 0.0, 1.0),
    _V("sand", _F, "1", "soil sand mass fraction", None, 0.0, 1.0),
    _V("silt", _F, "1", "soil silt mass fraction", None, 0.0, 1.0),
    _V("clay", _F, "1", "soil clay mass fraction", None, 0.0, 1.0),
    _V("soil_organic_carbon", _F, "kg m-2", "soil organic carbon stock (0-1 m)", None, 0.0, 200.0),
    _V("bulk_density", _F, "kg m-3", "soil bulk density", None, 500.0, 2200.0),
    _V("coarse_fragments", _F, "1", "volume fraction of coarse fragments in the soil", None, 0.0, 1.0),
    _V("soil_depth", _F, "m", "depth to bedrock (capped at 2 m)", None, 0.0, 2.0),
    _V("field_capacity", _F, "1", "volumetric water content at field capacity", None, 0.0, 0.7),
    _V("wilting_point", _F, "1", "volumetric water content at the wilting point", None, 0.0, 0.5),
    _V("water_holding_capacity", _F, "mm", "plant-available water holding capacity", None, 0.0, 1000.0),
)
STATIC_FEATURE_KEYS: tuple[str, ...] = tuple(v.key for v in STATIC_FEATURES)

# Extra observations an importer keeps for evaluation only (never a training constraint), e.g.
# a flux tower's ecosystem respiration and its daily series, dims (month | time, lat, lon).
EVALUATION: tuple[Variable, ...] = (
    _V("reco", "evaluation", "g m-2 d-1", "ecosystem respiration (carbon), monthly mean", None, -5.0, 50.0),
    _V("et_daily", "evaluation", "mm d-1", "evapotranspiration, daily", None, -5.0, 30.0),
    _V("gpp_daily", "evaluation", "g m-2 d-1", "gross primary productivity (carbon), daily", None, -10.0, 60.0),
    _V("nee_daily", "evaluation", "g m-2 d-1", "net ecosystem exchange (carbon), daily", None, -60.0, 60.0),
    _V("reco_daily", "evaluation", "g m-2 d-1", "ecosystem respiration (carbon), daily", None, -10.0, 60.0),
)
EVALUATION_KEYS: tuple[str, ...] = tuple(v.key for v in EVALUATION)

# The cube on disk (docs/architecture.md, docs/data.md).
CUBE_VERSION = 1
CUBE_DIMS: tuple[str, ...] = ("time", "month", "lat", "lon", "feature")
COORD_ATTRS: dict[str, dict[str, str]] = {
    "lat": {"units": "degrees_north", "long_name": "latitude", "standard_name": "latitude", "axis": "Y"},
    "lon": {"units": "degrees_east", "long_name": "longitude", "standard_name": "longitude", "axis": "X"},
    "time": {"long_name": "time (day)", "standard_name": "time", "axis": "T"},
    "month": {"long_name": "first day of the calendar month", "standard_name": "time"},
    "feature": {"long_name": "static feature name"},
}

VARIABLES: dict[str, dict[str, Variable]] = {
    "forcing": {v.key: v for v in FORCING},
    "constraint": {v.key: v for v in CONSTRAINTS},
    "ancillary": {v.key: v for v in ANCILLARY},
    "output": {v.key: v for v in OUTPUTS + STATIC_PARAMETERS + CONSTANTS},
    "static": {v.key: v for v in STATIC_FEATURES},
    "evaluation": {v.key: v for v in EVALUATION},
}


def variable(key: str, role: str = "output") -> Variable:
    """Look up a variable by key within a role group (forcing, constraint, ancillary, output, static, evaluation)."""
    try:
        return VARIABLES[role][key]
    except KeyError:
        known = ", ".join(sorted(VARIABLES.get(role, {})))
        raise KeyError(f"unknown {role} variable {key!r}; known: {known}") from None


def cf_attrs(key: str, role: str = "output") -> dict[str, object]:
    """CF attributes (units, long_name, standard_name) of a variable."""
    return variable(key, role).attrs()
