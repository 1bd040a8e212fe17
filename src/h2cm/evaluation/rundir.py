"""A cross-validation run directory (docs/architecture.md, "Runs"): its files and fold models.

``RUN/config.yaml``, ``RUN/split.json`` and at least one ``RUN/fold_K/best.pt`` must exist; a
missing one is named in the error. The fold models, of any kind (hybrid, constant or the pure
LSTM baseline, :mod:`h2cm.kinds`), are loaded with the training layer's checkpoint loader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .. import layout
from ..modelkind import ModelKind


class RunDirError(FileNotFoundError):
    """A run directory lacks a file that evaluation needs."""


@dataclass
class RunDir:
    """What evaluation reads from a run: configuration, split and the fold checkpoints."""

    path: Path
    config: dict
    split: dict
    manifest: dict
    folds: list[int]
    checkpoints: list[Path] = field(default_factory=list)

    @classmethod
    def open(cls, path) -> RunDir:
        path = Path(path)
        if not path.is_dir():
            raise RunDirError(f"run directory not found: {path}")
        for name in (layout.CONFIG, layout.SPLIT):
            if not (path / name).is_file():
                raise RunDirError(f"bad run directory {path}: missing {path / name}")
        config = yaml.safe_load((path / layout.CONFIG).read_text()) or {}
        split = json.loads((path / layout.SPLIT).read_text())
        manifest_path = path / layout.MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        folds: list[int] = []
        missing: list[str] = []
        for sub in sorted(path.iterdir()):
            k = layout.fold_of(sub)
            if k is not None and sub.is_dir():
                if (sub / layout.BEST).is_file():
                    folds.append(k)
                else:
                    missing.append(str(sub / layout.BEST))
        folds.sort()
        if not folds:
            detail = f" (missing {', '.join(missing)})" if missing else f" (no {path}/fold_K/{layout.BEST})"
            raise RunDirError(f"bad run directory {path}: no trained fold{detail}")
        return cls(path, config, split, manifest, folds, [layout.checkpoint(path, k) for k in folds])

    @property
    def test_cells(self) -> np.ndarray:
        """Cell indices of the held-out test set (read with :class:`h2cm.data.splits.Split`)."""
        try:
            from ..data.splits import Split
        except ImportError:  # data layer without splits: read the JSON directly
            Split = None
        if Split is not None:
            return np.asarray(Split.load(self.path / layout.SPLIT).test, dtype=np.int64)
        for key in ("test", "test_cells"):
            if key in self.split:
                value = self.split[key]
                if isinstance(value, dict):
                    value = value.get("cells", value.get("cell_index", []))
                return np.asarray(value, dtype=np.int64)
        raise RunDirError(f"{self.path / 'split.json'} has no 'test' cell list")

    @property
    def cube_path(self) -> Path | None:
        """The cube the run was trained on, as recorded in its config or manifest (or None)."""
        for source in (self.config, self.manifest):
            for section in (source, source.get("data") if isinstance(source.get("data"), dict) else {}):
                for key in ("cube", "cube_path"):
                    value = section.get(key) if isinstance(section, dict) else None
                    if isinstance(value, str) and value:
                        p = Path(value)
                        return p if p.is_absolute() else (self.path / p if (self.path / p).exists() else p)
        return None

    @property
    def period(self) -> tuple[str, str] | None:
        """(start, end) of the run's data period from its config (``data.start``/``data.end``)."""
        data = self.config.get("data") if isinstance(self.config.get("data"), dict) else {}
        start, end = data.get("start"), data.get("end")
        if start is None and end is None:
            return None
        return (str(start) if start is not None else None, str(end) if end is not None else None)

    def load_models(self) -> list[ModelKind]:
        """The best-validation model of every fold, in fold order, in eval mode."""
        models = []
        for ckpt in self.checkpoints:
            model = load_checkpoint(ckpt)
            model.eval()
            models.append(model)
        return models


def load_checkpoint(path) -> ModelKind:
    """A fold's model from its checkpoint (via :func:`h2cm.training.checkpoint.load_model`)."""
    from ..training.checkpoint import load_model

    path = Path(path)
    if not path.is_file():
        raise RunDirError(f"checkpoint not found: {path}")
    return load_model(path)
