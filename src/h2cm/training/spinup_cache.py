"""The warm spin-up cache of a fold (``train.spinup_refresh`` > 1): each training cell's
end-of-spin-up state, kept between refreshes (docs/training.md)."""

from __future__ import annotations

from typing import Any

import torch


class SpinupCache:
    """Each training cell's end-of-spin-up state (warm spin-up, ``train.spinup_refresh`` > 1).

    A state is a tuple of tensors whose cell dimension is 0 for 1-D and 1 otherwise (the hybrid
    and constant models' :class:`~h2cm.model.ModelState`, the LSTM baseline's ``(h, c)``)."""

    def __init__(self, n_cells: int):
        self.n = n_cells
        self.filled = torch.zeros(n_cells, dtype=torch.bool)
        self.fields: list[torch.Tensor] | None = None
        self.kind: type | None = None

    @staticmethod
    def _dim(t: torch.Tensor) -> int:
        return 0 if t.dim() == 1 else 1

    def has(self, idx: torch.Tensor) -> bool:
        return bool(self.filled[idx.cpu()].all())

    def put(self, idx: torch.Tensor, state) -> None:
        if self.fields is None:
            self.kind = type(state)
            self.fields = []
            for t in state:
                shape = list(t.shape)
                shape[self._dim(t)] = self.n
                self.fields.append(t.new_zeros(shape))
        for buf, t in zip(self.fields, state, strict=True):
            buf.index_copy_(self._dim(t), idx.to(buf.device), t.detach())
        self.filled[idx.cpu()] = True

    def get(self, idx: torch.Tensor):
        assert self.fields is not None and self.kind is not None
        parts = [buf.index_select(self._dim(buf), idx.to(buf.device)) for buf in self.fields]
        return self.kind(*parts) if self.kind is not tuple else tuple(parts)

    def state_dict(self) -> dict[str, Any]:
        return {"filled": self.filled.clone(), "fields": self.fields, "kind": self.kind}

    def load_state_dict(self, d: dict[str, Any], device: torch.device) -> None:
        self.filled = d["filled"].clone()
        self.fields = [f.to(device) for f in d["fields"]] if d["fields"] is not None else None
        self.kind = d["kind"]
