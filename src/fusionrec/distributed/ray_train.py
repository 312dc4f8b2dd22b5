"""Data-parallel training of any :class:`~fusionrec.models.training.TorchRecommender` with Ray Train.

:class:`RayTrainingLoop` is a training loop (:mod:`fusionrec.models.training_loop`)
that runs :func:`train_worker` in ``workers`` Ray Train workers
(``TorchTrainer``, gloo). Every worker builds the model with the same seed,
so the weights start equal, and draws every epoch's shuffled batches from
the same generator. By default (``split="batch"``) each batch is split
across the workers by the model's ``shard_batch``: worker ``r`` computes
the loss of its part times the part's share of the batch, and one
all-reduce before each optimiser step sums the gradients into the whole
batch's gradient, so the weights stay equal and a step and an epoch are
the one-process ones (:mod:`fusionrec.distributed.data_parallel`; every
worker draws dropout and noise from the one-process torch stream, see
:data:`RANK_SEED_STRIDE`). ``split="alternate"`` gives each
worker whole batches in turn and averages: fewer, larger steps, faster
per epoch, not the same training. One worker gives exactly the
in-process loop's training.

Valid is evaluated sharded (each worker ranks its share of the users, the
metric's sums are all-reduced) and rank 0 takes the early-stopping
decision for all. At every ``checkpoint_every``-th evaluation the workers
report a checkpoint (:mod:`fusionrec.distributed.checkpoint`) that
``resume_from`` continues from; the last one carries the best state, which
the driver loads into the model. Steps the model takes after training (an
EASE channel, a second stage) run in the driver as usual.

Example:
    >>> from fusionrec.models.training_loop import use_training_loop
    >>> connect("local")  # doctest: +SKIP
    >>> with use_training_loop(RayTrainingLoop(RayTrainConfig(workers=2))):  # doctest: +SKIP
    ...     model.fit(split)
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import ray.train
import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict, Field
from ray.train.torch import TorchConfig, TorchTrainer

from fusionrec.distributed.checkpoint import LoopState, read_final_state, restore_worker, save_worker
from fusionrec.distributed.cluster import LOCAL, connect
from fusionrec.distributed.data_parallel import BatchSplit, shared_epoch
from fusionrec.encoders.cache import default_cache_dir
from fusionrec.errors import ConfigError, ModelError
from fusionrec.evaluation.ranking import evaluate_scores
from fusionrec.models.train_config import History, TrainConfig
from fusionrec.models.training import TorchRecommender, seed_everything
from fusionrec.models.weight_average import WeightAverage

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split

logger = logging.getLogger(__name__)

RANK_SEED_STRIDE = 7919
"""With ``split="alternate"``, rank ``r > 0`` reseeds torch with ``seed + RANK_SEED_STRIDE * r`` after building, so
that the workers' batches get different dropout and noise. With ``split="batch"`` every worker keeps the
in-process loop's stream: a draw over the whole catalog (content dropout, noise on the propagated vectors) is
then the one one process makes, so the parts' gradients sum to the one-process gradient."""


class RayTrainConfig(BaseModel):
    """Where and how wide data-parallel training runs."""

    model_config = ConfigDict(extra="forbid")

    workers: int = Field(2, ge=1, description="Ray Train workers (processes); each holds a copy of the model")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs Ray reserves for each worker (its torch threads)")
    address: str | None = Field(
        None, description="cluster to join first (see connect); None = the one connected, else a local one"
    )
    storage_path: Path | None = Field(
        None, description="checkpoint folder, shared by every node (default: $FUSIONREC_CACHE/ray)"
    )
    run_name: str | None = Field(None, description="name of the run's folder under storage_path (default: generated)")
    resume_from: Path | None = Field(None, description="a checkpoint folder to continue training from")
    checkpoint_every: int = Field(1, ge=1, description="report a checkpoint every this many evaluations")
    keep_checkpoints: int = Field(2, ge=1, description="checkpoints kept per run (the newest)")
    split: BatchSplit = Field(
        "batch",
        description="'batch': every batch split across the workers, the one-process training; 'alternate': "
        "each worker trains on whole batches in turn, gradients averaged (fewer, larger steps: faster per "
        "epoch, not the same training)",
    )


