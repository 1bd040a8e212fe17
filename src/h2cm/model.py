"""The hybrid model: networks -> parameters -> process model, run day by day.

Data layout (all ``float32``): forcing ``(days, cells, 5)`` in physical units and the order of
:data:`h2cm.schema.FORCING_KEYS`; static inputs ``(cells, n_static)`` in physical units. The model
z-scores them itself with statistics stored as buffers next to its weights.

Speed (see docs/performance.md): the guided, stacked weights are prepared once per chunk of days;
each day then costs one batched matmul for the gates of the three LSTMs, one for their heads,
three small ones for the coupling net, and the elementwise process model. Without gradients,
outputs go into a preallocated buffer. With
gradients and ``chunk_days`` shorter than the run, each chunk is checkpointed: its forward pass
runs without autograd bookkeeping and is recomputed during the backward pass, so memory grows
with the chunk, not with the run.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from . import physics
from .networks import (
    GUIDED_INPUTS,
    LEAKY_SLOPE,
    LSTM_NAMES,
    NETWORK_OUTPUTS,
    CouplingNet,
    GlobalConstants,
    GuidedLSTMs,
    StaticNet,
    coupling_day,
    input_names,
    lstm_day,
)
from .physics import Constants, DailyParams, DayForcing, ForcingTerms, StaticParams, WaterState
from .schema import FORCING_KEYS, LOSS_OUTPUT_KEYS, OUTPUT_KEYS

INITIAL_NPP = 1.1738447874691162  # gC m-2 d-1, TRENDY v11 global median, the authors' value (docs/model.md)
SWE_SCALE = 0.01  # 1 / 100 mm
GW_SCALE = 0.005  # 1 / 200 mm
_PHYS = {k: i for i, k in enumerate(FORCING_KEYS)}


class ModelState(NamedTuple):
    """Everything carried from one day to the next: process states and LSTM memory."""

    swe: Tensor  # (B,) mm
    sm: Tensor  # (B,) mm
    gw: Tensor  # (B,) mm
    fapar: Tensor  # (B,) previous day's fAPAR
    npp: Tensor  # (B,) previous day's NPP, gC m-2 d-1
    h: Tensor  # (3, B, H) LSTM hidden states (hydrology, vegetation, soil)
    c: Tensor  # (3, B, H) LSTM cell states

    def detach(self) -> ModelState:
        return ModelState(*(t.detach() for t in self))

    def select(self, index: Tensor | slice) -> ModelState:
        """The state of a subset of cells."""
        return ModelState(*(t[index] for t in self[:5]), self.h[:, index], self.c[:, index])


def initial_model_state(batch: int, hidden: int, device=None, dtype=torch.float32) -> ModelState:
    """The spec's initial state: empty stores, no vegetation, NPP ``INITIAL_NPP``, LSTM memory 0 (width ``hidden``)."""
    z = torch.zeros(batch, device=device, dtype=dtype)
    hz = torch.zeros(3, batch, hidden, device=device, dtype=dtype)
    return ModelState(z, z.clone(), z.clone(), z.clone(), torch.full_like(z, INITIAL_NPP), hz, hz.clone())


@dataclass
class Simulation:
    """What one run returns: daily outputs ``(days, cells)``, the final state, and parameters."""

    outputs: dict[str, Tensor]
    state: ModelState
    static: StaticParams
    constants: Constants


