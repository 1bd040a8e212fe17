"""``h2cm simulate``: run the model (random or trained weights) and print a summary.

Until a cube and a trained run are at hand this runs on generated forcing, which makes it the
quickest check that an installation works.
"""

from __future__ import annotations

import time

import torch

from . import runtime
from .model import H2CM
from .schema import cf_attrs
from .toy import toy_inputs, toy_model_statistics


def simulate_toy(cells: int = 64, days: int = 730, seed: int = 0, threads: int | None = None):
    """Simulate ``cells`` x ``days`` on generated forcing with freshly initialised weights."""
    runtime.configure(threads=threads, seed=seed)
    forcing, static = toy_inputs(days, cells, seed=seed)
    model = H2CM(n_static=static.shape[1])
    model.set_normalization(*toy_model_statistics(forcing, static))
    t0 = time.perf_counter()
    with torch.no_grad():
        sim = model(forcing, static, outputs="all")
    return sim, forcing, time.perf_counter() - t0


def summary(sim, seconds: float) -> str:
    o = sim.outputs
    days, cells = o["gpp"].shape
    d_storage = o["tws"][-1] - o["tws"][0]
    inflow = (o["snowfall"] + o["rainfall"])[1:].sum(0)
    outflow = (o["et"] + o["runoff"])[1:].sum(0)
    closure = (inflow - outflow - d_storage).abs().max().item()
    carbon = (o["nee"] - (o["ra"] + o["rh"] - o["gpp"])).abs().max().item()
    lines = [
        f"simulated {cells} cells x {days} days in {seconds:.2f} s ({cells * days / seconds:,.0f} cell-days/s)",
        f"{'variable':<10} {'mean':>9} {'min':>9} {'max':>9}  units",
    ]
    for key in ("rainfall", "snowfall", "et", "runoff", "tws", "swe", "gpp", "ter", "nee", "fapar"):
        v = o[key]
        lines.append(f"{key:<10} {v.mean():9.3f} {v.min():9.3f} {v.max():9.3f}  {cf_attrs(key)['units']}")
    c = sim.constants
    lines.append(
        f"constants: q10={c.q10.item():.3f} beta_co2={c.beta_co2.item():.5f} ppm-1 "
        f"beta_baseflow={c.beta_baseflow.item():.5f} d-1 beta_snow={c.beta_snow.item():.3f}"
    )
    lines.append(f"water balance max |error| = {closure:.2e} mm; carbon balance max |error| = {carbon:.2e} gC m-2 d-1")
    return "\n".join(lines)
