"""One fold's training loop: AdamW + the epoch-wise schedule, value clipping, skipped non-finite
batches, early stopping, best/last checkpoints and exact resume (docs/training.md).

:class:`FoldTrainer` trains a model on in-memory cells; :func:`h2cm.training.trainer.train_fold`
prepares the run directory and the cells around it, and
:class:`h2cm.training.distributed.DataParallelFoldTrainer` is its data-parallel variant (it
overrides the steps' hooks ``_forward_terms`` and ``_reduce_grads`` and the writes).
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from .. import atomic, runtime
from ..data.cells import CellData, pad_cells
from ..kinds import build_model
from .checkpoint import load_checkpoint, model_payload, save_checkpoint
from .config import RunConfig
from .determinism import set_deterministic
from .foldlog import BEST, LAST, LOG, RESULT, FoldResult, fold_result, log_csv, log_row, short_name, tensorboard
from .folds import fold_seed, normalization_statistics
from .foldstate import TrainerState, make_scheduler, rng_states, seed_everything, set_rng_states
from .loss import active_terms, total_loss
from .spinup_cache import SpinupCache


class FoldTrainer:
    """Trains the model of one fold on in-memory cells; see :func:`train_fold`."""

    primary = True  # writes checkpoints, logs and TensorBoard (data-parallel ranks > 0 do not)

    def __init__(self, cfg: RunConfig, fold: int, fold_dir: Path, train: CellData, val: CellData):
        self.cfg, self.fold, self.dir = cfg, fold, Path(fold_dir)
        self.train_data, self.val_data = train, val
        self.device = runtime.device(cfg.device)  # checked here, in the worker that trains (a Ray node's GPU)
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
        if cfg.deterministic:  # docs/training.md#determinism: compiled kernels are not covered
            set_deterministic(cfg.threads)
        if cfg.train.compile and not cfg.deterministic:  # kinds without a compiled daily loop stay eager
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
        self.tb = tensorboard(self.dir) if self.primary else None
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
        return pad_cells(idx, size) if self.pad_batches else idx

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
                bar.set_postfix({short_name(k): f"{v / st.count:.3g}" for k, v in st.sums.items()}, refresh=False)
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
        lr = self.opt.param_groups[0]["lr"] if lr is None else lr
        row = log_row(epoch, lr, seconds, skipped, self.terms, train, val)
        self.state.history.append(row)
        if self.tb is not None:
            for k, v in row.items():
                if k != "epoch" and isinstance(v, float) and math.isfinite(v):
                    self.tb.add_scalar(k.replace("_", "/", 1), v, epoch)
            self.tb.flush()

    def write_log(self) -> None:
        """Rewrite ``log.csv`` from the history (atomic; so a resumed run never duplicates rows)."""
        if self.state.history:
            atomic.write_text(self.dir / LOG, log_csv(self.state.history))

    def result(self) -> FoldResult:
        res = fold_result(
            self.fold, self.state, self.train_data.n_cells, self.val_data.n_cells, self.terms, self.dir / BEST
        )
        if self.primary:
            atomic.write_json(self.dir / RESULT, res.to_dict())
        return res
