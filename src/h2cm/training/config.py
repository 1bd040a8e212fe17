"""Run configuration: one YAML file describes a training run; validated with pydantic.

Presets ship with the package (``src/h2cm/configs/<name>.yaml``): ``paper`` (every value of
docs/training.md) and ``demo`` (small; the 10-fold demo in minutes on 2 cores). Any key can
be overridden with dotted ``key=value`` strings, e.g. ``train.epochs=5`` or
``data.constraints=[tws,et]``; values are parsed as YAML. Unknown keys and bad values raise
:class:`ConfigError` listing every problem with its dotted key.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..schema import CONSTRAINT_KEYS

PRESETS: tuple[str, ...] = ("paper", "demo")
# keys that change how a run executes, not what it computes (may differ between resumes)
RUNTIME_KEYS: tuple[str, ...] = ("threads", "device", "progress", "num_gpus", "train.data_parallel")


class ConfigError(ValueError):
    """An invalid run configuration; the message lists every problem by dotted key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    """Which cube, period and constraints the run uses."""

    cube: str | None = Field(None, description="path of the data cube (zarr or NetCDF)")
    start: str | None = Field(None, description="first day used (YYYY-MM-DD); None: cube start")
    end: str | None = Field(None, description="last day used (YYYY-MM-DD); None: cube end")
    constraints: list[str] = Field(default_factory=lambda: list(CONSTRAINT_KEYS))
    max_train_cells: int | None = Field(None, ge=1, description="use at most this many training cells per fold")

    @field_validator("constraints")
    @classmethod
    def _known_constraints(cls, v: list[str]) -> list[str]:
        unknown = [k for k in v if k not in CONSTRAINT_KEYS]
        if unknown:
            raise ValueError(f"unknown constraint(s) {unknown}; known: {', '.join(CONSTRAINT_KEYS)}")
        if len(set(v)) != len(v):
            raise ValueError("constraints listed twice")
        return v

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date(cls, v: Any) -> str | None:
        if v is None:
            return None
        import pandas as pd

        try:
            return pd.Timestamp(str(v)).strftime("%Y-%m-%d")
        except (ValueError, TypeError) as e:
            raise ValueError(f"not a date: {v!r}") from e

    @model_validator(mode="after")
    def _order(self) -> DataConfig:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class SplitConfig(_Section):
    """Spatial blocking cross-validation (docs/training.md)."""

    method: Literal["h2cm", "reference"] = Field(
        "h2cm",
        description="h2cm: balanced blocks of block_deg degrees from seed and test_fraction; reference: the "
        "authors' split (seed 1, 5 x 5 grid-cell blocks, the first of 13 sets for testing; docs/reference.md)",
    )
    seed: int = 0
    n_folds: int = Field(10, ge=2)
    block_deg: float = Field(5.0, gt=0)
    test_fraction: float = Field(1 / 13, ge=0, lt=1)


class NetworkConfig(_Section):
    """Sizes of the hybrid model's networks (docs/model.md)."""

    lstm_hidden: int = Field(100, ge=1)
    fc_hidden: int = Field(150, ge=1)
    code_size: int = Field(12, ge=1)


class OptimizerConfig(_Section):
    name: Literal["adamw"] = "adamw"
    lr: float = Field(0.005, gt=0)
    weight_decay: float = Field(0.01, ge=0)


class SchedulerConfig(_Section):
    """Learning-rate schedule per epoch, after an optional linear warm-up per optimiser step.

    ``step`` (the paper's StepLR): multiply the rate by ``gamma`` every ``step_size`` epochs.
    ``cosine``: anneal from ``optimizer.lr`` to ``min_lr_factor`` x lr over ``train.epochs``."""

    name: Literal["step", "cosine"] = "step"
    step_size: int = Field(30, ge=1)
    gamma: float = Field(0.7, gt=0, le=1)
    min_lr_factor: float = Field(0.05, ge=0, le=1, description="cosine: final rate / initial rate")
    warmup_steps: int = Field(0, ge=0, description="optimiser steps of linear warm-up from lr / warmup_steps")


class TrainConfig(_Section):
    batch_size: int = Field(128, ge=1)
    val_batch_size: int | None = Field(None, ge=1, description="cells per validation batch (default batch_size)")
    epochs: int = Field(300, ge=1, description="maximum number of epochs (early stopping usually ends sooner)")
    patience: int = Field(10, ge=1, description="epochs without validation improvement before stopping")
    grad_clip_value: float | None = Field(0.5, gt=0, description="clip every gradient element to +-value")
    spinup: bool = True
    spinup_refresh: int = Field(
        1,
        ge=1,
        description="epochs between full spin-ups of a training cell: 1 = before every forward (the paper); "
        "K > 1 = keep each cell's end-of-spin-up state and reuse it for the next K - 1 epochs (warm start)",
    )
    validate_every: int = Field(1, ge=1, description="validate every N epochs (and after the last one)")
    chunk_days: int | None = Field(365, ge=1, description="days per recomputed chunk in the backward pass")
    checkpoint_every: int = Field(10, ge=0, description="also write last.pt every N batches (0: epoch end only)")
    initial_validation: bool = Field(True, description="validate once before training (epoch 0 row of the log)")
    compile: bool = Field(
        False, description="torch.compile blocks of days (hybrid model; faster epochs after a one-off compile)"
    )
    data_parallel: int = Field(
        1,
        ge=1,
        description="workers per fold, each on a shard of every batch (Ray Train, gloo on CPUs, nccl on GPUs); "
        "1 = one process",
    )

    @model_validator(mode="after")
    def _shards(self) -> TrainConfig:
        if self.data_parallel > self.batch_size:
            raise ValueError(f"data_parallel {self.data_parallel} exceeds batch_size {self.batch_size}")
        return self


