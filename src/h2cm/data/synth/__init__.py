"""The twin world: ``h2cm synth --size tiny|demo|global --seed N --out CUBE``.

Real geography from installed packages, a vectorised weather generator, truth parameters that
the networks can learn, the model's own process equations for the daily truth, and observation
operators that mimic the real constraint products. See docs/data.md and docs/cli/synth.md.
"""

from __future__ import annotations

from .truth import TRUTH_CONSTANTS
from .world import SIZES, make_twin_world

__all__ = ["SIZES", "TRUTH_CONSTANTS", "make_twin_world"]
