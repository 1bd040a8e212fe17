"""The learned parts of H2CM (docs/model.md): static network, guided dynamic networks,
global constants.

Networks only see dimensionless inputs (z-scored forcing and static features, scaled states).
They never see physical units and never call the process model.

All dynamic networks read one per-day input vector ``u = [states, z-scored forcing, code]``
(:func:`input_names`). Guidance is enforced by fixed 0/1 masks on the input weights: a network's
weight rows for inputs its row of Table 2 does not list are zero and receive zero gradient, so
those inputs cannot change its outputs. The three LSTMs are stored stacked (leading dimension 3)
so that one day of all three is one batched matrix product (:meth:`GuidedLSTMs.day`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .physics import Constants, StaticParams

# Inputs available to the dynamic networks. "Exogenous" inputs do not depend on the model state
# (z-scored forcing and the static code); "state" inputs are previous-day model states.
FORCING_INPUTS: tuple[str, ...] = ("rn", "prec", "tair", "vpd", "co2")
STATE_INPUTS: tuple[str, ...] = ("sm_rel", "swe", "gw", "fapar_prev", "npp_prev")
STATE_SCALES: dict[str, str] = {
    "sm_rel": "SM / SMmax",
    "swe": "SWE / 100 mm",
    "gw": "GW / 200 mm",
    "fapar_prev": "fAPAR (unscaled)",
    "npp_prev": "NPP in gC m-2 d-1 (unscaled)",
}

# Table 2 of the paper: which inputs each network may see ("code" = the static net's 12 units).
GUIDED_INPUTS: dict[str, tuple[str, ...]] = {
    "hydrology": ("rn", "prec", "sm_rel", "swe", "gw", "fapar_prev", "code"),
    "coupling": ("rn", "vpd", "sm_rel", "code"),
    "vegetation": ("rn", "tair", "vpd", "co2", "sm_rel", "fapar_prev", "npp_prev", "code"),
    "soil": ("rn", "prec", "fapar_prev", "npp_prev", "code"),
}
LSTM_NAMES: tuple[str, ...] = ("hydrology", "vegetation", "soil")

# Outputs of each dynamic network with their activation.
NETWORK_OUTPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "hydrology": (("alpha_smelt", "softplus"), ("alpha_rsoil", "sigmoid"), ("alpha_rgw", "sigmoid")),
    "vegetation": (("cue", "sigmoid"), ("fapar", "sigmoid")),
    "soil": (("rb", "softplus"), ("alpha_es", "sigmoid")),
    "coupling": (("alpha_wue", "softplus"), ("alpha_t", "sigmoid")),
}
# Where each LSTM output sits in the stacked heads' output (3, B, n_out) of :func:`lstm_day`:
# parameter -> (network index in LSTM_NAMES, head index, activation).
LSTM_HEADS: dict[str, tuple[int, int, str]] = {
    name: (i, j, act) for i, net in enumerate(LSTM_NAMES) for j, (name, act) in enumerate(NETWORK_OUTPUTS[net])
}

LEAKY_SLOPE = 0.01


def input_names(code_size: int) -> tuple[str, ...]:
    """Names of the per-day input vector shared by all dynamic networks (each masks its own)."""
    return STATE_INPUTS + FORCING_INPUTS + tuple(f"code{i}" for i in range(code_size))


def input_mask(network: str, code_size: int) -> Tensor:
    """1 for the inputs ``network`` may see (Table 2), 0 for the others."""
    allow = set(GUIDED_INPUTS[network])
    return torch.tensor(
        [1.0 if (n in allow or (n.startswith("code") and "code" in allow)) else 0.0 for n in input_names(code_size)]
    )


def fast_tanh(x: Tensor) -> Tensor:
    """tanh via the logistic function (2 sigmoid(2x) - 1): same values to float32 rounding,
    several times faster than ``torch.tanh`` on CPU."""
    return torch.sigmoid(2.0 * x) * 2.0 - 1.0


def leaky_relu(x: Tensor) -> Tensor:
    """Leaky ReLU with slope :data:`LEAKY_SLOPE`, written as ``x * (a + b sign(x))``.

    Same values and gradients as ``F.leaky_relu``, but its backward needs no boolean mask:
    inductor's CPU code stores boolean masks element by element, which made the compiled day
    step spend more time on the coupling net's mask than on its matmul (docs/performance.md).
    """
    return x * (torch.sign(x) * _LEAKY_HALF_SPAN + _LEAKY_MID)


_LEAKY_MID = (1.0 + LEAKY_SLOPE) / 2.0
_LEAKY_HALF_SPAN = (1.0 - LEAKY_SLOPE) / 2.0


def _uniform_(t: Tensor, bound: float) -> Tensor:
    with torch.no_grad():
        return t.uniform_(-bound, bound)


class StaticNet(nn.Module):
    """FC 30 -> 150 -> 12 -> 2 with leaky ReLU; the 12-unit layer is ``code``."""

    def __init__(self, n_static: int = 30, hidden: int = 150, code_size: int = 12):
        super().__init__()
        self.fc1 = nn.Linear(n_static, hidden)
        self.fc2 = nn.Linear(hidden, code_size)
        self.fc3 = nn.Linear(code_size, 2)

    def forward(self, static_z: Tensor) -> tuple[StaticParams, Tensor]:
        a = F.leaky_relu(self.fc1(static_z), LEAKY_SLOPE)
        code = F.leaky_relu(self.fc2(a), LEAKY_SLOPE)
        raw = self.fc3(code)
        smmax = F.softplus(raw[:, 0] + 100.0) + 1.0
        alpha_ei = F.softplus(raw[:, 1])
        return StaticParams(smmax=smmax, alpha_ei=alpha_ei), code


class GlobalConstants(nn.Module):
    """The four learned global constants, stored unconstrained and mapped to their ranges."""

    INIT = {"beta_snow": 3.0, "beta_baseflow": -6.0, "q10": -3.0, "beta_co2": -6.5}

    def __init__(self):
        super().__init__()
        for name, value in self.INIT.items():
            self.register_parameter(f"raw_{name}", nn.Parameter(torch.tensor(value)))

    def forward(self) -> Constants:
        return Constants(
            q10=1.0 + 9.0 * torch.sigmoid(self.raw_q10),
            beta_co2=F.softplus(self.raw_beta_co2),
            beta_baseflow=torch.sigmoid(self.raw_beta_baseflow),
            beta_snow=torch.sigmoid(self.raw_beta_snow),
        )


class CouplingNet(nn.Module):
    """FC (in -> 150 -> 12 -> 2) with leaky ReLU, giving alpha_WUE and alpha_T."""

    def __init__(self, code_size: int = 12, hidden: int = 150, bottleneck: int = 12):
        super().__init__()
        mask = input_mask("coupling", code_size)
        self.register_buffer("in_mask", mask.unsqueeze(1), persistent=False)
        bound = 1.0 / math.sqrt(float(mask.sum()))
        self.w1 = nn.Parameter(_uniform_(torch.empty(mask.numel(), hidden), bound) * self.in_mask)
        self.b1 = nn.Parameter(_uniform_(torch.empty(hidden), bound))
        self.fc2 = nn.Linear(hidden, bottleneck)
        self.fc3 = nn.Linear(bottleneck, 2)

    def masked_weight(self) -> Tensor:
        return self.w1 * self.in_mask

    def fused_weights(self, code: Tensor) -> tuple[Tensor, ...]:
        """(w1, b1, w2, b2, w3, b3) for :func:`coupling_day`, guided; compute once per chunk of days.

        The static ``code`` (B, code_size) does not change from day to day, so its part of the
        first layer is folded into a per-cell bias ``b1`` (B, hidden) and ``w1`` covers only the
        daily inputs (the first ``n_inputs - code_size`` entries of the input vector)."""
        w = self.masked_weight()
        n_day = w.shape[0] - code.shape[-1]
        b1 = torch.addmm(self.b1, code, w[n_day:])
        return w[:n_day], b1, self.fc2.weight, self.fc2.bias, self.fc3.weight, self.fc3.bias


def coupling_day(u: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, w3: Tensor, b3: Tensor):
    """One day of the coupling net. u: (B, n_daily_inputs). Returns (alpha_wue, alpha_t)."""
    a1 = leaky_relu(torch.addmm(b1, u, w1))
    a2 = leaky_relu(F.linear(a1, w2, b2))
    raw = F.linear(a2, w3, b3)
    return F.softplus(raw[:, 0]), torch.sigmoid(raw[:, 1])


class LSTMState(NamedTuple):
    h: Tensor  # (3, B, H)
    c: Tensor  # (3, B, H)


class GuidedLSTMs(nn.Module):
    """The hydrology, vegetation and soil LSTMs (hidden 100, then linear), stored stacked.

    Gate order in the weights is (input, forget, output, cell candidate). One day of all three is
    one batched matmul over ``[h, inputs]`` and one sigmoid over all gates: the candidate gate's
    weights are doubled in :meth:`fused_weights` so that ``tanh(g) = 2 sigmoid(2g) - 1``.
    """

    def __init__(self, code_size: int = 12, hidden: int = 100):
        super().__init__()
        self.hidden = hidden
        in_mask = torch.stack([input_mask(n, code_size) for n in LSTM_NAMES])  # (3, n_in)
        n_in = in_mask.shape[1]
        n_out = max(len(NETWORK_OUTPUTS[n]) for n in LSTM_NAMES)
        out_mask = torch.tensor(
            [[1.0 if j < len(NETWORK_OUTPUTS[n]) else 0.0 for j in range(n_out)] for n in LSTM_NAMES]
        )
        g = 4 * hidden
        gate_scale = torch.ones(g)
        gate_scale[3 * hidden :] = 2.0
        self.register_buffer("in_mask", in_mask.unsqueeze(-1), persistent=False)
        self.register_buffer("out_mask", out_mask.unsqueeze(1), persistent=False)
        self.register_buffer("gate_scale", gate_scale, persistent=False)
        bound = 1.0 / math.sqrt(hidden)
        self.w_in = nn.Parameter(_uniform_(torch.empty(3, n_in, g), bound) * self.in_mask)
        self.w_h = nn.Parameter(_uniform_(torch.empty(3, hidden, g), bound))
        self.bias = nn.Parameter(_uniform_(torch.empty(3, 1, g), bound))
        self.w_out = nn.Parameter(_uniform_(torch.empty(3, hidden, n_out), bound) * self.out_mask)
        self.b_out = nn.Parameter(_uniform_(torch.empty(3, 1, n_out), bound) * self.out_mask)

    def fused_weights(self, code: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(W over [h, daily inputs], gate bias, head weight, head bias), guided and gate-scaled,
        for :func:`lstm_day`. Compute once per chunk of days, not per day.

        The static ``code`` (B, code_size) is the same every day, so its contribution to the
        gates is folded into a per-cell gate bias (3, B, 4H) here, and ``W`` only covers
        ``h`` and the daily inputs (the first ``n_inputs - code_size`` entries of the input
        vector): about a tenth fewer multiply-adds per day, forward and backward."""
        w = torch.cat([self.w_h, self.w_in * self.in_mask], dim=1) * self.gate_scale
        n_day = w.shape[1] - code.shape[-1]
        bias = torch.baddbmm(self.bias * self.gate_scale, code.expand(3, -1, -1), w[:, n_day:])
        return w[:, :n_day], bias, self.w_out * self.out_mask, self.b_out * self.out_mask

    def network_weights(self, index: int) -> dict[str, Tensor]:
        """One network's weights in standard LSTM form (input, hidden, bias, head), unscaled."""
        name = LSTM_NAMES[index]
        n = len(NETWORK_OUTPUTS[name])
        return {
            "w_in": (self.w_in * self.in_mask)[index],
            "w_h": self.w_h[index],
            "bias": self.bias[index, 0],
            "w_out": self.w_out[index, :, :n],
            "b_out": self.b_out[index, 0, :n],
        }


def lstm_day(u: Tensor, h: Tensor, c: Tensor, w: Tensor, b: Tensor, w_out: Tensor, b_out: Tensor):
    """One day of all three LSTMs with :meth:`GuidedLSTMs.fused_weights`: one batched matmul for
    the gates, one sigmoid, one batched matmul for the heads.

    u: (B, n_daily_inputs); h, c: (3, B, H). Returns (raw heads (3, B, n_out), h, c).
    """
    hsz = h.shape[-1]
    z = torch.cat([h, u.unsqueeze(0).expand(3, -1, -1)], dim=-1)
    sig = torch.sigmoid(torch.baddbmm(b, z, w))
    cand = sig[..., 3 * hsz :] * 2.0 - 1.0
    c = torch.addcmul(sig[..., hsz : 2 * hsz] * c, sig[..., :hsz], cand)
    h = sig[..., 2 * hsz : 3 * hsz] * fast_tanh(c)
    return torch.baddbmm(b_out, h, w_out), h, c