class PriorConfig(_Section):
    mean: float
    sd: float = Field(gt=0)


class LossConfig(_Section):
    """Optional priors on global constants (Appendix E): ``(theta - mean)^2 / sd^2``."""

    priors: bool = False
    q10: PriorConfig = PriorConfig(mean=1.5, sd=0.3)
    beta_co2: PriorConfig = PriorConfig(mean=0.0015, sd=0.0005)


class RunConfig(_Section):
    """One training run (all folds)."""

    name: str = "run"
    model: str = Field(
        "hybrid",
        description="model kind (h2cm.kinds): hybrid, constant (constant-parameter process model) or lstm (pure LSTM)",
    )
    seed: int = 0
    deterministic: bool = Field(
        False,
        description="bit-reproducible on one machine: deterministic kernels, fixed threads, train.compile ignored "
        "(docs/training.md#determinism)",
    )
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:1, ...")
    threads: int = Field(2, ge=1, description="torch CPU threads (per fold)")
    num_gpus: float = Field(0, ge=0, description="GPUs requested per fold from Ray")
    progress: bool = True
    data: DataConfig = DataConfig()
    split: SplitConfig = SplitConfig()
    normalization: Literal["fold", "store"] = Field(
        "fold",
        description="fold: input and target statistics of each fold's training cells; store: the cube's "
        "h2cm_mean/h2cm_std attributes, the same for every fold (the authors' code; docs/reference.md)",
    )
    network: NetworkConfig = NetworkConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    train: TrainConfig = TrainConfig()
    loss: LossConfig = LossConfig()

    @field_validator("model")
    @classmethod
    def _model_kind(cls, v: str) -> str:
        from ..kinds import kind_class

        kind_class(v)  # ValueError naming the known kinds
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        import torch

        try:
            torch.device(v)
        except (RuntimeError, ValueError) as e:
            raise ValueError(f"not a torch device: {v!r}") from e
        return v

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def without_runtime(self) -> dict[str, Any]:
        """The configuration without keys that only affect how a run executes."""
        d = self.to_dict()
        for k in RUNTIME_KEYS:
            *sections, key = k.split(".")
            node = d
            for sec in sections:
                node = node.get(sec, {})
            node.pop(key, None)
        return d


def _format_errors(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {loc}: {msg}")
    return f"invalid configuration ({source}):\n" + "\n".join(lines)


def preset_path(name: str) -> Path:
    """Path of a packaged preset (``paper``, ``demo``)."""
    return Path(str(resources.files("h2cm") / "configs" / f"{name}.yaml"))


def _read_yaml(path_or_preset: str | os.PathLike) -> tuple[dict[str, Any], str]:
    s = str(path_or_preset)
    if s in PRESETS and not Path(s).exists():
        path = preset_path(s)
    else:
        path = Path(s)
        if not path.exists():
            raise ConfigError(f"config {s!r} is neither a file nor a preset ({', '.join(PRESETS)})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level")
    return data, str(path)


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in a nested dict; the value is parsed as YAML (``5``, ``true``, ``[a, b]``)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r}: expected KEY=VALUE (dotted key, e.g. train.epochs=5)")
    key, raw = override.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override {override!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {override!r}: value is not valid YAML: {e}") from e
    node = data
    for p in parts[:-1]:
        child = node.get(p)
        if child is None:
            child = node[p] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {override!r}: {p!r} is not a section")
        node = child
    node[parts[-1]] = value


def load_config(
    path_or_preset: str | os.PathLike | RunConfig = "paper", overrides: list[str] | None = None
) -> RunConfig:
    """A validated :class:`RunConfig` from a YAML file or preset name, with dotted overrides."""
    if isinstance(path_or_preset, RunConfig):
        data, source = path_or_preset.to_dict(), "config object"
    else:
        data, source = _read_yaml(path_or_preset)
    for ov in overrides or []:
        apply_override(data, ov)
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, source)) from None
    if cfg.data.cube:
        cfg.data.cube = str(Path(cfg.data.cube).expanduser().resolve())
    return cfg


def save_config(cfg: RunConfig, path: str | os.PathLike) -> Path:
    """Write the resolved configuration as YAML (atomically)."""
    from .. import atomic

    return atomic.write_text(Path(path), cfg.to_yaml())
