"""Hyper-parameter search with Optuna: ``h2cm tune`` (docs/cli/tune.md).

Each trial samples values for dotted configuration keys (the search space), trains the chosen
folds with :func:`~h2cm.training.trainer.train_fold` into ``OUT/trials/NNNN/fold_K`` and scores
the sum of the folds' best validation losses. After every validation the trial reports the
objective so far to Optuna (step = fold position x ``train.epochs`` + epoch); the pruner (by
default ASHA, :class:`optuna.pruners.SuccessiveHalvingPruner`) stops bad trials early. The study
lives in ``OUT/study.db`` (SQLite): running the same command again continues it.
"""

from __future__ import annotations

import csv
import fcntl
import io
import math
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import atomic
from .config import ConfigError, RunConfig, load_config, save_config
from .cv import parse_folds
from .folds import cube_cell_coords, make_split, require_cube
from .run import _diff

STUDY_NAME, BASE_FILE, BEST_FILE, TRIALS_FILE = "h2cm-tune", "base.yaml", "best.yaml", "trials.csv"
PRUNERS = ("asha", "hyperband", "none")
SPEC_KEYS = {"low", "high", "log", "step", "choices"}
# the default search space: dotted configuration key -> {low, high[, log, step]} or {choices}
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "optimizer.lr": {"low": 1.0e-4, "high": 3.0e-2, "log": True},
    "network.lstm_hidden": {"choices": [32, 64, 100, 128]},
    "network.fc_hidden": {"choices": [64, 100, 150, 200]},
    "train.batch_size": {"choices": [16, 32, 64, 128]},
    "scheduler.step_size": {"low": 5, "high": 50},
    "scheduler.gamma": {"low": 0.3, "high": 0.95},
    "train.patience": {"low": 3, "high": 20},
}


def import_optuna():
    """The ``optuna`` module, or a clear error telling how to install it."""
    try:
        import optuna
    except ImportError as err:
        raise RuntimeError("h2cm tune needs Optuna: pip install 'h2cm[tune]' (or pip install optuna)") from err
    return optuna


# --- search space ---------------------------------------------------------------------------------


def override(key: str, value: Any) -> str:
    """``KEY=VALUE`` for :func:`load_config`, the value written as YAML (``1.0e-05``, not ``1e-05``)."""
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return f"{key}={text.removesuffix('...').strip()}"


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _number(x: Any) -> Any:
    """YAML reads ``1e-4`` (no dot) as a string: such strings become floats."""
    try:
        return float(x) if isinstance(x, str) else x
    except ValueError:
        return x


def _check_spec(key: str, spec: Any) -> dict[str, Any]:
    """One key's distribution, normalised to a dict; ValueError naming the key if malformed."""
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"{key}: expected {{low, high[, log, step]}}, {{choices}} or a list, got {spec!r}")
    spec = dict(spec)
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ValueError(f"{key}: unknown field(s) {unknown}; use {sorted(SPEC_KEYS)}")
    if "choices" in spec:
        if set(spec) != {"choices"} or not isinstance(spec["choices"], list) or not spec["choices"]:
            raise ValueError(f"{key}: choices must be a non-empty list, without low/high")
        return spec
    if "low" not in spec or "high" not in spec:
        raise ValueError(f"{key}: give low and high, or choices")
    spec["low"], spec["high"] = _number(spec["low"]), _number(spec["high"])
    lo, hi = spec["low"], spec["high"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi)) or lo > hi:
        raise ValueError(f"{key}: low and high must be numbers with low <= high, got {lo!r}, {hi!r}")
    if spec.get("log") and lo <= 0:
        raise ValueError(f"{key}: a log scale needs low > 0")
    return spec