def resolve_outputs(outputs: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"`` (every daily output in `h2cm.schema.OUTPUTS`), ``"loss"`` (what training reads), or names."""
    if outputs == "all":
        return OUTPUT_KEYS
    if outputs == "loss":
        return LOSS_OUTPUT_KEYS
    if isinstance(outputs, str):
        outputs = (outputs,)
    unknown = [k for k in outputs if k not in OUTPUT_KEYS]
    if unknown:
        raise ValueError(f"unknown output variable(s) {unknown}; known: {', '.join(OUTPUT_KEYS)}")
    return tuple(outputs)


class H2CM(nn.Module):
    """The hybrid hydrological-carbon cycle model."""

    def __init__(self, n_static: int = 30, lstm_hidden: int = 100, fc_hidden: int = 150, code_size: int = 12):
        super().__init__()
        self.n_static = n_static
        self.code_size = code_size
        self.static_net = StaticNet(n_static, fc_hidden, code_size)
        self.lstms = GuidedLSTMs(code_size, lstm_hidden)
        self.coupling = CouplingNet(code_size, fc_hidden, code_size)
        self.constants = GlobalConstants()
        self.register_buffer("forcing_mean", torch.zeros(len(FORCING_KEYS)))
        self.register_buffer("forcing_std", torch.ones(len(FORCING_KEYS)))
        self.register_buffer("static_mean", torch.zeros(n_static))
        self.register_buffer("static_std", torch.ones(n_static))

    # --- normalisation ------------------------------------------------------------------------

    def set_normalization(self, forcing_mean, forcing_std, static_mean, static_std) -> None:
        """Store z-score statistics (training cells) as buffers; they are saved with the weights."""
        for name, value, n in (
            ("forcing_mean", forcing_mean, len(FORCING_KEYS)),
            ("forcing_std", forcing_std, len(FORCING_KEYS)),
            ("static_mean", static_mean, self.n_static),
            ("static_std", static_std, self.n_static),
        ):
            t = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
            if t.numel() != n:
                raise ValueError(f"{name}: expected {n} values, got {t.numel()}")
            if not torch.isfinite(t).all():
                raise ValueError(f"{name}: contains non-finite values")
            if name.endswith("std"):
                t = torch.where(t > 0, t, torch.ones_like(t))
            getattr(self, name).copy_(t)

    def zscore_static(self, static: Tensor) -> Tensor:
        """z-scored static inputs; missing values (NaN) become the training mean (0)."""
        return torch.nan_to_num((static - self.static_mean) / self.static_std, nan=0.0)

    def zscore_forcing(self, forcing: Tensor) -> Tensor:
        return (forcing - self.forcing_mean) / self.forcing_std

    # --- states -------------------------------------------------------------------------------

    def initial_state(self, batch: int, device=None, dtype=torch.float32) -> ModelState:
        return initial_model_state(batch, self.lstms.hidden, device, dtype)

    def static_parameters(self, static: Tensor) -> tuple[StaticParams, Tensor]:
        """(SMmax, alpha_Ei) and the 12-number ``code`` of every cell."""
        return self.static_net(self.zscore_static(static))

    # --- running ------------------------------------------------------------------------------

    def _check_inputs(self, forcing: Tensor, static: Tensor) -> None:
        if forcing.dim() != 3 or forcing.shape[-1] != len(FORCING_KEYS):
            raise ValueError(
                f"forcing: expected shape (days, cells, {len(FORCING_KEYS)}) with variables "
                f"{FORCING_KEYS}, got {tuple(forcing.shape)}"
            )
        if static.dim() != 2 or static.shape[-1] != self.n_static or static.shape[0] != forcing.shape[1]:
            raise ValueError(
                f"static: expected shape ({forcing.shape[1]}, {self.n_static}) (cells, features), "
                f"got {tuple(static.shape)}"
            )

    def forward(
        self,
        forcing: Tensor,
        static: Tensor,
        state: ModelState | None = None,
        spinup: bool = True,
        outputs: str | Sequence[str] = "all",
        chunk_days: int | None = 365,
    ) -> Simulation:
        """Run the daily loop.

        forcing: ``(days, cells, 5)``; static: ``(cells, n_static)``.
        state: initial state (default: the spec's initial state). spinup: first run the whole
        period once without gradients from ``state`` and start from its final state.
        outputs: ``"all"``, ``"loss"`` or a list of names. chunk_days: with gradients, days per
        checkpointed chunk (``None``: store everything).
        """
        self._check_inputs(forcing, static)
        keys = resolve_outputs(outputs)
        sp, code = self.static_parameters(static)
        k = self.constants()
        if state is None:
            state = self.initial_state(forcing.shape[1], forcing.device, forcing.dtype)
        if spinup:
            state = self.spinup(forcing, sp, code, k, state)
        out, state = self._run(forcing, sp, code, k, state, keys, chunk_days)
        return Simulation({key: out[:, j] for j, key in enumerate(keys)}, state, sp, k)

    @torch.no_grad()
    def spinup_state(self, forcing: Tensor, static: Tensor, state: ModelState | None = None) -> ModelState:
        """The state after one pass over the period without gradients, from ``state`` (default:
        the initial state): what ``forward(..., spinup=True)`` starts its run from."""
        self._check_inputs(forcing, static)
        sp, code = self.static_parameters(static)
        if state is None:
            state = self.initial_state(forcing.shape[1], forcing.device, forcing.dtype)
        return self.spinup(forcing, sp, code, self.constants(), state)

    @torch.no_grad()
    def spinup(self, forcing: Tensor, sp: StaticParams, code: Tensor, k: Constants, state: ModelState):
        """Run the whole period once without gradients; return its (detached) final state."""
        _, final = self._run(forcing, sp, code, k, state, (), None)
        return final.detach()

    def _run(self, forcing, sp, code, k, state, keys, chunk_days):
        days = forcing.shape[0]
        step = days if not chunk_days else max(1, int(chunk_days))
        needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (*sp, code, *k, *self.parameters()))
        if not needs_grad:
            buf = forcing.new_empty(days, len(keys), forcing.shape[1])
            for t0 in range(0, days, step):
                _, state = self._chunk(forcing[t0 : t0 + step], sp, code, k, state, keys, buf[t0 : t0 + step])
            return buf, state
        if step >= days:  # one chunk: plain autograd, store everything
            return self._chunk(forcing, sp, code, k, state, keys, None)
        pieces = []
        for t0 in range(0, days, step):
            piece, state = self._checkpointed_chunk(forcing[t0 : t0 + step], sp, code, k, state, keys)
            pieces.append(piece)
        return torch.cat(pieces), state

    def _checkpointed_chunk(self, forcing, sp, code, k, state, keys):
        n_sp, n_k = len(sp), len(k)

        def fn(frc, code_, *rest):
            sp_ = StaticParams(*rest[:n_sp])
            k_ = Constants(*rest[n_sp : n_sp + n_k])
            st = ModelState(*rest[n_sp + n_k :])
            out, new = self._chunk(frc, sp_, code_, k_, st, keys, None if torch.is_grad_enabled() else "alloc")
            return (out, *new)

        res = checkpoint(fn, forcing, code, *sp, *k, *state, use_reentrant=True)
        return res[0], ModelState(*res[1:])

    def _chunk(self, forcing, sp, code, k, state, keys, out):
        """Run one chunk of days. ``out``: a preallocated (days, n_out, B) buffer, "alloc" to make
        one, or None to collect with autograd (grad mode)."""
        days, batch = forcing.shape[0], forcing.shape[1]
        exo = self.zscore_forcing(forcing)
        phys = DayForcing(*(forcing[..., _PHYS[n]] for n in ("rn", "prec", "tair", "co2")))
        terms = physics.forcing_terms(phys, k)
        weights = DayWeights(*self.lstms.fused_weights(code), *self.coupling.fused_weights(code))
        if isinstance(out, str):
            out = forcing.new_empty(days, len(keys), batch)
        rows = [] if out is None else None
        carry = tuple(state)
        block = self.__dict__.get("_compiled_block")
        if block is not None:  # compiled: blocks of days (split: one backward node, no per-day slices)
            n = self.__dict__["_block_days"]
            step, pieces = block, zip(exo.split(n), *(x.split(n) for x in terms), strict=True)
        else:  # eager: one day per call (unbind, not exo[t]: one backward node instead of one per day)
            step, pieces = _one_day, zip(exo.unbind(0), *(x.unbind(0) for x in terms), strict=True)
        t0 = 0
        for exo_p, *terms_p in pieces:
            carry, values = step(carry, exo_p, ForcingTerms(*terms_p), weights, sp, k, keys)
            if keys:
                if out is None:
                    rows.append(values)
                else:
                    out[t0 : t0 + values.shape[0]] = values
                t0 += values.shape[0]
        if out is None:
            out = torch.cat(rows) if rows else forcing.new_empty(days, 0, batch)
        return out, ModelState(*carry)

    # --- compilation --------------------------------------------------------------------------

    def compile_day(self, enabled: bool = True, block_days: int = 4, mode: str | None = None) -> bool:
        """Run the daily loop through ``torch.compile``: ``block_days`` consecutive days per
        compiled call (one fused graph for their ~100 small operations each, forward and backward).

        Returns whether compilation is active. Compilation happens lazily on the first calls
        (tens of seconds; cached on disk by inductor afterwards); shapes are static, so a run
        compiles a few variants (with and without gradients, the first block, a shorter last
        block). If the compiler is unavailable the model stays eager. On CUDA,
        ``mode="reduce-overhead"`` also captures each block in a CUDA graph.
        """
        return _compile_blocks(self, hybrid_days, enabled, block_days, mode)

    # --- the straightforward reference path --------------------------------------------------

    def plain_forward(
        self,
        forcing: Tensor,
        static: Tensor,
        state: ModelState | None = None,
        spinup: bool = True,
        outputs: str | Sequence[str] = "all",
    ) -> Simulation:
        """The same model evaluated the straightforward way: per day, each network concatenates
        its own inputs and runs its own small layers; outputs are collected in Python lists.

        Used as the reference for correctness tests and as the baseline in ``h2cm bench``.
        """
        self._check_inputs(forcing, static)
        keys = resolve_outputs(outputs)
        sp, code = self.static_parameters(static)
        k = self.constants()
        if state is None:
            state = self.initial_state(forcing.shape[1], forcing.device, forcing.dtype)
        if spinup:
            with torch.no_grad():
                _, state = self._plain_loop(forcing, sp, code, k, state, ())
            state = state.detach()
        rows, state = self._plain_loop(forcing, sp, code, k, state, keys)
        return Simulation({key: rows[key] for key in keys}, state, sp, k)

    def _plain_loop(self, forcing, sp, code, k, state, keys):
        names = input_names(self.code_size)
        z = self.zscore_forcing(forcing)
        nets = []
        for i, name in enumerate(LSTM_NAMES):
            idx = _allowed_indices(name, names)
            w = self.lstms.network_weights(i)
            nets.append((name, idx, w["w_in"][idx].t(), w["w_h"].t(), w["bias"], w["w_out"].t(), w["b_out"]))
        c_idx = _allowed_indices("coupling", names)
        c_w = self.coupling.masked_weight()[c_idx].t()
        hsz = self.lstms.hidden
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
            a1 = F.leaky_relu(F.linear(u[:, c_idx], c_w, self.coupling.b1), LEAKY_SLOPE)
            a2 = F.leaky_relu(self.coupling.fc2(a1), LEAKY_SLOPE)
            rc = self.coupling.fc3(a2)
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


