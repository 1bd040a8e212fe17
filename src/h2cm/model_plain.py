"""The hybrid model evaluated the straightforward way: the reference path.

:func:`plain_forward` computes what :class:`h2cm.model.H2CM` computes, from the same weights,
without any of its speed-ups (docs/performance.md): per day, each network concatenates its own
inputs and runs its own small layers (no stacked LSTMs, no fused weights, no static code folded
into biases, no preallocated buffers, no chunking); outputs are collected in Python lists.
Tests compare the fast path with it, and ``h2cm bench`` reports the fast path's speed beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from . import physics
from .model import _PHYS, GW_SCALE, H2CM, SWE_SCALE, ModelState
from .modelkind import Simulation, resolve_outputs
from .networks import GUIDED_INPUTS, LEAKY_SLOPE, LSTM_NAMES, NETWORK_OUTPUTS, input_names
from .physics import DailyParams, DayForcing, WaterState


def plain_forward(
    model: H2CM,
    forcing: Tensor,
    static: Tensor,
    state: ModelState | None = None,
    spinup: bool = True,
    outputs: str | Sequence[str] = "all",
) -> Simulation:
    """``model(forcing, static, state, spinup, outputs)`` (:meth:`H2CM.forward`), evaluated the
    straightforward way (module docstring): the same outputs, state and gradients, slower."""
    model.check_inputs(forcing, static)
    keys = resolve_outputs(outputs)
    sp, code = model.static_parameters(static)
    k = model.constants()
    if state is None:
        state = model.initial_state(forcing.shape[1], forcing.device, forcing.dtype)
    if spinup:
        with torch.no_grad():
            _, state = _plain_loop(model, forcing, sp, code, k, state, ())
        state = state.detach()
    rows, state = _plain_loop(model, forcing, sp, code, k, state, keys)
    return Simulation({key: rows[key] for key in keys}, state, sp, k)


def _network_weights(model: H2CM):
    """Each LSTM's (name, input indices, W_ih, W_hh, bias, head weight, head bias) in standard
    (transposed) form, and the coupling net's input indices and first-layer weight."""
    names = input_names(model.code_size)
    nets = []
    for i, name in enumerate(LSTM_NAMES):
        idx = _allowed_indices(name, names)
        w = model.lstms.network_weights(i)
        nets.append((name, idx, w["w_in"][idx].t(), w["w_h"].t(), w["bias"], w["w_out"].t(), w["b_out"]))
    c_idx = _allowed_indices("coupling", names)
    return nets, c_idx, model.coupling.masked_weight()[c_idx].t()


def _plain_loop(model: H2CM, forcing, sp, code, k, state, keys):
    nets, c_idx, c_w = _network_weights(model)
    z = model.zscore_forcing(forcing)
    hsz = model.lstms.hidden
    h = [state.h[i] for i in range(3)]
    c = [state.c[i] for i in range(3)]
    swe, sm, gw, fapar, npp = state.swe, state.sm, state.gw, state.fapar, state.npp
    collected: dict[str, list[Tensor]] = {key: [] for key in keys}
    for t in range(forcing.shape[0]):
        states = torch.stack([sm / sp.smmax, swe * SWE_SCALE, gw * GW_SCALE, fapar, npp], dim=-1)
        u = torch.cat([states, z[t], code], dim=-1)
        res = {}
        for i, (name, idx, w_ih, w_hh, b, w_o, b_o) in enumerate(nets):
            gates = F.linear(u[:, idx], w_ih) + F.linear(h[i], w_hh) + b
            ig = torch.sigmoid(gates[:, :hsz])
            fg = torch.sigmoid(gates[:, hsz : 2 * hsz])
            og = torch.sigmoid(gates[:, 2 * hsz : 3 * hsz])
            gg = torch.tanh(gates[:, 3 * hsz :])
            c[i] = fg * c[i] + ig * gg
            h[i] = og * torch.tanh(c[i])
            raw = F.linear(h[i], w_o, b_o)
            for j, (pname, act) in enumerate(NETWORK_OUTPUTS[name]):
                res[pname] = F.softplus(raw[:, j]) if act == "softplus" else torch.sigmoid(raw[:, j])
        a1 = F.leaky_relu(F.linear(u[:, c_idx], c_w, model.coupling.b1), LEAKY_SLOPE)
        a2 = F.leaky_relu(model.coupling.fc2(a1), LEAKY_SLOPE)
        rc = model.coupling.fc3(a2)
        res["alpha_wue"], res["alpha_t"] = F.softplus(rc[:, 0]), torch.sigmoid(rc[:, 1])
        params = DailyParams(**{f: res[f] for f in DailyParams._fields})
        frc = DayForcing(*(forcing[t][:, _PHYS[n]] for n in ("rn", "prec", "tair", "co2")))
        water, fluxes = physics.day_step(WaterState(swe, sm, gw), frc, params, sp, k)
        swe, sm, gw = water
        fapar, npp = params.fapar, fluxes["npp"]
        for key in keys:
            collected[key].append(fluxes[key] if key in fluxes else res[key])
    outs = {key: torch.stack(v) for key, v in collected.items()}
    return outs, ModelState(swe, sm, gw, fapar, npp, torch.stack(h), torch.stack(c))


def _allowed_indices(network: str, names: tuple[str, ...]) -> list[int]:
    allow = set(GUIDED_INPUTS[network])
    return [i for i, n in enumerate(names) if n in allow or (n.startswith("code") and "code" in allow)]
