"""Train one fold: AdamW + StepLR, value clipping, skipped non-finite batches, early stopping,
best/last checkpoints, exact resume.

Resume semantics (docs/training.md): ``last.pt`` is written atomically at the end of every epoch
and every ``train.checkpoint_every`` batches inside an epoch. It holds the model, optimiser,
scheduler, RNG states (torch, numpy, python), the data-order generator's state at the start of the
current epoch, the number of batches of that epoch already done, the epoch's running loss sums and
the log so far. Resuming regenerates the epoch's batch order from the saved generator state and
continues with the next batch, so a run killed at any point and resumed (same seed, CPU, same
threads) ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from .. import runtime
from ..data.cells import CellData
from ..kinds import build_model
from .checkpoint import (
    atomic_write_json,
    atomic_write_text,
    load_checkpoint,
    model_payload,
    save_checkpoint,
)
from .config import RunConfig, load_config
from .folds import ensure_split, fold_seed, load_fold_data, normalization_statistics, require_cube
from .loss import active_terms, total_loss
from .run import prepare_run_dir, update_manifest

BEST, LAST, LOG, RESULT = "best.pt", "last.pt", "log.csv", "result.json"


@dataclass
class TrainerState:
    """Everything about a fold's progress that ``last.pt`` must restore."""

    epoch: int = 0  # completed epochs
    step: int = 0  # batches done in the current epoch
    order_state: torch.Tensor | None = None  # data-order generator state at the current epoch's start
    sums: dict[str, float] = field(default_factory=dict)  # running sums of train terms this epoch
    count: int = 0  # batches summed this epoch
    skipped: int = 0  # non-finite batches skipped this epoch
    skipped_total: int = 0
    epoch_seconds: float = 0.0  # time spent in the current epoch so far
    steps: int = 0  # optimiser steps taken since the start (learning-rate warm-up)
    best_val: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False
    stop_reason: str = ""
    seconds_total: float = 0.0


@dataclass
class FoldResult:
    """Summary of a trained fold (also written to ``fold_K/result.json``)."""

    fold: int
    best_epoch: int
    best_val_loss: float
    epochs: int
    stop_reason: str
    skipped_batches: int
    seconds: float
    seconds_per_epoch: float
    n_train: int
    n_val: int
    terms: list[str]
    val_start: dict[str, float]
    val_best: dict[str, float]
    train_first: dict[str, float]
    train_last: dict[str, float]
    checkpoint: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global state is what other code uses
    torch.manual_seed(seed)


