"""What a run's models produce, and what evaluation leaves out for want of it.

The process models (hybrid, constant) produce every daily output of docs/cli/predict.md, the
static parameters and the global constants; the pure LSTM baseline (``model: lstm``) only the
variables it predicts (:data:`h2cm.baselines.LSTM_OUTPUT_KEYS`; a kind's ``outputs``). ``h2cm evaluate`` computes
everything it can from what the models produce and records each analysis it leaves out, with
the variables it would need, in ``summary.json`` (``not_evaluated``), ``metrics.md`` and the
report (:func:`not_evaluated_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..kinds import kind_label
from ..modelkind import ModelKind
from ..schema import CONSTANT_KEYS, STATIC_PARAMETER_KEYS
from .ensemble import ensemble_static_keys, select_outputs


@dataclass
class Coverage:
    """The model kind, its daily outputs and parameters (static ones and constants), and the
    analyses left out so far: ``{"what": ..., "missing": [keys], "whole": bool}`` (``whole``: the
    analysis was left out altogether, not only for the missing keys)."""

    kind: str
    outputs: tuple[str, ...]
    parameters: tuple[str, ...]
    skipped: list[dict] = field(default_factory=list)

    @classmethod
    def of(cls, models: Sequence[ModelKind]) -> Coverage:
        params = (*STATIC_PARAMETER_KEYS, *CONSTANT_KEYS) if ensemble_static_keys(models) else ()
        return cls(models[0].kind, select_outputs(models), params)

    def _missing(self, keys: Sequence[str]) -> list[str]:
        return [k for k in keys if k not in self.outputs and k not in self.parameters]

    def keep(self, what: str, keys: Sequence[str]) -> tuple[str, ...]:
        """Those of ``keys`` the models produce; if some are not, ``what`` is recorded as left
        out for want of them."""
        missing = self._missing(keys)
        kept = tuple(k for k in keys if k not in missing)
        if missing:
            self.skipped.append({"what": what, "missing": missing, "whole": not kept})
        return kept

    def has(self, what: str, keys: Sequence[str]) -> bool:
        """Whether the models produce every one of ``keys`` (if not, ``what`` is recorded as
        left out altogether)."""
        missing = self._missing(keys)
        if missing:
            self.skipped.append({"what": what, "missing": missing, "whole": True})
        return not missing

    def summary(self) -> dict:
        """The entries of ``summary.json``: model, outputs, parameters, not_evaluated."""
        return {
            "model": self.kind,
            "outputs": list(self.outputs),
            "parameters": list(self.parameters),
            "not_evaluated": self.skipped,
        }


def no_constants_text(info: dict) -> str:
    """Why ``constants.csv`` has no rows (from ``summary.json``)."""
    return f"a {kind_label(info.get('model', '?'))} has no learned global constants"


def not_evaluated_text(info: dict) -> tuple[str, list[str]]:
    """From ``summary.json``: a sentence on what the run's model produces and one line per
    analysis left out (``("", [])`` when nothing was)."""
    skipped = info.get("not_evaluated") or []
    if not skipped:
        return "", []
    intro = f"This run's model is a {kind_label(info.get('model', '?'))}"
    if info.get("outputs"):
        intro += f"; it predicts only {', '.join(info['outputs'])}"
    if not info.get("parameters"):
        intro += ", and has no parameters or constants"
    lines = [
        f"{s['what']} (needs {', '.join(s['missing'])})"
        if s.get("whole", True)
        else f"{s['what']}: {', '.join(s['missing'])} left out"
        for s in skipped
    ]
    return intro + ". Not evaluated for want of outputs it does not produce:", lines
