"""``h2cm import-checkpoint``: the authors' trained checkpoints as an h2cm run (docs/reference.md).

Reads checkpoints written by the authors' Lightning trainer (github zavud/h2cm: a dict whose
``state_dict`` holds the LightningModule's parameters and whose ``hyper_parameters`` hold the fold
``k``), converts each with :func:`h2cm.reference.layout.convert_state_dict` and the cube's store
statistics (:mod:`h2cm.training.store_stats`), and writes one run directory::

    RUN/config.yaml      split.method: reference, normalization: store, the checkpoint's sizes
    RUN/split.json       the authors' split of the cube (h2cm.data.reference_split)
    RUN/manifest.json    where every fold came from
    RUN/fold_K/best.pt   the converted model of fold K

that ``h2cm predict``, ``evaluate`` and ``report`` use like any run. Everything is read and checked
first; the run is written to a temporary folder beside ``RUN`` and renamed, so a mismatch leaves
nothing behind.
"""

from __future__ import annotations

import os
import pickle
import time
import types
from pathlib import Path
from typing import Any

import torch

from .. import atomic, layout
from ..data.reference_split import cube_reference_split
from ..training.store_stats import MEAN_ATTR, STD_ATTR, input_statistics, loss_statistics
from .layout import CheckpointLayoutError, Sizes, check_state_dict, convert_state_dict


class _Stub(dict):
    """Stands in for a class a checkpoint names that is not installed here (Lightning's)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.update(state)


class _LenientUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name, (_Stub,), {"__module__": module})


_LENIENT = types.SimpleNamespace(
    __name__="h2cm_lenient_pickle",
    Unpickler=_LenientUnpickler,
    load=lambda f, **kw: _LenientUnpickler(f, **kw).load(),
)


def read_authors_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, hyper_parameters) of an authors' checkpoint (or of a bare state_dict file).

    Tensors only are read first (``weights_only``); a checkpoint that also pickles classes not
    installed here (Lightning's) is read again with those classes stubbed. Trusted files only."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        ckpt = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_LENIENT)
    if not isinstance(ckpt, dict):
        raise CheckpointLayoutError(f"{path}: not a checkpoint (a {type(ckpt).__name__}, expected a dict)")
    sd = ckpt.get("state_dict", ckpt)
    if not isinstance(sd, dict):
        raise CheckpointLayoutError(f"{path}: 'state_dict' is a {type(sd).__name__}, expected a dict of tensors")
    hp = ckpt.get("hyper_parameters") if "state_dict" in ckpt else None
    return dict(sd), dict(hp) if isinstance(hp, dict) else {}


def _folds(paths: list[Path], hparams: list[dict], folds: list[int] | None, n_folds: int) -> list[int]:
    """Fold of every checkpoint: ``folds`` if given, else the checkpoint's ``k``, else its position."""
    if folds is not None and len(folds) != len(paths):
        raise ValueError(f"--fold: {len(folds)} fold(s) for {len(paths)} checkpoint(s); give one per checkpoint")
    out = []
    for i, (path, hp) in enumerate(zip(paths, hparams, strict=True)):
        k = folds[i] if folds is not None else hp.get("k", i)
        if not isinstance(k, int) or not 0 <= k < n_folds:
            raise ValueError(f"{path}: fold {k!r} is not in 0..{n_folds - 1}")
        if k in out:
            raise ValueError(f"{path}: fold {k} appears twice; give --fold K for each checkpoint")
        out.append(k)
    return out


def _config(cube: Path, sizes: Sizes):
    from ..training.config import load_config

    return load_config(
        "paper",
        [
            "name=imported",
            f"data.cube={cube}",
            "data.start=null",  # the authors' model runs over the whole store
            "data.end=null",
            "split.method=reference",
            "normalization=store",
            f"network.lstm_hidden={sizes.lstm_hidden}",
            f"network.fc_hidden={sizes.fc_hidden}",
            f"network.code_size={sizes.code_size}",
        ],
    )


def _available_loss_statistics(ds, keys):
    keys = [k for k in keys if k in ds and {MEAN_ATTR, STD_ATTR} <= set(ds[k].attrs)]
    return loss_statistics(ds, keys)


def _check_static(ds, sizes: Sizes) -> int:
    n = int(ds.sizes.get("feature", 0))
    if n != sizes.n_static:
        raise CheckpointLayoutError(
            f"the cube's variable 'static' has {n} features; the checkpoint's fc_static.fc1.weight reads "
            f"{sizes.n_static} (a cube of the authors' store is needed: h2cm import-h2cm)"
        )
    return n


def convert_checkpoints(checkpoints, cube, folds: list[int] | None = None):
    """Read, check and convert: (config, split, {fold: (model, source, checkpoint)}, loss_stats)."""
    from ..data.cube import open_cube

    cube = Path(cube).expanduser().resolve()
    ds = open_cube(cube)
    paths = [Path(p) for p in checkpoints]
    if not paths:
        raise ValueError("no checkpoint given")
    read = [read_authors_checkpoint(p) for p in paths]
    sizes = []
    for p, (sd, _) in zip(paths, read, strict=True):
        try:
            sizes.append(check_state_dict(sd))
        except CheckpointLayoutError as err:
            raise CheckpointLayoutError(f"{p}: {err}") from None
    if len(set(sizes)) > 1:
        raise CheckpointLayoutError(f"{paths[sizes.index(sizes[-1])]}: network sizes differ from {paths[0]}'s")
    cfg = _config(cube, sizes[0])
    ks = _folds(paths, [hp for _, hp in read], folds, cfg.split.n_folds)
    stats = input_statistics(ds, _check_static(ds, sizes[0]))
    models = {k: (convert_state_dict(sd, *stats), p, hp) for k, p, (sd, hp) in zip(ks, paths, read, strict=True)}
    split = cube_reference_split(ds, cfg.split.n_folds)
    return cfg, split, dict(sorted(models.items())), _available_loss_statistics(ds, cfg.data.constraints)


def _write_run(tmp: Path, cfg, split, models, loss_stats) -> None:
    from ..training.checkpoint import model_payload, save_checkpoint
    from ..training.config import save_config
    from ..training.run import versions

    save_config(cfg, tmp / layout.CONFIG)
    split.save(tmp / layout.SPLIT)
    manifest: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "name": cfg.name,
        "model": cfg.model,
        "source": "h2cm import-checkpoint: checkpoints of the authors' code (github zavud/h2cm)",
        "cube": cfg.data.cube,
        "versions": versions(),
        "folds": {},
    }
    for k, (model, path, hp) in models.items():
        payload = {
            **model_payload(model.float()),
            "loss_stats": loss_stats.to_dict(),
            "terms": [],
            "config": cfg.to_dict(),
            "fold": k,
            "imported_from": str(Path(path).resolve()),
        }
        save_checkpoint(layout.checkpoint(tmp, k), payload)
        manifest["folds"][str(k)] = {"status": "imported", "checkpoint": payload["imported_from"], "k": hp.get("k")}
    atomic.write_json(tmp / layout.MANIFEST, manifest)


def import_checkpoints(checkpoints, cube, out, folds: list[int] | None = None) -> Path:
    """Convert the authors' checkpoints (one per fold) into the run directory ``out``."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists; choose a new --out")
    cfg, split, models, loss_stats = convert_checkpoints(checkpoints, cube, folds)
    with atomic.atomic_path(out, mkdir=True) as tmp:  # the whole run appears at once, or nothing
        _write_run(tmp, cfg, split, models, loss_stats)
    return out
