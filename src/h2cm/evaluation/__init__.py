"""Evaluation: CF simulations of a run (``predict``), skill metrics and ``evaluate``.

Modules: :mod:`.metrics` (RMSE, r, SDR, bias), :mod:`.views` (monthly, mean seasonal cycle,
anomalies), :mod:`.outputs` (CF Datasets), :mod:`.ensemble` (all folds over cells in blocks),
:mod:`.rundir` (a run directory), :mod:`.predict`, :mod:`.evaluate`.
"""
