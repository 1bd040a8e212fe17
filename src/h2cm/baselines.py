"""Baselines for the hybrid model, in the same framework (issue #6).

* :class:`ConstantModel`: the H2CM process model with *globally constant* learned parameters.
  Every network of the hybrid model is replaced by one learned scalar per parameter, mapped by the
  same activation as the network's output (softplus / sigmoid; SMmax and alpha_Ei as in the static
  net); the four global constants are the same :class:`~h2cm.networks.GlobalConstants`.
* :class:`LSTMBaseline`: purely data-driven. One LSTM over z-scored forcing and static inputs with
  a linear head that predicts the constrained daily variables (:data:`LSTM_OUTPUT_KEYS`) directly,
  with no process model; it has no parameters or constants of the process model.

Both are model kinds (:class:`~h2cm.modelkind.ModelKind`: the hybrid model's ``forward``
signature, a :class:`~h2cm.modelkind.Simulation`, the same normalisation buffers), registered in
:mod:`h2cm.kinds`, which builds every kind from ``(kind, kwargs)`` so that checkpoints of every
kind load the same way. The constant model shares the hybrid model's driver
(:class:`~h2cm.model.ProcessModel`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import physics
from .model import ModelState, ProcessModel, _collect, _compile_blocks, compiled_carry, day_blocks, initial_model_state
from .modelkind import ModelKind, Simulation, resolve_outputs
from .networks import NETWORK_OUTPUTS, GlobalConstants
from .physics import Constants, DailyParams, DayForcing, ForcingTerms, StaticParams, WaterState
from .schema import FORCING_KEYS, LOSS_OUTPUT_KEYS

_PHYS = {k: i for i, k in enumerate(FORCING_KEYS)}
# activation of every daily parameter (the same as the hybrid networks' heads)
PARAM_ACTIVATIONS: dict[str, str] = {name: act for outs in NETWORK_OUTPUTS.values() for name, act in outs}
# what the LSTM baseline predicts: the variables the loss reads (npp for the CUE term)
LSTM_OUTPUT_KEYS: tuple[str, ...] = LOSS_OUTPUT_KEYS
# physical scale of each LSTM output (head output 1 = this many units) and its activation
LSTM_OUTPUT_SCALE: dict[str, tuple[float, str]] = {
    "tws": (100.0, "linear"),  # mm
    "swe": (50.0, "softplus"),  # mm
    "et": (2.0, "softplus"),  # mm d-1
    "runoff": (1.0, "softplus"),  # mm d-1
    "fapar": (1.0, "sigmoid"),  # 1
    "gpp": (3.0, "softplus"),  # gC m-2 d-1
    "npp": (1.5, "softplus"),  # gC m-2 d-1
    "nee": (1.0, "linear"),  # gC m-2 d-1
}


class ConstantModel(ProcessModel):
    """The process model with one learned scalar per parameter, the same everywhere and every day."""

    kind = "constant"
    label = "process model with constant parameters"

    def __init__(self, n_static: int = 30, **_ignored: Any):
        super().__init__(n_static)
        self.raw_daily = nn.ParameterDict({name: nn.Parameter(torch.zeros(())) for name in DailyParams._fields})
        self.raw_smmax = nn.Parameter(torch.zeros(()))
        self.raw_alpha_ei = nn.Parameter(torch.zeros(()))
        self.constants = GlobalConstants()

    def daily_parameters(self) -> DailyParams:
        """The (scalar) daily parameters, mapped by the hybrid networks' activations."""
        vals = {}
        for name, raw in self.raw_daily.items():
            vals[name] = F.softplus(raw) if PARAM_ACTIVATIONS[name] == "softplus" else torch.sigmoid(raw)
        return DailyParams(**vals)

    def static_parameters(self, static: Tensor) -> tuple[StaticParams, Tensor]:
        """(SMmax, alpha_Ei) broadcast to every cell, and an empty ``code`` (cells, 0)."""
        n = static.shape[0]
        smmax = (F.softplus(self.raw_smmax + 100.0) + 1.0).expand(n)
        alpha_ei = F.softplus(self.raw_alpha_ei).expand(n)
        return StaticParams(smmax=smmax, alpha_ei=alpha_ei), static.new_zeros(n, 0)

    def initial_state(self, batch: int, device=None, dtype=torch.float32) -> ModelState:
        return initial_model_state(batch, 0, device, dtype)  # no LSTM memory

    def _run(self, forcing, sp: StaticParams, code, k: Constants, state: ModelState, keys, chunk_days):
        """Same contract as :meth:`H2CM._run`: returns ((days, n_keys, cells) outputs, final state).
        ``code`` is empty and ``chunk_days`` unused: this model's graph is small enough to keep whole.
        Compiled (:meth:`compile_day`): blocks of days per compiled call, as the hybrid model."""
        days, batch = forcing.shape[0], forcing.shape[1]
        phys = DayForcing(*(forcing[..., _PHYS[n]] for n in ("rn", "prec", "tair", "co2")))
        terms = physics.forcing_terms(phys, k)
        params = DailyParams(*(v.expand(batch) for v in self.daily_parameters()))
        carry = (state.swe, state.sm, state.gw, state.npp)
        if self.__dict__.get("_compiled_block") is not None:
            carry = compiled_carry(carry, (*params, *sp, *k))
            steps = day_blocks(self, constant_days, terms)
        else:
            steps = ((constant_days, p) for p in zip(*(t.split(1) for t in terms), strict=True))
        rows: list[Tensor] = []
        for step, piece in steps:
            carry, values = step(carry, ForcingTerms(*piece), params, sp, k, keys)
            if keys:
                rows.append(values)
        out = torch.cat(rows) if rows else forcing.new_empty(days, 0, batch)
        swe, sm, gw, npp = carry
        return out, ModelState(swe, sm, gw, params.fapar, npp, state.h, state.c)

    def compile_day(self, enabled: bool = True, block_days: int = 4, mode: str | None = None) -> bool:
        """``torch.compile`` blocks of ``block_days`` days (:func:`constant_days`), as
        :meth:`H2CM.compile_day`; returns whether compilation is active."""
        return _compile_blocks(self, constant_days, enabled, block_days, mode)