def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])  # noqa: NPY002
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class FoldTrainer:
    """Trains the model of one fold on in-memory cells; see :func:`train_fold`."""

    primary = True  # writes checkpoints, logs and TensorBoard (data-parallel ranks > 0 do not)

    def __init__(self, cfg: RunConfig, fold: int, fold_dir: Path, train: CellData, val: CellData):
        self.cfg, self.fold, self.dir = cfg, fold, Path(fold_dir)
        self.train_data, self.val_data = train, val
        self.device = torch.device(cfg.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {cfg.device} requested but CUDA is not available")
        seed = fold_seed(cfg.seed, fold)
        seed_everything(seed)
        n = cfg.network
        self.model = build_model(
            cfg.model,
            n_static=train.static.shape[1],
            lstm_hidden=n.lstm_hidden,
            fc_hidden=n.fc_hidden,
            code_size=n.code_size,
        )
        compiled = False
        if cfg.train.compile:  # kinds without a compiled daily loop stay eager (compile_day -> False)
            compiled = self.model.compile_day(True, mode="reduce-overhead" if self.device.type == "cuda" else None)
        # a compiled model sees every batch at one shape (short batches are padded): one compilation per run
        self.pad_batches = bool(compiled)
        inputs, self.stats = normalization_statistics(cfg, train)
        self.model.set_normalization(*inputs)
        self.model.to(self.device)
        self.terms = active_terms(cfg.data.constraints, self.stats, cfg.loss.priors)
        if not self.terms:
            raise ValueError(f"no loss term: none of the constraints {cfg.data.constraints} has training data")
        self.priors = {
            "q10": (cfg.loss.q10.mean, cfg.loss.q10.sd),
            "beta_co2": (cfg.loss.beta_co2.mean, cfg.loss.beta_co2.sd),
        }
        o = cfg.optimizer
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
        self.sched = make_scheduler(self.opt, cfg)
        self.order = torch.Generator().manual_seed(seed)
        self.state = TrainerState()
        self.spun = SpinupCache(train.n_cells) if cfg.train.spinup and cfg.train.spinup_refresh > 1 else None
        self.tb = _tensorboard(self.dir) if self.primary else None
        # optional hook after each validation, (epoch, val_total) -> True to stop the fold ("pruned")
        self.on_validation: Callable[[int, float], bool] | None = None

    # --- checkpoints ------------------------------------------------------------------------------

    def _payload(self) -> dict[str, Any]:
        return {
            **model_payload(self.model),
            "loss_stats": self.stats.to_dict(),
            "terms": list(self.terms),
            "config": self.cfg.to_dict(),
            "fold": self.fold,
            "epoch": self.state.epoch,
        }

    def save_last(self) -> None:
        save_checkpoint(
            self.dir / LAST,
            {
                **self._payload(),
                "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(),
                "trainer": asdict(self.state),
                "rng": rng_states(),
                "spinup_cache": self.spun.state_dict() if self.spun is not None else None,
            },
        )

    def save_best(self) -> None:
        save_checkpoint(self.dir / BEST, {**self._payload(), "val": self.state.history[-1]})

    def restore(self, path: Path) -> None:
        ckpt = load_checkpoint(path, "cpu")  # RNG states must stay on the CPU; load_state_dict moves the rest
        if ckpt.get("fold") != self.fold:
            raise ValueError(f"{path} belongs to fold {ckpt.get('fold')}, not {self.fold}")
        self.model.load_state_dict(ckpt["model_state"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.sched.load_state_dict(ckpt["scheduler"])
        self.state = TrainerState(**ckpt["trainer"])
        set_rng_states(ckpt["rng"])
        if self.state.order_state is not None:
            self.order.set_state(self.state.order_state)
        if self.spun is not None and ckpt.get("spinup_cache") is not None:
            self.spun.load_state_dict(ckpt["spinup_cache"], self.device)

    # --- steps ------------------------------------------------------------------------------------

    def _padded(self, idx: torch.Tensor, size: int) -> torch.Tensor:
        """``idx`` padded to ``size`` cells by repeating its first cells (compiled models only)."""
        if not self.pad_batches or len(idx) >= size:
            return idx
        return torch.cat([idx, idx[torch.arange(size - len(idx)) % len(idx)]])

    def _simulate(self, data: CellData, idx: torch.Tensor, size: int, grad: bool):
        """Daily loss outputs ``(T, len(idx))`` of the cells ``idx`` of ``data``, the model's global
        constants and the cells' data. The model runs on them padded to ``size`` cells when
        compiled. Warm spin-up: training cells start from their cached end-of-spin-up state
        (refreshed every ``train.spinup_refresh`` epochs)."""
        t = self.cfg.train
        run = self._padded(idx, size)
        batch = data.subset(run)
        f, s = batch.forcing.to(self.device), batch.static.to(self.device)
        state, spinup = None, t.spinup
        if grad and self.spun is not None:
            if self.state.epoch % t.spinup_refresh == 0 or not self.spun.has(run):
                self.spun.put(run, self.model.spinup_state(f, s))
            state, spinup = self.spun.get(run), False
        with torch.set_grad_enabled(grad):
            sim = self.model(
                f, s, state=state, spinup=spinup, outputs="loss", chunk_days=t.chunk_days if grad else None
            )
            n = len(idx)
            outputs = {k: v[:, :n] for k, v in sim.outputs.items()} if len(run) > n else sim.outputs
        return outputs, sim.constants, batch if len(run) == n else data.subset(idx)

    def _forward_terms(self, data: CellData, idx: torch.Tensor, size: int, grad: bool) -> dict[str, torch.Tensor]:
        """Loss terms of the cells ``idx`` of ``data`` (the loss sees only the real cells, never
        the padding of :meth:`_simulate`)."""
        outputs, constants, real = self._simulate(data, idx, size, grad)
        with torch.set_grad_enabled(grad):
            return total_loss(outputs, real, self.stats, self.terms, constants, self.priors)

    def train_step(self, idx: torch.Tensor) -> dict[str, float] | None:
        """One optimiser step on the cells ``idx``; None if the batch was skipped (non-finite)."""
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        terms = self._forward_terms(self.train_data, idx, self.cfg.train.batch_size, grad=True)
        total = terms["total"]
        if not bool(torch.isfinite(total.detach())):
            return None
        params = [p for p in self.model.parameters() if p.requires_grad]
        if total.requires_grad:
            total.backward()
            self._reduce_grads(params)
            grads = [p.grad for p in params if p.grad is not None]
            if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
                self.opt.zero_grad(set_to_none=True)
                return None
            if self.cfg.train.grad_clip_value:
                torch.nn.utils.clip_grad_value_(params, self.cfg.train.grad_clip_value)
            self._warmup_step()
        return {k: float(v.detach()) for k, v in terms.items()}

    def _reduce_grads(self, params: list[torch.Tensor]) -> None:
        """Hook after ``backward``: data-parallel workers average their gradients here."""

    def _warmup_step(self) -> None:
        """``opt.step()`` at the scheduler's rate scaled by the linear warm-up factor (if any)."""
        n = self.cfg.scheduler.warmup_steps
        self.state.steps += 1
        if not n or self.state.steps > n:
            self.opt.step()
            return
        rates = [g["lr"] for g in self.opt.param_groups]
        for g, lr in zip(self.opt.param_groups, rates, strict=True):
            g["lr"] = lr * self.state.steps / n
        self.opt.step()
        for g, lr in zip(self.opt.param_groups, rates, strict=True):
            g["lr"] = lr

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Loss terms on the validation cells (cell-weighted mean over validation batches)."""
        self.model.eval()
        n = self.val_data.n_cells
        bs = self.cfg.train.val_batch_size or self.cfg.train.batch_size
        sums: dict[str, float] = {}
        for i in range(0, n, bs):
            idx = torch.arange(i, min(i + bs, n))
            terms = self._forward_terms(self.val_data, idx, bs, grad=False)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
        return {k: v / n for k, v in sums.items()}

    def batches(self) -> list[torch.Tensor]:
        """This epoch's batches: a permutation of the training cells from the order generator."""
        self.state.order_state = self.order.get_state()
        perm = torch.randperm(self.train_data.n_cells, generator=self.order)
        return list(perm.split(self.cfg.train.batch_size))

    # --- loop -------------------------------------------------------------------------------------

    def fit(self) -> FoldResult:
        cfg, st = self.cfg, self.state
        t_start = time.perf_counter() - st.seconds_total
        if not st.history and cfg.train.initial_validation:
            t0 = time.perf_counter()
            val = self.validate()
            self._log_row(0, {}, val, time.perf_counter() - t0, 0)
            st.seconds_total = time.perf_counter() - t_start
            self.save_last()
            self.write_log()
        while not st.finished and st.epoch < cfg.train.epochs:
            self.run_epoch(t_start)
        if not st.finished:  # resumed with fewer epochs than already trained: nothing left to do
            st.finished, st.stop_reason = True, st.stop_reason or "max_epochs"
            self.save_last()
        if self.tb is not None:
            self.tb.close()
        return self.result()

    def run_epoch(self, t_start: float) -> None:
        cfg, st = self.cfg, self.state
        epoch = st.epoch + 1
        if st.order_state is not None:
            self.order.set_state(st.order_state)
        batches = self.batches()
        t0 = time.perf_counter() - st.epoch_seconds
        bar = tqdm(
            total=len(batches),
            initial=st.step,
            desc=f"fold {self.fold} epoch {epoch}",
            leave=False,
            disable=not cfg.progress,
            dynamic_ncols=True,
        )
        every = cfg.train.checkpoint_every
        for b in range(st.step, len(batches)):
            terms = self.train_step(batches[b])
            if terms is None:
                st.skipped += 1
                st.skipped_total += 1
            else:
                for k, v in terms.items():
                    st.sums[k] = st.sums.get(k, 0.0) + v
                st.count += 1
            st.step = b + 1
            bar.update(1)
            if st.count:
                bar.set_postfix({_short(k): f"{v / st.count:.3g}" for k, v in st.sums.items()}, refresh=False)
            if every and st.step % every == 0 and st.step < len(batches):
                st.epoch_seconds = time.perf_counter() - t0
                st.seconds_total = time.perf_counter() - t_start
                self.save_last()
        bar.close()
        lr = self.opt.param_groups[0]["lr"]
        with warnings.catch_warnings():  # an epoch whose batches were all skipped made no optimizer step
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
            self.sched.step()
        # validate every N epochs, after the last one, and whenever early stopping could end the fold
        last = epoch >= cfg.train.epochs
        validate = epoch % cfg.train.validate_every == 0 or last or st.bad_epochs + 1 >= cfg.train.patience
        val = self.validate() if validate else {}
        train = {k: v / st.count for k, v in st.sums.items()} if st.count else {}
        self._log_row(epoch, train, val, time.perf_counter() - t0, st.skipped, lr)
        st.epoch, st.step, st.sums, st.count, st.skipped, st.epoch_seconds = epoch, 0, {}, 0, 0, 0.0
        st.order_state = self.order.get_state()
        v = val.get("total", math.nan)
        if math.isfinite(v) and v < st.best_val:
            st.best_val, st.best_epoch, st.bad_epochs = v, epoch, 0
            self.save_best()
        else:  # an epoch without validation counts as one without improvement until the next one says
            st.bad_epochs += 1
        if validate and st.bad_epochs >= cfg.train.patience:
            st.finished, st.stop_reason = True, "early_stopping"
        elif epoch >= cfg.train.epochs:
            st.finished, st.stop_reason = True, "max_epochs"
        if validate and self.on_validation is not None and self.on_validation(epoch, v) and not st.finished:
            st.finished, st.stop_reason = True, "pruned"  # e.g. h2cm tune's pruner
        st.seconds_total = time.perf_counter() - t_start
        self.save_last()
        self.write_log()
        tqdm.write(
            f"fold {self.fold} epoch {epoch}: train {train.get('total', math.nan):.4g} "
            f"val {v:.4g} (best {st.best_val:.4g} @ {st.best_epoch}) {st.history[-1]['seconds']:.1f}s",
            file=sys.stderr,
        )

    # --- logs -------------------------------------------------------------------------------------

    def _log_row(
        self, epoch: int, train: dict, val: dict, seconds: float, skipped: int, lr: float | None = None
    ) -> None:
        row: dict[str, Any] = {
            "epoch": epoch,
            "lr": self.opt.param_groups[0]["lr"] if lr is None else lr,
            "seconds": round(seconds, 3),
            "skipped": skipped,
        }
        for k in ("total", *self.terms):
            row[f"train_{k}"] = train.get(k, math.nan)
        for k in ("total", *self.terms):
            row[f"val_{k}"] = val.get(k, math.nan)
        self.state.history.append(row)
        if self.tb is not None:
            for k, v in row.items():
                if k != "epoch" and isinstance(v, float) and math.isfinite(v):
                    self.tb.add_scalar(k.replace("_", "/", 1), v, epoch)
            self.tb.flush()

    def write_log(self) -> None:
        """Rewrite ``log.csv`` from the history (atomic; so a resumed run never duplicates rows)."""
        if not self.state.history:
            return
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(self.state.history[0]), lineterminator="\n")
        w.writeheader()
        for row in self.state.history:
            w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
        atomic_write_text(self.dir / LOG, buf.getvalue())

    def result(self) -> FoldResult:
        st = self.state
        hist = st.history
        trained = [r for r in hist if r["epoch"] > 0]

        def terms_of(row: dict | None, prefix: str) -> dict[str, float]:
            if row is None:
                return {}
            return {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}

        best = next((r for r in trained if r["epoch"] == st.best_epoch), None)
        res = FoldResult(
            fold=self.fold,
            best_epoch=st.best_epoch,
            best_val_loss=st.best_val,
            epochs=st.epoch,
            stop_reason=st.stop_reason,
            skipped_batches=st.skipped_total,
            seconds=round(st.seconds_total, 2),
            seconds_per_epoch=round(float(np.mean([r["seconds"] for r in trained])), 3) if trained else math.nan,
            n_train=self.train_data.n_cells,
            n_val=self.val_data.n_cells,
            terms=list(self.terms),
            val_start=terms_of(hist[0] if hist else None, "val_"),
            val_best=terms_of(best, "val_"),
            train_first=terms_of(trained[0] if trained else None, "train_"),
            train_last=terms_of(trained[-1] if trained else None, "train_"),
            checkpoint=str(self.dir / BEST),
        )
        if self.primary:
            atomic_write_json(self.dir / RESULT, res.to_dict())
        return res


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


def make_scheduler(opt: torch.optim.Optimizer, cfg: RunConfig):
    """The epoch-wise learning-rate schedule of ``scheduler.name`` (``step`` or ``cosine``)."""
    sc = cfg.scheduler
    if sc.name == "cosine":
        eta_min = cfg.optimizer.lr * sc.min_lr_factor
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.train.epochs, eta_min=eta_min)
    return torch.optim.lr_scheduler.StepLR(opt, sc.step_size, sc.gamma)


def _short(term: str) -> str:
    return {"total": "tot", "nee_anomaly": "neeA", "prior_q10": "pQ10", "prior_beta_co2": "pCO2"}.get(term, term)


def _tensorboard(log_dir: Path):
    """A TensorBoard writer if ``tensorboard`` is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(log_dir / "tensorboard"))


def train_fold(
    config: RunConfig | str | os.PathLike,
    fold: int,
    out_dir: str | os.PathLike,
    resume: bool = False,
    data: CellData | None = None,
    overrides: list[str] | None = None,
    on_validation: Callable[[int, float], bool] | None = None,
) -> FoldResult:
    """Train fold ``fold`` of a run in ``out_dir`` (``RUN/fold_K``) and return its summary.

    config: a :class:`RunConfig`, YAML path or preset name (with ``overrides``). resume: continue
    from ``fold_K/last.pt`` if it exists (a finished fold returns its result at once); without it
    an existing fold is trained again from scratch. data: cells to use instead of ``data.cube``
    (split indices are then positions in ``data``). on_validation: called after every validation
    with (epoch, validation total); returning True stops the fold (stop reason ``pruned``)."""
    cfg = config if isinstance(config, RunConfig) and not overrides else load_config(config, overrides)
    if cfg.train.data_parallel > 1:  # one Ray Train worker per shard of every batch
        from .distributed import train_fold_data_parallel

        if on_validation is not None:
            raise ValueError("on_validation (h2cm tune) does not support train.data_parallel > 1")
        return train_fold_data_parallel(cfg, fold, out_dir, resume, data)
    runtime.configure(threads=cfg.threads, seed=fold_seed(cfg.seed, fold))
    if data is None:
        require_cube(cfg)  # before anything is written to the run directory
    run_dir = Path(out_dir)
    ensure_split(cfg, run_dir, data)  # made once per run; a split that cannot be made leaves nothing behind
    prepare_run_dir(cfg, run_dir)
    fold_dir = run_dir / f"fold_{fold}"
    fold_dir.mkdir(parents=True, exist_ok=True)
    update_manifest(run_dir, cfg, folds={str(fold): {"status": "running", "started": time.time()}})
    try:
        t0 = time.perf_counter()
        fd = load_fold_data(cfg, fold, run_dir, data)
        load_seconds = time.perf_counter() - t0
        trainer = FoldTrainer(cfg, fold, fold_dir, fd.train, fd.val)
        trainer.on_validation = on_validation
        if resume and (fold_dir / LAST).exists():
            trainer.restore(fold_dir / LAST)
        elif not resume:
            for name in (LAST, BEST, LOG, RESULT):
                (fold_dir / name).unlink(missing_ok=True)
        result = trainer.fit()
    except BaseException as e:
        update_manifest(run_dir, cfg, folds={str(fold): {"status": "failed", "error": repr(e)}})
        raise
    update_manifest(
        run_dir,
        cfg,
        folds={
            str(fold): {
                "status": "done",
                "finished": time.time(),
                "load_seconds": round(load_seconds, 2),
                **{k: v for k, v in result.to_dict().items() if not k.startswith(("val_", "train_"))},
            }
        },
    )
    return result


def run(args) -> int:
    """``h2cm train``: train one fold and print its summary as JSON."""
    import json

    result = train_fold(args.config, args.fold, args.out, resume=args.resume, overrides=args.overrides)
    print(json.dumps(result.to_dict(), indent=1))
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train one fold of a cross-validation run")
    p.add_argument("--config", required=True, help="YAML file or preset (paper, demo)")
    p.add_argument("--fold", type=int, required=True, help="fold to validate on (trains on the others)")
    p.add_argument("--out", required=True, help="run directory (RUN/fold_K is written)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/fold_K/last.pt if it exists")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.epochs=5")
    p.set_defaults(func=run)