def _compile_blocks(model: nn.Module, fn, enabled: bool, block_days: int, mode: str | None) -> bool:
    """Make ``model`` run its daily loop through ``torch.compile(fn)`` in blocks of ``block_days``
    days (or eager again with ``enabled=False``); False, with a warning, without a compiler."""
    model.__dict__.pop("_compiled_block", None)
    if not enabled:
        return False
    if block_days < 1:
        raise ValueError(f"block_days: expected a positive number of days, got {block_days}")
    device = next(model.parameters()).device
    try:
        import torch._dynamo

        _compiler_smoke_test(device)  # fails here, not in the middle of training, without a compiler
        # grad on/off x first block (state without grad) x last block x output sets
        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
        compiled = torch.compile(fn, dynamic=False, fullgraph=True, mode=mode)
    except Exception as err:  # noqa: BLE001 - any compiler failure: stay eager, say why
        warnings.warn(
            f"torch.compile is unavailable on {device.type} ({type(err).__name__}: {err}); running eagerly",
            stacklevel=3,
        )
        return False
    model.__dict__["_compiled_block"] = compiled
    model.__dict__["_block_days"] = int(block_days)
    return True


def _compiler_smoke_test(device) -> None:
    """Compile and run a two-operation function forward and backward on ``device``: raises if the
    platform cannot compile (no C++ compiler for inductor on CPU, no Triton on a GPU)."""
    x = torch.ones(4, device=device, requires_grad=True)
    torch.compile(_smoke, fullgraph=True)(x).sum().backward()


