"""Problems found in a cube: one record each, the error that carries them, and their text.

The bottom of the data floor: the checks (:mod:`.check`, :mod:`.check_store`, :mod:`.check_files`)
make :class:`Problem` records, writers raise :class:`CubeError` with them (nothing written), and
``h2cm check`` prints them with :func:`format_problems`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    severity: Severity
    variable: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.variable}: {self.message}"


class CubeError(ValueError):
    """A cube failed validation; ``problems`` lists every :class:`h2cm.data.check.Problem`."""

    def __init__(self, message: str, problems: Sequence = ()):
        super().__init__(message)
        self.problems = list(problems)


def raise_on_errors(problems: Sequence, what: str) -> None:
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        lines = "\n".join(f"  {p}" for p in errors)
        raise CubeError(f"{what}: {len(errors)} error(s); nothing written:\n{lines}", problems)


def format_problems(problems: list[Problem], source: str) -> str:
    n_err = sum(p.severity == "error" for p in problems)
    n_warn = len(problems) - n_err
    lines = [str(p) for p in problems]
    verdict = "INVALID" if n_err else "OK"
    lines.append(f"{source}: {verdict} ({n_err} error(s), {n_warn} warning(s))")
    return "\n".join(lines)
