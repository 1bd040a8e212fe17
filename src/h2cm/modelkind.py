"""What every model kind is (hybrid, constant, lstm; the registry is :mod:`h2cm.kinds`).

A model kind is an ``nn.Module`` subclass of :class:`ModelKind`. It states, as class attributes,
its registry name (``kind``), what it is in words (``label``), the daily outputs it produces
(``outputs``, keys of :data:`h2cm.schema.OUTPUT_KEYS`) and whether it has the process model's
static parameters and global constants (``has_process_model``). Every instance

* keeps the constructor arguments it was built with (:meth:`ModelKind.init_kwargs`, what a
  checkpoint stores to build it again);
* z-scores its inputs with statistics stored as buffers beside its weights
  (:meth:`ModelKind.set_normalization`; forcing ``(days, cells, 5)`` in the order of
  :data:`h2cm.schema.FORCING_KEYS`, static inputs ``(cells, n_static)``, both in physical units);
* runs as ``forward(forcing, static, state=None, spinup=True, outputs="all", chunk_days=365)``
  and returns a :class:`Simulation`; ``initial_state`` and ``spinup_state`` give the state a
  run starts from.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .physics import Constants, StaticParams
from .schema import FORCING_KEYS, LOSS_OUTPUT_KEYS, OUTPUT_KEYS

# a model's state between days: a tuple of tensors (the process models' ModelState, the LSTM's (h, c))
State = tuple[Tensor, ...]


@dataclass
class Simulation:
    """What one run returns: daily outputs ``(days, cells)`` (the keys the model was asked for
    and produces), the final state, and, for the kinds with a process model, its static
    parameters and global constants (``None`` for the pure LSTM)."""

    outputs: dict[str, Tensor]
    state: State
    static: StaticParams | None = None
    constants: Constants | None = None


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


class ModelKind(nn.Module, ABC):
    """The interface of every model kind, and the normalisation buffers they share."""

    kind: ClassVar[str]  # registry name (the run config's ``model:``)
    label: ClassVar[str]  # what it is, in words
    outputs: ClassVar[tuple[str, ...]]  # the daily outputs it produces
    has_process_model: ClassVar[bool]  # static parameters and global constants

    def __init__(self, n_static: int, **kwargs: Any):
        """``n_static`` and ``kwargs``: the constructor arguments the kind uses (kept for
        :meth:`init_kwargs`)."""
        super().__init__()
        self.n_static = n_static
        self._init_kwargs = {"n_static": n_static, **kwargs}
        self.register_buffer("forcing_mean", torch.zeros(len(FORCING_KEYS)))
        self.register_buffer("forcing_std", torch.ones(len(FORCING_KEYS)))
        self.register_buffer("static_mean", torch.zeros(n_static))
        self.register_buffer("static_std", torch.ones(n_static))

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments (stored in checkpoints; ``build_model(kind, **init_kwargs())``)."""
        return dict(self._init_kwargs)

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

    def check_inputs(self, forcing: Tensor, static: Tensor) -> None:
        """ValueError unless forcing is ``(days, cells, 5)`` and static ``(cells, n_static)``."""
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

    # --- running ------------------------------------------------------------------------------

    @abstractmethod
    def initial_state(self, batch: int, device=None, dtype=torch.float32) -> State:
        """The state a run starts from without spin-up, for ``batch`` cells."""

    @abstractmethod
    def spinup_state(self, forcing: Tensor, static: Tensor, state: State | None = None) -> State:
        """The state after one pass over the period without gradients, from ``state`` (default:
        :meth:`initial_state`): what ``forward(..., spinup=True)`` starts its run from."""

    @abstractmethod
    def forward(
        self,
        forcing: Tensor,
        static: Tensor,
        state: State | None = None,
        spinup: bool = True,
        outputs: str | Sequence[str] = "all",
        chunk_days: int | None = 365,
    ) -> Simulation:
        """Run the model over ``forcing`` ``(days, cells, 5)`` and ``static`` ``(cells, n_static)``."""

    def compile_day(self, enabled: bool = True, block_days: int = 4, mode: str | None = None) -> bool:
        """Run the daily loop through ``torch.compile`` where the kind supports it; returns
        whether compilation is active (never, unless a kind overrides this)."""
        return False