def _smoke(x: Tensor) -> Tensor:
    return torch.sigmoid(x) * 2.0 + 1.0


class DayWeights(NamedTuple):
    """Guided, fused network weights for one chunk of days (see :mod:`h2cm.networks`)."""

    w: Tensor
    b: Tensor
    w_out: Tensor
    b_out: Tensor
    w1: Tensor
    b1: Tensor
    w2: Tensor
    b2: Tensor
    w3: Tensor
    b3: Tensor


def hybrid_day(carry, exo_t: Tensor, terms: ForcingTerms, nw: DayWeights, sp: StaticParams, k: Constants, keys):
    """One day of the hybrid model: networks (from yesterday's states) -> parameters -> physics.

    carry: the fields of :class:`ModelState` as a tuple; exo_t: (B, 5) z-scored forcing (the
    static code enters through the per-cell biases in ``nw``); terms: the day's forcing-only
    physics terms (computed for a whole chunk at once). Returns (new carry, (n_keys, B) outputs).
    A pure function of tensors, so it can be compiled as one graph.
    """
    swe, sm, gw, fapar, npp, h, c = carry
    sm_rel = sm / sp.smmax
    s = torch.stack([sm_rel, swe * SWE_SCALE, gw * GW_SCALE, fapar, npp], dim=-1)
    u = torch.cat([s, exo_t], dim=-1)
    raw, h, c = lstm_day(u, h, c, nw.w, nw.b, nw.w_out, nw.b_out)
    sig = torch.sigmoid(raw)
    spl = F.softplus(raw)
    alpha_wue, alpha_t = coupling_day(u, nw.w1, nw.b1, nw.w2, nw.b2, nw.w3, nw.b3)
    params = DailyParams(
        alpha_smelt=spl[0, :, 0],
        alpha_rsoil=sig[0, :, 1],
        alpha_rgw=sig[0, :, 2],
        alpha_t=alpha_t,
        alpha_es=sig[2, :, 1],
        alpha_wue=alpha_wue,
        cue=sig[1, :, 0],
        rb=spl[2, :, 0],
        fapar=sig[1, :, 1],
    )
    water, fluxes = physics.day_step_terms(WaterState(swe, sm, gw), terms, params, sp, k)
    values = torch.stack(_collect(keys, fluxes, params)) if keys else None
    # fAPAR is a strided view of the heads' output; carry a contiguous copy so that every day sees
    # inputs of the same layout (a compiled step would otherwise specialise on the first day's)
    return (water.swe, water.sm, water.gw, params.fapar.contiguous(), fluxes["npp"], h, c), values


