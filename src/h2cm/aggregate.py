"""Calendar aggregation of daily model output (differentiable; used by the loss and evaluation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor


def month_index(days: pd.DatetimeIndex, months: pd.DatetimeIndex) -> np.ndarray:
    """For each day, the position of its calendar month in ``months`` (-1 if absent)."""
    day_key = days.year * 12 + days.month - 1
    month_key = months.year * 12 + months.month - 1
    lookup = {int(k): i for i, k in enumerate(month_key)}
    return np.array([lookup.get(int(k), -1) for k in day_key], dtype=np.int64)


def monthly_mean(daily: Tensor, day_month: Tensor, n_months: int) -> Tensor:
    """Mean over the days of each month: (T, ...) -> (n_months, ...). Days with index -1 are
    ignored; months without days are NaN.

    Days outside every month go to an extra bucket that is dropped, instead of being masked out:
    a boolean mask's data-dependent shape would make each call wait for the device (CUDA) and
    cannot run where shapes must be known in advance (the ``meta`` device of the tests)."""
    idx = torch.where(day_month >= 0, day_month, n_months)
    sums = daily.new_zeros((n_months + 1, *daily.shape[1:])).index_add(0, idx, daily)[:n_months]
    counts = torch.zeros(n_months + 1, dtype=daily.dtype, device=daily.device).index_add(
        0, idx, torch.ones_like(idx, dtype=daily.dtype)
    )[:n_months]
    counts = counts.reshape(n_months, *([1] * (daily.dim() - 1)))
    return torch.where(counts > 0, sums / counts.clamp(min=1), torch.full_like(sums, float("nan")))