class RayTrainingLoop:
    """``loop(model, split, config) -> History`` that trains on Ray Train workers (see the module docstring).

    Args:
        config: a :class:`RayTrainConfig` (None = its defaults).
        **overrides: fields of :class:`RayTrainConfig` (``workers=4``).
    """

    def __init__(self, config: RayTrainConfig | None = None, **overrides: Any) -> None:
        base = config.model_dump() if config is not None else {}
        self.config = RayTrainConfig(**{**base, **overrides})
        self.last_checkpoint_: Path | None = None

    def __call__(self, model: TorchRecommender, split: Split, train_config: TrainConfig) -> History:
        """Train ``model`` on ``split`` with ``train_config``; leaves the best state in ``model.module_``."""
        started = time.perf_counter()
        connect(self.config.address or LOCAL)  # nothing to do when already connected
        settings = {
            "model_class": type(model),
            "params": {**model.get_params(), "train_config": train_config.model_dump()},
            "split": ray.put(split),
            "resume_from": None if self.config.resume_from is None else str(self.config.resume_from),
            "checkpoint_every": self.config.checkpoint_every,
            "batch_split": self.config.split,
        }
        result = self._trainer(settings, model.name).fit()
        if result.error is not None:
            raise ModelError(f"training {model.name} on Ray failed: {result.error}") from result.error
        if result.checkpoint is None:
            raise ModelError(f"training {model.name} on Ray reported no checkpoint; the workers' logs say why")
        self.last_checkpoint_ = Path(result.checkpoint.path)
        with result.checkpoint.as_directory() as folder:
            best, history = read_final_state(Path(folder))
        model.module_ = model.build(split, seed_everything(train_config.seed))
        model.module_.load_state_dict(best)
        model.refresh_vectors()
        history.total_seconds = time.perf_counter() - started
        logger.info(
            "%s on %d Ray workers: best %s %.4f at epoch %d of %d (%.2f s/epoch, stop: %s)",
            model.name,
            self.config.workers,
            train_config.valid_metric,
            history.best_valid,
            history.best_epoch,
            history.epochs_run,
            history.seconds_per_epoch,
            history.stop_reason,
        )
        return history

    def _trainer(self, settings: dict[str, Any], name: str) -> TorchTrainer:
        storage = self.config.storage_path or default_cache_dir() / "ray"
        storage.mkdir(parents=True, exist_ok=True)
        return TorchTrainer(
            train_worker,
            train_loop_config=settings,
            torch_config=TorchConfig(backend="gloo"),
            scaling_config=ray.train.ScalingConfig(
                num_workers=self.config.workers, resources_per_worker={"CPU": self.config.cpus_per_worker}
            ),
            run_config=ray.train.RunConfig(
                name=self.config.run_name or f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}",
                storage_path=str(storage.resolve()),
                checkpoint_config=ray.train.CheckpointConfig(num_to_keep=self.config.keep_checkpoints),
            ),
        )


def train_worker(settings: dict[str, Any]) -> None:
    """One Ray Train worker's loop (what :class:`RayTrainingLoop` runs on each worker)."""
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    split: Split = ray.get(settings["split"])
    model: TorchRecommender = settings["model_class"](**settings["params"])
    config = model.train_config
    model.split_, model.train_matrix_ = split, split.train.to_csr()
    if config.threads:
        torch.set_num_threads(config.threads)
    rng = seed_everything(config.seed)
    module = model.module_ = model.build(split, rng)
    if rank and settings["batch_split"] == "alternate":
        torch.manual_seed(config.seed + RANK_SEED_STRIDE * rank)
    optimizer = adam(module, config)
    average = WeightAverage(module, config.average_decay) if config.average_decay else None
    state = LoopState()
    checkpoint = ray.train.get_checkpoint()
    resume = settings["resume_from"]
    if checkpoint is not None or resume:
        with checkpoint.as_directory() if checkpoint is not None else contextlib.nullcontext(resume) as folder:
            state = restore_worker(Path(folder), rank, module, optimizer, average, rng)
    validator = ShardedValidator(model, split, config.valid_metric, rank, world)
    _epochs(model, split, rng, state, (optimizer, average, validator), settings)
    if average is not None and state.best_state is None:  # never evaluated: keep the average
        average.copy_to_module()
    _report(state, module, optimizer, average, rng, final=True)