def _one_day(carry, exo_t: Tensor, terms: ForcingTerms, nw: DayWeights, sp: StaticParams, k: Constants, keys):
    """:func:`hybrid_day` with its outputs as a block of one day, ``(1, n_keys, B)``."""
    carry, values = hybrid_day(carry, exo_t, terms, nw, sp, k, keys)
    return carry, (values.unsqueeze(0) if keys else None)


def hybrid_days(carry, exo: Tensor, terms: ForcingTerms, nw: DayWeights, sp: StaticParams, k: Constants, keys):
    """Consecutive days of :func:`hybrid_day`; ``exo`` and the fields of ``terms`` have the days
    as leading dimension. Returns (new carry, (days, n_keys, B) outputs or None). The unit that
    :meth:`H2CM.compile_day` compiles: a block of days is one graph, so the per-call overhead of a
    compiled function is paid once per block, not once per day."""
    rows = []
    for exo_t, *terms_t in zip(exo.unbind(0), *(x.unbind(0) for x in terms), strict=True):
        carry, values = hybrid_day(carry, exo_t, ForcingTerms(*terms_t), nw, sp, k, keys)
        rows.append(values)
    return carry, (torch.stack(rows) if keys else None)


def _allowed_indices(network: str, names: tuple[str, ...]) -> list[int]:
    allow = set(GUIDED_INPUTS[network])
    return [i for i, n in enumerate(names) if n in allow or (n.startswith("code") and "code" in allow)]


def _collect(keys: tuple[str, ...], fluxes: dict[str, Tensor], params: DailyParams) -> list[Tensor]:
    return [fluxes[key] if key in fluxes else getattr(params, key) for key in keys]
