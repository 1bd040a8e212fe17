"""Derived diagnostics of docs/model.md, from mean annual values.

- ``PUE = NPP / P`` precipitation use efficiency, gC kgH2O-1 (1 mm of water = 1 kg m-2);
- ``WUE = GPP / T`` water use efficiency, gC kgH2O-1;
- ``CUE = NPP / GPP`` carbon use efficiency, 1;
- ``LUE = GPP / APAR`` light use efficiency, gC MJ-1, with ``APAR = fAPAR x PAR``.

PAR from the cube's radiation forcing. The cube carries net radiation ``Rn`` (W m-2), not incoming
shortwave. Daily mean net radiation over vegetated land is roughly 60 % of incoming shortwave
(albedo ~0.15-0.2 and a net longwave loss), so incoming shortwave is estimated as
``SW = max(Rn, 0) / 0.6`` and PAR as half of it (``PAR = 0.5 x SW``), converted to daily energy
with 0.0864 MJ m-2 d-1 per W m-2. Altogether ``PAR [MJ m-2 d-1] = 0.072 x max(Rn, 0)``.
This is an approximation (it misses PAR on days with negative net radiation and varies with
albedo), good for the spatial pattern of LUE, not for absolute comparisons with products that
use measured shortwave.
"""

from __future__ import annotations

import numpy as np

RN_TO_SW = 1.0 / 0.6  # incoming shortwave / net radiation (daily means)
PAR_FRACTION = 0.5  # PAR / incoming shortwave
W_TO_MJ_PER_DAY = 0.0864
PAR_PER_RN = PAR_FRACTION * RN_TO_SW * W_TO_MJ_PER_DAY  # MJ m-2 d-1 per W m-2 of net radiation

DIAGNOSTICS: dict[str, tuple[str, str]] = {
    "pue": ("precipitation use efficiency NPP / P", "gC kgH2O-1"),
    "wue": ("water use efficiency GPP / T", "gC kgH2O-1"),
    "cue": ("carbon use efficiency NPP / GPP", "1"),
    "lue": ("light use efficiency GPP / APAR", "gC MJ-1"),
}
MIN_DENOMINATOR = {"pue": 0.01, "wue": 0.01, "cue": 0.1, "lue": 0.01}  # below: undefined (NaN)
# (numerator, denominator) of each diagnostic: time means of outputs, ``prec`` (forcing), ``apar``
DIAGNOSTIC_TERMS: dict[str, tuple[str, str]] = {
    "pue": ("npp", "prec"),
    "wue": ("gpp", "tr"),
    "cue": ("npp", "gpp"),
    "lue": ("gpp", "apar"),
}


def diagnostic_outputs(key: str) -> tuple[str, ...]:
    """The daily model outputs a diagnostic needs (``prec`` is forcing; APAR = fAPAR x PAR)."""
    return tuple({"apar": "fapar"}.get(t, t) for t in DIAGNOSTIC_TERMS[key] if t != "prec")


def par_from_rn(rn) -> np.ndarray:
    """Photosynthetically active radiation (MJ m-2 d-1) from daily net radiation (W m-2)."""
    return PAR_PER_RN * np.maximum(np.asarray(rn, dtype=np.float64), 0.0)


def _ratio(num, den, floor: float) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    ok = np.isfinite(num) & np.isfinite(den) & (den > floor)
    return np.where(ok, num / np.where(ok, den, 1.0), np.nan)


def derived_diagnostics(means: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PUE, WUE, CUE, LUE from mean annual (time-mean) ``npp``, ``gpp``, ``tr``, ``prec``, ``apar``:
    those whose two terms are in ``means`` (a model without transpiration has no WUE).

    Ratios of means (= ratios of annual totals); NaN where the denominator is tiny (deserts,
    ice), see :data:`MIN_DENOMINATOR`.
    """
    return {
        k: _ratio(means[num], means[den], MIN_DENOMINATOR[k])
        for k, (num, den) in DIAGNOSTIC_TERMS.items()
        if num in means and den in means
    }
