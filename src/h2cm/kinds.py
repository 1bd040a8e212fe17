"""The registry of model kinds: the one table of which kinds exist (name -> class).

Every kind is a :class:`~h2cm.modelkind.ModelKind`: the hybrid model (:class:`~h2cm.model.H2CM`),
the process model with constant parameters and the pure LSTM (:mod:`h2cm.baselines`). The run
config's ``model:`` is validated against :data:`MODEL_KINDS`; checkpoints build their model with
:func:`build_model` from the ``kind`` and ``model_kwargs`` they store; evaluation reads what a
model is from its class attributes (``kind``, ``label``, ``outputs``, ``has_process_model``).
A new kind is a ModelKind subclass and one entry of :data:`KINDS`.
"""

from __future__ import annotations

from typing import Any

from .baselines import ConstantModel, LSTMBaseline
from .model import H2CM
from .modelkind import ModelKind

KINDS: dict[str, type[ModelKind]] = {cls.kind: cls for cls in (H2CM, ConstantModel, LSTMBaseline)}
MODEL_KINDS: tuple[str, ...] = tuple(KINDS)
# what each kind is, in words (messages, evaluation summaries, reports)
MODEL_LABELS: dict[str, str] = {name: cls.label for name, cls in KINDS.items()}


def kind_class(kind: str) -> type[ModelKind]:
    """The class of ``kind``; ValueError naming the known kinds for any other name."""
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}") from None


def build_model(kind: str, **kwargs: Any) -> ModelKind:
    """A fresh model of ``kind`` from constructor arguments; arguments a kind does not use are
    ignored (a run config's network sizes suit every kind)."""
    return kind_class(kind)(**kwargs)


def kind_label(kind: str) -> str:
    """A model kind in words, e.g. ``pure LSTM baseline (model: lstm)``."""
    return f"{MODEL_LABELS.get(kind, kind)} (model: {kind})"