def constant_days(carry, terms: ForcingTerms, params: DailyParams, sp: StaticParams, k: Constants, keys):
    """Consecutive days of the process model with fixed parameters; ``terms`` fields have the
    days as leading dimension; carry = (swe, sm, gw, npp). Returns (carry, (days, n_keys, B) or None)."""
    swe, sm, gw, npp = carry
    water = WaterState(swe, sm, gw)
    rows = []
    for day in zip(*(t.unbind(0) for t in terms), strict=True):
        water, fluxes = physics.day_step_terms(water, ForcingTerms(*day), params, sp, k)
        npp = fluxes["npp"]
        if keys:
            rows.append(torch.stack(_collect(keys, fluxes, params)))
    return (water.swe, water.sm, water.gw, npp), (torch.stack(rows) if keys else None)


class LSTMBaseline(ModelKind):
    """One LSTM over z-scored forcing and static inputs; a linear head predicts the constrained
    daily variables (:data:`LSTM_OUTPUT_KEYS`) in physical units. No process model."""

    kind = "lstm"
    label = "pure LSTM baseline"
    outputs = LSTM_OUTPUT_KEYS
    has_process_model = False

    def __init__(self, n_static: int = 30, lstm_hidden: int = 100, **_ignored: Any):
        super().__init__(n_static, lstm_hidden=lstm_hidden)
        self.hidden = lstm_hidden
        self.lstm = nn.LSTM(len(FORCING_KEYS) + n_static, lstm_hidden)
        self.head = nn.Linear(lstm_hidden, len(LSTM_OUTPUT_KEYS))
        self.register_buffer(
            "out_scale", torch.tensor([LSTM_OUTPUT_SCALE[k][0] for k in LSTM_OUTPUT_KEYS]), persistent=False
        )

    def initial_state(self, batch: int, device=None, dtype=torch.float32) -> tuple[Tensor, Tensor]:
        z = torch.zeros(1, batch, self.hidden, device=device, dtype=dtype)
        return z, z.clone()

    def _inputs(self, forcing: Tensor, static: Tensor) -> Tensor:
        zs = self.zscore_static(static).unsqueeze(0).expand(forcing.shape[0], -1, -1)
        return torch.cat([torch.nan_to_num(self.zscore_forcing(forcing)), zs], dim=-1)

    @torch.no_grad()
    def _spinup(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        _, (h, c) = self.lstm(x, state)
        return h.detach(), c.detach()

    def spinup_state(self, forcing: Tensor, static: Tensor, state: tuple[Tensor, Tensor] | None = None):
        """The LSTM (h, c) after one pass over the period without gradients, from ``state``
        (default: zeros); what ``forward(..., spinup=True)`` starts from."""
        if state is None:
            state = self.initial_state(forcing.shape[1], forcing.device, forcing.dtype)
        return self._spinup(self._inputs(forcing, static), state)

    def forward(
        self,
        forcing: Tensor,
        static: Tensor,
        state: tuple[Tensor, Tensor] | None = None,
        spinup: bool = True,
        outputs: str | Sequence[str] = "all",
        chunk_days: int | None = 365,
    ) -> Simulation:
        """Predict the daily variables. ``outputs``: ``"all"``/``"loss"`` give every predicted
        variable; a list gives those of its names this model predicts (others are absent).
        ``state``: LSTM (h, c); ``spinup`` first runs the period once without gradients."""
        self.check_inputs(forcing, static)
        if outputs in ("all", "loss"):
            keys = LSTM_OUTPUT_KEYS
        else:
            keys = tuple(k for k in resolve_outputs(outputs) if k in LSTM_OUTPUT_KEYS)
        x = self._inputs(forcing, static)
        if state is None:
            state = self.initial_state(forcing.shape[1], forcing.device, forcing.dtype)
        if spinup:
            state = self._spinup(x, state)
        h, state = self.lstm(x, state)
        raw = self.head(h)
        out = {}
        for j, key in enumerate(LSTM_OUTPUT_KEYS):
            if key not in keys:
                continue
            act = LSTM_OUTPUT_SCALE[key][1]
            r = raw[..., j]
            v = F.softplus(r) if act == "softplus" else torch.sigmoid(r) if act == "sigmoid" else r
            out[key] = v * self.out_scale[j]
        return Simulation(out, state)  # no static parameters, no constants
