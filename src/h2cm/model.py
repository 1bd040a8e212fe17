"""The hybrid model: networks -> parameters -> process model, run day by day.

:class:`ProcessModel` is the driver shared by the kinds with a process model (this hybrid model
and the constant-parameter baseline, :mod:`h2cm.baselines`): inputs, spin-up, outputs; each
kind supplies its static parameters and its ``_run`` over a chunk of days. The straightforward
per-day evaluation of the same hybrid model, the reference of tests and ``h2cm bench``, is
:func:`h2cm.model_plain.plain_forward`.

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
from abc import abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from . import physics
from .modelkind import ModelKind, Simulation, resolve_outputs  # the latter two importable here as before
from .networks import (
    LSTM_HEADS,
    CouplingNet,
    GlobalConstants,
    GuidedLSTMs,
    StaticNet,
    coupling_day,
    lstm_day,
)
from .physics import Constants, DailyParams, DayForcing, ForcingTerms, StaticParams, WaterState
from .schema import FORCING_KEYS, OUTPUT_KEYS

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


class ProcessModel(ModelKind):
    """The driver shared by the kinds with a process model: inputs, spin-up, outputs.

    A subclass has ``constants`` (a :class:`~h2cm.networks.GlobalConstants`) and supplies
    :meth:`static_parameters` and ``_run(forcing, sp, code, k, state, keys, chunk_days) ->
    ((days, n_keys, cells) outputs, final state)``."""

    outputs = OUTPUT_KEYS
    has_process_model = True
    constants: GlobalConstants

    @abstractmethod
    def static_parameters(self, static: Tensor) -> tuple[StaticParams, Tensor]:
        """(SMmax, alpha_Ei) of every cell and the static ``code`` the networks read."""

    @abstractmethod
    def _run(self, forcing, sp, code, k, state, keys, chunk_days) -> tuple[Tensor, ModelState]:
        """Run the days of ``forcing`` from ``state``: ((days, n_keys, cells) outputs, final state)."""

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
        self.check_inputs(forcing, static)
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
        self.check_inputs(forcing, static)
        sp, code = self.static_parameters(static)
        if state is None:
            state = self.initial_state(forcing.shape[1], forcing.device, forcing.dtype)
        return self.spinup(forcing, sp, code, self.constants(), state)

    @torch.no_grad()
    def spinup(self, forcing: Tensor, sp: StaticParams, code: Tensor, k: Constants, state: ModelState):
        """Run the whole period once without gradients; return its (detached) final state. A
        compiled loop computes the loss outputs and drops them, so that it runs the validation's
        graph instead of compiling one more without outputs; an eager one computes none."""
        compiled = self.__dict__.get("_compiled_block") is not None
        _, final = self._run(forcing, sp, code, k, state, resolve_outputs("loss") if compiled else (), None)
        return final.detach()


class H2CM(ProcessModel):
    """The hybrid hydrological-carbon cycle model."""

    kind = "hybrid"
    label = "hybrid model"

    def __init__(self, n_static: int = 30, lstm_hidden: int = 100, fc_hidden: int = 150, code_size: int = 12):
        super().__init__(n_static, lstm_hidden=lstm_hidden, fc_hidden=fc_hidden, code_size=code_size)
        self.code_size = code_size
        self.static_net = StaticNet(n_static, fc_hidden, code_size)
        self.lstms = GuidedLSTMs(code_size, lstm_hidden)
        self.coupling = CouplingNet(code_size, fc_hidden, code_size)
        self.constants = GlobalConstants()

    def initial_state(self, batch: int, device=None, dtype=torch.float32) -> ModelState:
        return initial_model_state(batch, self.lstms.hidden, device, dtype)

    def static_parameters(self, static: Tensor) -> tuple[StaticParams, Tensor]:
        """(SMmax, alpha_Ei) and the 12-number ``code`` of every cell."""
        return self.static_net(self.zscore_static(static))

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
        if self.__dict__.get("_compiled_block") is not None:  # compiled: whole blocks of days, the rest eager
            carry = compiled_carry(carry, (*weights, *sp, *k))
            steps = day_blocks(self, hybrid_days, (exo, *terms))
        else:  # eager: one day per call (unbind, not exo[t]: one backward node instead of one per day)
            steps = ((_one_day, p) for p in zip(exo.unbind(0), *(x.unbind(0) for x in terms), strict=True))
        t0 = 0
        for step, (exo_p, *terms_p) in steps:
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
    model.__dict__["_compiled_block"] = _owned_outputs(compiled) if mode == "reduce-overhead" else compiled
    model.__dict__["_block_days"] = int(block_days)
    return True


def day_blocks(model: nn.Module, eager, series: Sequence[Tensor]):
    """``(function, pieces)`` for each block of a compiled daily loop: the compiled block for
    every whole block of ``model._block_days`` days of ``series`` (tensors with the days as
    leading dimension), ``eager`` (the same function, not compiled) for the remaining days. So a
    run compiles one shape per mode (with and without gradients), whatever its length."""
    block, n = model.__dict__["_compiled_block"], model.__dict__["_block_days"]
    days = series[0].shape[0]
    whole = days - days % n
    # split, not a slice per block: one backward node per series, whatever the number of blocks;
    # none for a series shorter than a block (split would give one empty piece)
    if whole:
        for piece in zip(*(x[:whole].split(n) for x in series), strict=True):
            yield block, list(piece)
    if whole < days:
        yield eager, [x[whole:] for x in series]


def compiled_carry(carry: tuple[Tensor, ...], weights: Sequence[Tensor]) -> tuple[Tensor, ...]:
    """The state entering a compiled loop whose ``weights`` take gradients: each field requires
    grad (a fresh leaf where it did not), as it does between blocks, so the first block is not a
    second compiled variant (the compiler specialises on ``requires_grad``). Otherwise detached
    (a checkpointed chunk's first pass runs without grad on a state that requires it)."""
    if not (torch.is_grad_enabled() and any(w.requires_grad for w in weights)):
        return tuple(t.detach() for t in carry)
    return tuple(t if t.requires_grad else t.detach().requires_grad_(True) for t in carry)


def _owned_outputs(block):
    """A CUDA-graph block whose outputs are copies: a graph's outputs live in its static memory,
    which the next replay overwrites, while the day loop feeds each block's state to the next one
    and keeps every block's outputs."""

    def call(*args):
        carry, values = block(*args)
        return tuple(t.clone() for t in carry), None if values is None else values.clone()

    return call


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
    act = {"sigmoid": torch.sigmoid(raw), "softplus": F.softplus(raw)}
    alpha_wue, alpha_t = coupling_day(u, nw.w1, nw.b1, nw.w2, nw.b2, nw.w3, nw.b3)
    heads = {name: act[a][i, :, j] for name, (i, j, a) in LSTM_HEADS.items()}
    params = DailyParams(alpha_wue=alpha_wue, alpha_t=alpha_t, **heads)
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


def _collect(keys: tuple[str, ...], fluxes: dict[str, Tensor], params: DailyParams) -> list[Tensor]:
    return [fluxes[key] if key in fluxes else getattr(params, key) for key in keys]
