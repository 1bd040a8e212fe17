"""Unit conversion for ``h2cm import`` with pint (the UDUNITS/CF-aware registry of cf_xarray).

Units are read from a file's ``units`` attribute (or the mapping's ``units``) and converted to the
schema's units (:mod:`h2cm.schema`) by pint, not by a table of spellings. The conversion is linear
(``y = a x + b``; ``b`` only for offset units such as degC), so it is applied lazily to dask arrays.

Three rules beyond pint's own dimensional analysis (docs/cli/import.md):

- **water**: a mass of water per area is a depth of water, ``1 kg m-2 = 1 mm`` (density
  1000 kg m-3); used only when the target is a length (or length per time: ``mm``, ``mm d-1``)
  and the source a mass per area (or per area and time: ``kg m-2``, ``kg m-2 s-1``);
- **amounts per time step**: when the target is a rate (``mm d-1``, ``W m-2``) and the source an
  amount (``m``, ``J m-2``, ``kg m-2``), every value is an amount over its own time step and is
  divided by the step's length (hourly ``J m-2`` -> ``J m-2 h-1`` = W m-2; monthly ``mm`` over the
  month's days); daily values are then means of these rates, so daily sums of amounts;
- a few spellings pint does not know are defined: ``gC`` (grams of carbon: a gram), ``ppmv``
  (ppm); a pure number (``1e-6``, a CF unit) is a dimensionless scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pint
import xarray as xr

WATER_DENSITY = 1000.0  # kg m-3: 1 kg m-2 of water = 1 mm
_EXTRA_DEFINITIONS = ("gC = gram", "ppmv = ppm")


class UnitsError(ValueError):
    """Units missing, unknown to pint, or not convertible to the schema's units."""


def registry() -> pint.UnitRegistry:
    """cf_xarray's pint registry (CF/UDUNITS syntax: ``W m-2``, ``kg m-2 s-1``, ``degC``), with
    the extra definitions of the module docstring."""
    from cf_xarray.units import units

    for definition in _EXTRA_DEFINITIONS:
        name = definition.split("=")[0].strip()
        try:
            units.Unit(name)
        except pint.UndefinedUnitError:
            units.define(definition)
    return units


def quantity(values, unit: str, where: str) -> pint.Quantity:
    """``values`` in ``unit`` as a pint Quantity; UnitsError naming ``where`` if pint cannot parse it."""
    ureg = registry()
    text = " ".join(str(unit).split())
    try:
        return ureg.Quantity(np.asarray(values, dtype=np.float64) * float(text), "dimensionless")
    except ValueError:
        pass
    try:
        return ureg.Quantity(np.asarray(values, dtype=np.float64), text)
    except (pint.errors.PintError, TypeError, ValueError, AttributeError) as err:
        raise UnitsError(f"{where}: units {unit!r} are not understood ({err}); expected CF/UDUNITS units") from None


@dataclass(frozen=True)
class Conversion:
    """``target = scale * source + offset``; ``per_step``: divide by the step length (days) first."""

    scale: float
    offset: float
    per_step: bool
    rule: str  # how the units were read, for the import's notes

    def apply(self, da: xr.DataArray, step_days: xr.DataArray | None = None) -> xr.DataArray:
        if self.per_step:
            if step_days is None:
                raise ValueError("an amount per time step needs the step lengths")
            da = da / step_days
        out = da * self.scale + self.offset if (self.scale != 1.0 or self.offset != 0.0) else da
        return out.astype(np.float32)


def _linear(q: pint.Quantity, target: str) -> tuple[float, float]:
    y = q.to(target).magnitude
    return float(y[1] - y[0]), float(y[0])


def conversion(source: str, target: str, where: str) -> Conversion:
    """How to convert values in ``source`` units to ``target`` units (module docstring rules)."""
    ureg = registry()
    q = quantity([0.0, 1.0], source, where)
    tgt = ureg.Unit(target) if target != "1" else ureg.dimensionless
    density = ureg.Quantity(WATER_DENSITY, "kg m-3")
    day = ureg.Quantity(1.0, "day")
    candidates = (
        (q, False, f"{source} -> {target}"),
        (q / density, False, f"{source} -> {target} (water: 1 kg m-2 = 1 mm)"),
        (q / day, True, f"{source} per time step -> {target} (amount divided by the step length)"),
        (q / density / day, True, f"{source} per time step -> {target} (amount per step; water: 1 kg m-2 = 1 mm)"),
    )
    for cand, per_step, rule in candidates:
        if cand.dimensionality == tgt.dimensionality:
            try:
                scale, offset = _linear(cand, target)
            except pint.errors.PintError as err:
                raise UnitsError(f"{where}: units {source!r} cannot be converted to {target!r} ({err})") from None
            return Conversion(scale, offset, per_step, rule)
    raise UnitsError(
        f"{where}: units {source!r} ({q.dimensionality}) cannot be converted to {target!r} "
        f"({tgt.dimensionality}); expected units of that dimension, a water mass per area for a depth, "
        "or an amount per time step for a rate"
    )


def source_units(da: xr.DataArray, override: str | None, where: str) -> str:
    """The units of a source variable: the mapping's ``units`` if given, else its attribute."""
    if override is not None:
        return str(override)
    units = da.attrs.get("units", da.encoding.get("units"))
    if units is None or str(units).strip() == "":
        raise UnitsError(f"{where}: no units attribute; expected one (or 'units:' in the mapping)")
    return str(units)