def _epochs(
    model: TorchRecommender,
    split: Split,
    rng: np.random.Generator,
    state: LoopState,
    parts: tuple[torch.optim.Optimizer, WeightAverage | None, ShardedValidator],
    settings: dict[str, Any],
) -> None:
    """Train from ``state.epoch + 1`` until patience, ``epochs`` or ``max_seconds`` ends it."""
    optimizer, average, validator = parts
    checkpoint_every, how = settings["checkpoint_every"], settings["batch_split"]
    module, config, history = model.module_, model.train_config, state.history
    assert module is not None
    for epoch in range(state.epoch + 1, config.epochs + 1):
        epoch_started = time.perf_counter()
        history.losses.append(shared_epoch(model, module, optimizer, split, rng, average, validator.world, how))
        history.train_seconds += time.perf_counter() - epoch_started
        history.epochs_run = state.epoch = epoch
        stop = False
        if epoch % config.eval_every == 0:
            with average.swapped_in() if average else contextlib.nullcontext():
                value, seconds = validator()
                stop = state.update(epoch, value, module, config.patience) and epoch >= config.min_epochs
            history.valid_scores.append((epoch, value))
            history.eval_seconds += seconds
            logger.info("rank %d epoch %d: loss %.4f, valid %.4f", validator.rank, epoch, history.losses[-1], value)
            if stop:
                history.stop_reason = "patience"
            if len(history.valid_scores) % checkpoint_every == 0:
                _report(state, module, optimizer, average, rng, final=False)
        if not stop and config.max_seconds is not None and history.train_seconds >= config.max_seconds:
            history.stop_reason, stop = "max_seconds", True
        if _agreed(stop):
            break


def _agreed(stop: bool) -> bool:
    """Rank 0's decision, the same on every worker."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return stop
    decision = torch.tensor([1 if stop else 0])
    dist.broadcast(decision, src=0)
    return bool(decision.item())


class ShardedValidator:
    """The valid metric over every user, each worker ranking a contiguous share of them."""

    def __init__(self, model: TorchRecommender, split: Split, valid_metric: str, rank: int, world: int) -> None:
        name, _, cutoff = valid_metric.partition("@")
        if not cutoff.isdigit():
            raise ConfigError(f"valid_metric must look like 'recall@20', got {valid_metric!r}")
        self.model, self.metric, self.name, self.k = model, valid_metric, name, int(cutoff)
        self.rank, self.world = rank, world
        self.train_matrix = split.train.to_csr()
        self.heldout = user_shard(split.valid.to_csr(), rank, world)
        self.candidates = split.candidates("valid")

    def __call__(self) -> tuple[float, float]:
        """``(metric over all users, seconds)``."""
        started = time.perf_counter()
        self.model.refresh_vectors()
        evaluation = evaluate_scores(
            self.model.score_users,
            self.train_matrix,
            self.heldout,
            ks=(self.k,),
            metrics=(self.name,),
            candidates=self.candidates,
        )
        values = evaluation.per_user[self.metric]
        sums = torch.tensor([values.sum(), len(values)], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(sums)
        value = float(sums[0] / sums[1]) if sums[1] else 0.0
        return value, time.perf_counter() - started


def user_shard(heldout: Any, rank: int, world: int) -> Any:
    """``heldout`` (n_users, n_items) CSR with only the rows of shard ``rank`` of the users that have any."""
    users = np.flatnonzero(np.diff(heldout.indptr) > 0)
    keep = np.zeros(heldout.shape[0], dtype=heldout.dtype)
    keep[np.array_split(users, world)[rank]] = 1
    shard = heldout.multiply(keep[:, None]).tocsr()
    shard.eliminate_zeros()
    return shard


def adam(module: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of the in-process loop: Adam, fused where torch has the kernel."""
    parameters = [p for p in module.parameters() if p.requires_grad]
    try:
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError):  # fused Adam needs floating tensors on a supported device
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)


def _report(
    state: LoopState,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    average: WeightAverage | None,
    rng: np.random.Generator,
    final: bool,
) -> None:
    """Every worker reports (a barrier); each writes its own part of the checkpoint."""
    rank = ray.train.get_context().get_world_rank()
    with tempfile.TemporaryDirectory() as folder:
        save_worker(Path(folder), rank, state, module, optimizer, average, rng, final)
        metrics = {"epoch": state.epoch, "best_valid": state.best, "final": final}
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))


__all__ = ["RayTrainConfig", "RayTrainingLoop", "ShardedValidator", "train_worker", "user_shard"]