def _config_keys(d: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in d.items():
        out |= _config_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return out


def load_space(space: dict | str | os.PathLike | None, cfg: RunConfig) -> dict[str, dict[str, Any]]:
    """The search space (default :data:`DEFAULT_SPACE`; a dict or a YAML file replaces it),
    validated against ``cfg``: every key is a configuration key, every bound and choice is a
    valid value for it."""
    source = "default space" if space is None else "space"
    if space is None:
        space = DEFAULT_SPACE
    elif not isinstance(space, dict):
        source = f"space file {space}"
        path = Path(space)
        if not path.is_file():
            raise ValueError(f"{source} does not exist")
        try:
            space = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ValueError(f"{source}: not valid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(space, dict) or not space:
        raise ValueError(f"{source}: expected a non-empty mapping of dotted configuration keys")
    known = _config_keys(cfg.to_dict())
    out = {}
    for key, spec in space.items():
        if key not in known:
            raise ValueError(f"{source}: {key!r} is not a configuration key (e.g. optimizer.lr, train.batch_size)")
        try:
            out[key] = _check_spec(key, spec)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None
        for value in out[key].get("choices") or (out[key]["low"], out[key]["high"]):
            try:
                load_config(cfg, [override(key, value)])
            except ConfigError as err:
                reason = str(err).splitlines()[-1].strip()
                raise ValueError(f"{source}: {key} = {value!r} is not a valid value ({reason})") from None
    return out


def suggest(trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Values of every key of ``space`` for an Optuna trial (float, int or categorical)."""
    params = {}
    for key, spec in space.items():
        if "choices" in spec:
            params[key] = trial.suggest_categorical(key, spec["choices"])
        elif _is_int(spec["low"]) and _is_int(spec["high"]):
            step, log = spec.get("step") or 1, bool(spec.get("log"))
            params[key] = trial.suggest_int(key, spec["low"], spec["high"], step=step, log=log)
        else:
            step, log = spec.get("step"), bool(spec.get("log"))
            params[key] = trial.suggest_float(key, spec["low"], spec["high"], step=step, log=log)
    return params


def trial_config(base: RunConfig, params: dict[str, Any]) -> RunConfig:
    """The run configuration of a trial: ``base`` with the trial's values as overrides."""
    return load_config(base, [override(k, v) for k, v in params.items()])


# --- the study ------------------------------------------------------------------------------------


def make_pruner(pruner):
    """An Optuna pruner from a name (``asha``, ``hyperband``, ``none``) or the pruner itself."""
    optuna = import_optuna()
    if not isinstance(pruner, str):
        return pruner
    if pruner == "asha":
        return optuna.pruners.SuccessiveHalvingPruner()
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if pruner == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {pruner!r}; use one of {', '.join(PRUNERS)}")


def _reporter(trial, offset: int, done: float):
    """``on_validation`` hook of one fold: reports the objective so far, True if pruned."""
    best = math.inf

    def on_validation(epoch: int, val: float) -> bool:
        nonlocal best
        if math.isfinite(val):
            best = min(best, val)
        if not math.isfinite(best):
            return False
        trial.report(done + best, offset + epoch)
        return trial.should_prune()

    return on_validation


def _objective(base: RunConfig, space: dict, folds: list[int], out: Path):
    from .trainer import train_fold

    optuna = import_optuna()

    def objective(trial) -> float:
        params = suggest(trial, space)
        cfg = trial_config(base, params)
        run_dir = out / "trials" / f"{trial.number:04d}"
        trial.set_user_attr("dir", str(run_dir.relative_to(out)))
        total = 0.0
        for i, k in enumerate(folds):
            hook = _reporter(trial, i * cfg.train.epochs, total)
            res = train_fold(cfg, k, run_dir, on_validation=hook)
            # a fold that ended anyway at a step where the pruner would stop: its trial ends here too
            if res.stop_reason == "pruned" or (i + 1 < len(folds) and trial.should_prune()):
                raise optuna.TrialPruned(f"fold {k} pruned at epoch {res.epochs}")
            total += res.best_val_loss
        return total

    return objective


@contextmanager
def _exclusive(out: Path):
    """Hold ``OUT/.tune.lock``: one ``h2cm tune`` process per study."""
    with open(out / ".tune.lock", "a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"{out} is in use by another h2cm tune") from None
        yield


def _open_study(out: Path, base: RunConfig, space: dict, pruner, seed: int):
    """Create or load the study in ``OUT/study.db``; a continued one must have the same base
    configuration and space, and its trials left running by a killed process are marked failed."""
    optuna = import_optuna()
    base_path = out / BASE_FILE
    if base_path.exists():
        old = RunConfig.model_validate(yaml.safe_load(base_path.read_text()))
        diffs = _diff(old.without_runtime(), base.without_runtime())
        if diffs:
            raise ConfigError(f"{out} holds a study of another configuration ({'; '.join(diffs)}); use a new --out")
    storage = optuna.storages.RDBStorage(f"sqlite:///{(out / 'study.db').resolve()}")
    study = optuna.create_study(
        storage=storage,
        study_name=STUDY_NAME,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
        load_if_exists=True,
    )
    old_space = study.user_attrs.get("space")
    if old_space is not None and old_space != space:
        raise ConfigError(f"{out} holds a study of another search space; use a new --out")
    study.set_user_attr("space", space)
    save_config(base, base_path)
    study_id = storage.get_study_id_from_name(STUDY_NAME)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
    return study


# --- outputs --------------------------------------------------------------------------------------


@dataclass
class TuneResult:
    out_dir: Path
    space: dict[str, dict[str, Any]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None  # the row of the best complete trial

    def summary(self) -> str:
        keys = list(self.space)
        head = [f"{'trial':>5} {'state':>8} {'value':>10} {'step':>4} {'seconds':>8}", *keys]
        lines = ["  ".join(head)]
        for r in self.rows:
            value = f"{r['value']:>10.4g}" if r["value"] != "" else f"{'':>10}"
            cells = [f"{r['number']:>5} {r['state']:>8} {value} {r['step']:>4} {r['seconds']:>8}"]
            cells += [f"{_fmt(r[k]):>{len(k)}}" for k in keys]
            lines.append("  ".join(cells))
        if self.best is None:
            lines.append("no trial completed")
        else:
            lines.append(
                f"best: trial {self.best['number']}, value {self.best['value']:.6g} -> {self.out_dir / BEST_FILE}"
            )
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _rows(study, space: dict) -> list[dict[str, Any]]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = round(t.duration.total_seconds(), 1) if t.duration is not None else ""
        # a pruned trial's value would be its last report, a partial sum: only complete trials have one
        value = t.value if t.state.name == "COMPLETE" and t.value is not None else ""
        row = {"number": t.number, "state": t.state.name, "value": value, "step": t.last_step or ""}
        row.update(seconds=seconds, **{k: t.params.get(k, "") for k in space}, dir=t.user_attrs.get("dir", ""))
        rows.append(row)
    return rows


def write_outputs(study, out: Path, base: RunConfig, space: dict) -> TuneResult:
    """``OUT/trials.csv`` (one row per trial) and ``OUT/best.yaml`` (the best trial's full run
    configuration), both written atomically."""
    res = TuneResult(out, space, _rows(study, space))
    buf = io.StringIO()
    fields = ["number", "state", "value", "step", "seconds", *space, "dir"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(res.rows)
    atomic.write_text(out / TRIALS_FILE, buf.getvalue())
    complete = [r for r in res.rows if r["state"] == "COMPLETE" and r["value"] != "" and math.isfinite(r["value"])]
    if complete:
        res.best = min(complete, key=lambda r: (r["value"], r["number"]))
        best = next(t for t in study.get_trials(deepcopy=False) if t.number == res.best["number"])
        save_config(trial_config(base, best.params), out / BEST_FILE)
    return res


def _fold_list(folds: str | list[int] | None, cfg: RunConfig) -> list[int]:
    if folds is None or (isinstance(folds, str) and not folds.strip()) or (isinstance(folds, list) and not folds):
        raise ValueError("no folds to tune on: give e.g. --folds 0,1")
    spec = ",".join(str(k) for k in folds) if isinstance(folds, list) else folds
    return parse_folds(spec, cfg.split.n_folds)


def run_tune(
    config: RunConfig | str | os.PathLike,
    out_dir: str | os.PathLike,
    space: dict | str | os.PathLike | None = None,
    trials: int = 20,
    folds: str | list[int] | None = "0",
    pruner="asha",
    seed: int = 0,
    timeout: float | None = None,
    overrides: list[str] | None = None,
) -> TuneResult:
    """Search ``space`` (None: :data:`DEFAULT_SPACE`; a dict or YAML file) with Optuna's TPE
    sampler until the study in ``OUT/study.db`` has ``trials`` complete or pruned trials (failed
    ones do not count), or ``timeout`` seconds have passed. Every input is checked before anything
    is written."""
    optuna = import_optuna()
    cfg = config if isinstance(config, RunConfig) and not overrides else load_config(config, overrides)
    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    fold_list = _fold_list(folds, cfg)
    space = load_space(space, cfg)
    pruner = make_pruner(pruner)
    make_split(cfg, *cube_cell_coords(require_cube(cfg)))  # a cube and split that work
    if {"scheduler.step_size", "scheduler.gamma"} & set(space) and cfg.scheduler.name != "step":
        warnings.warn(f"scheduler.name is {cfg.scheduler.name!r}: the space's StepLR keys do nothing", stacklevel=2)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        study = _open_study(out, cfg, space, pruner, seed)
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        done = len(study.get_trials(deepcopy=False, states=states))
        try:
            if done < trials:
                objective = _objective(cfg, space, fold_list, out)
                study.optimize(objective, n_trials=trials - done, timeout=timeout, catch=(Exception,))
        finally:
            res = write_outputs(study, out, cfg, space)
    return res
