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
    ignored; months without days are NaN."""
    valid = day_month >= 0
    idx = day_month[valid]
    x = daily[valid]
    sums = x.new_zeros((n_months, *x.shape[1:])).index_add(0, idx, x)
    counts = torch.zeros(n_months, dtype=x.dtype, device=x.device).index_add(
        0, idx, torch.ones_like(idx, dtype=x.dtype)
    )
    counts = counts.reshape(n_months, *([1] * (x.dim() - 1)))
    return torch.where(counts > 0, sums / counts.clamp(min=1), torch.full_like(sums, float("nan")))
