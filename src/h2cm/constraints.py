"""The observation constraints: one record per stream, read by everything that needs one.

:mod:`h2cm.schema` says what a constraint *is* (units, long name, valid range); this table says
how it is *used*: which model output it is compared with, the form of its loss term
(docs/training.md), the view its headline skill is reported on (docs/evaluation.md), how the
model/data pair is treated before scoring, whether it is static (one value per cell) or monthly,
and the product the paper uses. The loss (:mod:`h2cm.training.loss`), skill and views
(:mod:`h2cm.evaluation`), ``h2cm evaluate``, the report's figures and its HTML page all read it:
a new observation stream is one row here (plus its variable in the schema).

Loss forms (docs/training.md): ``cell_anomaly`` each cell's mean removed from model and data (GRACE
gives anomalies); ``msc`` the 12-month mean seasonal cycle; ``monthly`` the monthly values;
``regional_anomaly`` the model's anomaly from its own seasonal cycle, area-weighted over the
batch's cells, against the data's same mean (inversion NEE anomalies); ``cue`` mean NPP / mean GPP
per cell against a static map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .schema import VARIABLES, Variable

LossForm = Literal["cell_anomaly", "msc", "monthly", "regional_anomaly", "cue"]
View = Literal["monthly", "msc", "spatial"]
# how evaluation treats a (model, data) pair before the views: as given; each cell's mean removed
# from both; the model's own mean seasonal cycle removed (the data are anomalies already)
Treatment = Literal["none", "cell_anomaly", "model_anomaly"]

CUE_SMALL_GPP = 0.1  # gC m-2 d-1: below this mean GPP a cell's CUE is taken as CUE_DEFAULT
CUE_DEFAULT = 0.5


@dataclass(frozen=True)
class Constraint:
    key: str
    output: str  # the model variable compared with the data (a daily output, or a derived one)
    reads: tuple[str, ...]  # the daily model outputs that variable needs
    loss: LossForm
    view: View  # the view the loss uses: the headline of the evaluation
    treatment: Treatment
    product: str  # the paper's product (Table 1)
    static: bool = False  # one value per cell (lat, lon) instead of (month, lat, lon)

    @property
    def variable(self) -> Variable:
        return VARIABLES["constraint"][self.key]

    @property
    def units(self) -> str:
        return self.variable.units


_C = Constraint
CONSTRAINT_TABLE: tuple[Constraint, ...] = (
    _C("tws", "tws", ("tws",), "cell_anomaly", "monthly", "cell_anomaly", "GRACE JPL mascons RL06M"),
    _C("swe", "swe", ("swe",), "monthly", "monthly", "none", "GlobSnow v3"),
    _C("et", "et", ("et",), "msc", "msc", "none", "FLUXCOM-X-BASE ET"),
    _C("runoff", "runoff", ("runoff",), "msc", "msc", "none", "GRUN v2"),
    _C("fapar", "fapar", ("fapar",), "monthly", "monthly", "none", "MODIS MOD15A2H"),
    _C("gpp", "gpp", ("gpp",), "msc", "msc", "none", "FLUXCOM-X-BASE GPP"),
    _C("nee", "nee", ("nee",), "monthly", "monthly", "none", "OCO-2 v10 MIP ensemble median"),
    _C("nee_anomaly", "nee", ("nee",), "regional_anomaly", "monthly", "model_anomaly", "Jena CarboScope"),
    _C("cue", "cue", ("npp", "gpp"), "cue", "spatial", "none", "TRENDY v11 ensemble median", static=True),
)
CONSTRAINTS: dict[str, Constraint] = {c.key: c for c in CONSTRAINT_TABLE}
CONSTRAINT_KEYS: tuple[str, ...] = tuple(CONSTRAINTS)
STATIC_CONSTRAINT_KEYS: tuple[str, ...] = tuple(c.key for c in CONSTRAINT_TABLE if c.static)
MONTHLY_CONSTRAINT_KEYS: tuple[str, ...] = tuple(c.key for c in CONSTRAINT_TABLE if not c.static)
# derived views of the table, for readers that want one column
CONSTRAINT_OUTPUT: dict[str, str] = {c.key: c.output for c in CONSTRAINT_TABLE}
HEADLINE_VIEW: dict[str, str] = {c.key: c.view for c in CONSTRAINT_TABLE}


def constraint(key: str) -> Constraint:
    try:
        return CONSTRAINTS[key]
    except KeyError:
        raise KeyError(f"unknown constraint {key!r}; known: {', '.join(CONSTRAINT_KEYS)}") from None


def cue_of_means(npp_mean: Any, gpp_mean: Any) -> Any:
    """Per-cell carbon use efficiency as the loss defines it: mean NPP / mean GPP, and
    :data:`CUE_DEFAULT` where mean GPP < :data:`CUE_SMALL_GPP`. Works on numpy arrays (float64
    result) and on torch tensors (differentiable, same dtype)."""
    if isinstance(npp_mean, np.ndarray | list | tuple | float | int):
        npp_mean = np.asarray(npp_mean, dtype=np.float64)
        gpp_mean = np.asarray(gpp_mean, dtype=np.float64)
        small = gpp_mean < CUE_SMALL_GPP
        return np.where(small, CUE_DEFAULT, npp_mean / np.where(small, 1.0, gpp_mean))
    import torch

    small = gpp_mean < CUE_SMALL_GPP
    ratio = npp_mean / torch.where(small, torch.ones_like(gpp_mean), gpp_mean)
    return torch.where(small, torch.full_like(ratio, CUE_DEFAULT), ratio)
