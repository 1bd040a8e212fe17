"""Data-parallel training of one fold: ``train.data_parallel`` workers launched by Ray Train.

Every worker builds the same :class:`~h2cm.training.fold_trainer.FoldTrainer` (same seed, same model
initialisation, same data order) and takes a disjoint shard of every batch: the batch is padded
to a multiple of the world size W by repeating its first cells, and rank r runs the model on
cells ``r::W`` of it. The shards' daily outputs are gathered (an ``all_gather`` whose backward
sums every rank's gradient of the gathered tensor and hands each rank its own part) and put back
in batch order, so every rank computes the loss of the whole batch, exactly as one process would:
terms that are not means over cells (the NEE anomaly of the batch's area-weighted mean, the
means over the cells that have data) need no approximation. The gradients are then summed over
the ranks with one ``all_reduce`` and divided by W (each rank's backward through the gather
returns W times its shard's share, plus every rank's own share of terms that do not pass through
the outputs, such as the priors), which gives every rank the single-process gradient. Padded
cells are dropped before the loss and get no gradient.

Only rank 0 writes checkpoints, logs and ``result.json``. Validation is sharded the same way
(gather without gradients), so every rank gets the same validation loss and takes the same
early-stopping decision. The warm spin-up cache (``train.spinup_refresh`` > 1) gathers the
end-of-spin-up states, so every rank holds every cell's state as a single process would.
See docs/training.md ("Executors").
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .. import layout
from ..data.cells import CellData, pad_cells
from .config import ConfigError, RunConfig
from .fold_trainer import FoldTrainer
from .foldlog import BEST, LAST, LOG, RESULT, FoldResult
from .folds import ensure_split, fold_seed, load_fold_data, require_cube
from .loss import total_loss
from .run import prepare_run_dir, update_manifest
from .spinup_cache import SpinupCache

# --- collectives ------------------------------------------------------------------------------------


def shard(idx: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s cells of a batch: ``idx`` padded to a multiple of ``world`` by repeating
    its first cells, then every ``world``-th cell from position ``rank``."""
    multiple = -(-len(idx) // world) * world  # len(idx) rounded up to a multiple of world
    return pad_cells(idx, multiple)[rank::world]


class _AllGather(torch.autograd.Function):
    """Every rank's ``x`` stacked along a new first dimension; the backward sums each rank's
    gradient over all ranks (``all_reduce``; works on gloo and nccl alike)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, world: int) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        return torch.stack(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[dist.get_rank()], None


def gather_cells(x: torch.Tensor, world: int, dim: int = -1, grad: bool = False) -> torch.Tensor:
    """Every rank's ``x`` (cells along ``dim``, the same size on every rank), interleaved in the
    order of :func:`shard`: rank r's j-th cell lands at position ``j * world + r``. With ``grad``
    the gather is differentiable (the backward sums each rank's gradient over all ranks)."""
    d = dim % x.dim()
    if grad:
        stacked = _AllGather.apply(x, world)
    else:
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        stacked = torch.stack(parts)
    return stacked.movedim(0, d + 1).flatten(d, d + 1)


def gather_outputs(outputs: dict[str, torch.Tensor], world: int, n: int, grad: bool) -> dict[str, torch.Tensor]:
    """Daily outputs ``(..., cells)`` of every rank's shard, as the outputs of the first ``n``
    cells of the whole batch; one collective for all outputs."""
    keys = list(outputs)
    local = outputs[keys[0]].shape[-1]
    flat = torch.cat([outputs[k].reshape(-1, local) for k in keys])
    full = gather_cells(flat, world, dim=-1, grad=grad)[:, :n]
    out, row = {}, 0
    for k in keys:
        shape = outputs[k].shape[:-1]
        rows = shape.numel()
        out[k] = full[row : row + rows].reshape(*shape, n)
        row += rows
    return out


def average_gradients(params: list[torch.Tensor], world: int) -> None:
    """Sum every parameter's gradient over the ranks (one ``all_reduce``) and divide by ``world``."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    i = 0
    for g in grads:
        g.copy_(flat[i : i + g.numel()].view_as(g))
        i += g.numel()


class GatheredSpinupCache(SpinupCache):
    """The warm spin-up cache of a data-parallel worker: every ``put`` gathers the states of all
    ranks' shards, so every rank caches every cell (as one process would); ``has`` is true only
    where it is true on every rank, so all ranks refresh together."""

    def __init__(self, n_cells: int, world: int, device: torch.device):
        super().__init__(n_cells)
        self.world, self.device = world, device  # device: the rank's own (nccl needs it)

    def has(self, idx: torch.Tensor) -> bool:
        flag = torch.tensor([int(super().has(idx))], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def put(self, idx: torch.Tensor, state) -> None:
        first = next(iter(state))
        all_idx = gather_cells(idx.to(first.device), self.world, dim=0).cpu()
        parts = [gather_cells(t.detach(), self.world, dim=self._dim(t)) for t in state]
        super().put(all_idx, type(state)(*parts) if type(state) is not tuple else tuple(parts))


# --- the worker's trainer --------------------------------------------------------------------------


class DataParallelFoldTrainer(FoldTrainer):
    """A :class:`FoldTrainer` that is one of ``world`` ranks of an initialised process group."""

    def __init__(
        self, cfg: RunConfig, fold: int, fold_dir: Path, train: CellData, val: CellData, rank: int, world: int
    ):
        self.rank, self.world = rank, world  # before FoldTrainer.__init__: it reads ``primary``
        super().__init__(cfg, fold, fold_dir, train, val)
        if self.spun is not None:
            self.spun = GatheredSpinupCache(train.n_cells, world, self.device)

    @property
    def primary(self) -> bool:
        return self.rank == 0

    def _forward_terms(self, data: CellData, idx: torch.Tensor, size: int, grad: bool) -> dict[str, torch.Tensor]:
        """The loss terms of the whole batch ``idx``: the model runs on this rank's shard
        (padded to ``ceil(size / world)`` cells when compiled), the loss on the gathered outputs."""
        local = shard(idx, self.rank, self.world)
        outputs, constants, _ = self._simulate(data, local, -(-size // self.world), grad)
        with torch.set_grad_enabled(grad):
            full = gather_outputs(outputs, self.world, len(idx), grad)
            return total_loss(full, data.subset(idx), self.stats, self.terms, constants, self.priors)

    def _reduce_grads(self, params: list[torch.Tensor]) -> None:
        average_gradients(params, self.world)

    def save_last(self) -> None:
        if self.primary:
            super().save_last()

    def save_best(self) -> None:
        if self.primary:
            super().save_best()

    def write_log(self) -> None:
        if self.primary:
            super().write_log()


# --- Ray Train -------------------------------------------------------------------------------------


def require_ray_train(cfg: RunConfig) -> None:
    """:class:`ConfigError` (one line) unless Ray Train can be imported."""
    try:
        import ray.train.torch  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"train.data_parallel={cfg.train.data_parallel} needs Ray Train: pip install 'h2cm[ray]'"
        ) from None


@contextmanager
def ray_session(address: str | None = None):
    """Ray, connected: the running connection, else ``ray.init(address)``, shut down again at the
    end. Without an address Ray joins ``RAY_ADDRESS`` or a cluster that ``ray start`` left on this
    machine, else starts a local instance."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=True)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _use_gpu(cfg: RunConfig) -> bool:
    return cfg.num_gpus > 0 or torch.device(cfg.device).type == "cuda"


def _worker_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: its rank's share of the fold (the process group is set up by Ray)."""
    import ray.train
    import ray.train.torch

    from .. import runtime

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    cfg = RunConfig.model_validate(config["cfg"])
    update: dict[str, Any] = {"progress": cfg.progress and rank == 0}
    if _use_gpu(cfg):
        update["device"] = str(ray.train.torch.get_device())
    cfg = cfg.model_copy(update=update)
    fold, run_dir = config["fold"], Path(config["run_dir"])
    runtime.configure(threads=cfg.threads, seed=fold_seed(cfg.seed, fold))
    fd = load_fold_data(cfg, fold, run_dir, config["data"])
    fold_dir = layout.fold_dir(run_dir, fold)
    trainer = DataParallelFoldTrainer(cfg, fold, fold_dir, fd.train, fd.val, rank, world)
    if config["resume"] and (fold_dir / LAST).exists():
        trainer.restore(fold_dir / LAST)
    trainer.fit()


def scaling(cfg: RunConfig):
    """Ray Train's ScalingConfig of a fold: ``data_parallel`` workers of ``threads`` CPUs each and,
    on GPUs, ``num_gpus`` (default 1) GPUs each."""
    from ray.train import ScalingConfig

    use_gpu = _use_gpu(cfg)
    per_worker: dict[str, float] = {"CPU": cfg.threads}
    if use_gpu:
        per_worker["GPU"] = cfg.num_gpus or 1
    return ScalingConfig(num_workers=cfg.train.data_parallel, use_gpu=use_gpu, resources_per_worker=per_worker)


def train_fold_data_parallel(
    cfg: RunConfig, fold: int, out_dir: str | os.PathLike, resume: bool = False, data: CellData | None = None
) -> FoldResult:
    """:func:`~h2cm.training.trainer.train_fold` with ``train.data_parallel`` Ray Train workers:
    the run directory, split and manifest are prepared here, the workers train, and the summary
    is read back from ``fold_K/result.json`` (written by rank 0; on a cluster the run directory
    must be on a file system every node sees)."""
    require_ray_train(cfg)
    if data is None:
        require_cube(cfg)
    run_dir = Path(out_dir).resolve()
    ensure_split(cfg, run_dir, data)
    prepare_run_dir(cfg, run_dir)
    fold_dir = layout.fold_dir(run_dir, fold)
    fold_dir.mkdir(parents=True, exist_ok=True)
    update_manifest(run_dir, cfg, folds={str(fold): {"status": "running", "started": time.time()}})
    try:
        if not resume:
            for name in (LAST, BEST, LOG, RESULT):
                (fold_dir / name).unlink(missing_ok=True)
        _fit_on_ray(cfg, fold, run_dir, resume, data)
        result = FoldResult(**json.loads((fold_dir / RESULT).read_text()))
    except BaseException as e:
        update_manifest(run_dir, cfg, folds={str(fold): {"status": "failed", "error": repr(e)}})
        raise
    done = {k: v for k, v in result.to_dict().items() if not k.startswith(("val_", "train_"))}
    fields = {"status": "done", "finished": time.time(), "data_parallel": cfg.train.data_parallel, **done}
    update_manifest(run_dir, cfg, folds={str(fold): fields})
    return result


def _fit_on_ray(cfg: RunConfig, fold: int, run_dir: Path, resume: bool, data: CellData | None) -> None:
    """Run the fold's workers with Ray Train's TorchTrainer (gloo on CPUs, nccl on GPUs) on the
    Ray connection of this process, else on one started for the fold."""
    from ray.train import RunConfig as RayRunConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    loop_config = {"cfg": cfg.to_dict(), "fold": fold, "run_dir": str(run_dir), "resume": resume, "data": data}
    with ray_session():
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config=loop_config,
            scaling_config=scaling(cfg),
            torch_config=TorchConfig(backend="nccl" if _use_gpu(cfg) else "gloo"),
            run_config=RayRunConfig(
                name=f"fold_{fold}_{int(time.time())}_{os.getpid()}", storage_path=str(run_dir / "ray_train")
            ),
        )
        trainer.fit()
