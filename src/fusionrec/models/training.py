"""The shared training loop: seeded, early stopping on valid, callbacks (progress among them).

A :class:`TorchRecommender` supplies a ``torch.nn.Module``, a loss for a
batch of training rows, and a way to score users; :func:`train` runs the
epochs, evaluates **valid** every ``eval_every`` epochs, keeps the best
state by ``valid_metric`` and restores it at the end. Test data is never
seen here. Callbacks (:mod:`fusionrec.models.callbacks`, in
``model.callbacks``) are told of every step and may stop the loop; the
progress display is one of them.

Models trained with BPR on (user, positive, negative) triples subclass
:class:`PairwiseRecommender`, which supplies :meth:`~TorchRecommender.batches`
from a vectorised :class:`~fusionrec.models.sampling.NegativeSampler`;
:func:`bpr_loss` and :func:`embedding_penalty` are the matching loss terms.

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("lightgcn", train_config={"epochs": 50, "seed": 1})  # doctest: +SKIP
    >>> model.fit(split).history_.best_epoch  # doctest: +SKIP
    42
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import random
import time
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from fusionrec.errors import ConfigError
from fusionrec.evaluation.ranking import evaluate_scores
from fusionrec.models.base import Recommender
from fusionrec.models.batch_parts import row_part
from fusionrec.models.callbacks import Callback, CallbackList, ProgressCallback, TrainingRun
from fusionrec.models.sampling import NegativePool, NegativeSampler
from fusionrec.models.train_config import History, TrainConfig
from fusionrec.models.training_loop import active_training_loop
from fusionrec.models.weight_average import WeightAverage

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.data.interactions import Interactions

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python's and torch's generators; returns the numpy generator for sampling."""
    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


class TorchRecommender(Recommender):
    """A recommender trained by gradient descent with :func:`train`.

    Subclasses implement :meth:`build`, :meth:`batches`, :meth:`loss` and :meth:`embed`
    (and :meth:`shard_batch` when a batch's tensors are not row-aligned); ``train_config`` holds the
    optimisation settings. A subclass may set :attr:`train_defaults` (e.g. its tuned learning rate): they
    fill the keys a ``dict`` or ``None`` train_config leaves out; a :class:`TrainConfig` is used as given.
    """

    takes_train_config: ClassVar[bool] = True
    #: TrainConfig values this model prefers over TrainConfig's own defaults.
    train_defaults: ClassVar[dict[str, Any]] = {}
    #: What to change when valid stays at popularity level (named in the warning training logs then).
    collapse_hint: ClassVar[str] = "lower train.lr, or check the data"

    def __init__(self, train_config: TrainConfig | dict[str, Any] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.train_config = (
            train_config
            if isinstance(train_config, TrainConfig)
            else TrainConfig(**{**self.train_defaults, **(train_config or {})})
        )
        #: watch or steer training (:mod:`fusionrec.models.callbacks`); not a hyper-parameter, never saved
        self.callbacks: list[Callback] = []
        self.module_: torch.nn.Module | None = None
        self.history_: History | None = None
        self._user_vectors: np.ndarray | None = None
        self._item_vectors: np.ndarray | None = None

    @abstractmethod
    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        """A fresh module for ``split`` (called once per fit, after seeding)."""

    @abstractmethod
    def batches(self, split: Split, rng: np.random.Generator) -> Any:
        """An iterable of training batches for one epoch."""

    @abstractmethod
    def loss(self, module: torch.nn.Module, batch: Any) -> torch.Tensor:
        """Scalar loss of one batch."""

    @abstractmethod
    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """float32 user (n_users, d) and item (n_items, d) vectors; score = user @ item.T.

        Runs ``module`` in the mode it is in: training-time noise and dropout apply in training mode. Callers
        outside training read :meth:`user_embeddings` / :meth:`item_embeddings` (made in eval mode) instead.
        """

    def shard_batch(self, batch: Any, rank: int, world: int) -> tuple[Any, float]:
        """Part ``rank`` of ``world`` of ``batch`` and its weight (its share of the batch's loss terms), for
        data-parallel training (:mod:`~fusionrec.models.batch_parts`): the parts' losses times their weights
        sum to the batch's. By default a contiguous run of the rows of a tuple of tensors of one length."""
        return (batch, 1.0) if world == 1 else row_part(batch, rank, world)

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters plus ``train_config`` (as a dict), so ``type(m)(**m.get_params())`` rebuilds ``m``."""
        return {**self.params, "train_config": self.train_config.model_dump()}

    def _fit(self, split: Split) -> None:
        self._user_vectors = self._item_vectors = None
        loop = active_training_loop(functools.partial(train, callbacks=self.callbacks))
        self.history_ = loop(self, split, self.train_config)

    def refresh_vectors(self) -> None:
        """Recompute the cached user and item vectors from the module (eval mode, no grad)."""
        assert self.module_ is not None
        self.module_.eval()
        with torch.no_grad():
            self._user_vectors, self._item_vectors = self.embed(self.module_)
        self.module_.train()

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        self._require_fitted()
        if self._user_vectors is None or self._item_vectors is None:
            self.refresh_vectors()
        assert self._user_vectors is not None and self._item_vectors is not None
        return self._user_vectors[user_index] @ self._item_vectors.T

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The module's ``state_dict`` as numpy arrays (fixed inputs such as graphs are rebuilt on load)."""
        self._require_fitted()
        assert self.module_ is not None
        return {name: tensor.detach().cpu().numpy() for name, tensor in self.module_.state_dict().items()}

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Rebuild the module for ``split`` and load ``arrays`` into it (no training)."""
        self.split_, self.train_matrix_ = split, split.train.to_csr()
        self.module_ = self.build(split, seed_everything(self.train_config.seed))
        self.module_.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in arrays.items()})
        self.refresh_vectors()

    def item_embeddings(self) -> np.ndarray | None:
        return self._item_vectors

    def user_embeddings(self, user_index: np.ndarray) -> np.ndarray | None:
        return None if self._user_vectors is None else self._user_vectors[user_index]


class PairwiseRecommender(TorchRecommender):
    """A :class:`TorchRecommender` trained on BPR triples: batches are ``(users, positives, negatives)``.

    Every epoch shuffles the training interactions and draws one uniform
    negative per row (vectorised, see :class:`~fusionrec.models.sampling.NegativeSampler`);
    a batch is three int64 tensors of length ``<= train_config.batch_size``.
    Subclasses implement :meth:`build`, :meth:`loss` and :meth:`embed`.
    """

    #: where negatives come from: ``"train"`` (items with a training interaction, as MMRec) or ``"all"``.
    negative_pool: ClassVar[NegativePool] = "train"

    def __init__(self, train_config: TrainConfig | dict[str, Any] | None = None, **params: Any) -> None:
        super().__init__(train_config, **params)
        self._sampler: tuple[Interactions, NegativeSampler] | None = None

    def batches(self, split: Split, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        """One epoch of ``(users, positives, negatives)`` int64 tensor batches."""
        if self._sampler is None or self._sampler[0] is not split.train:  # built once per training set
            self._sampler = (split.train, NegativeSampler(split.train.to_csr(), pool=self.negative_pool))
        return self._sampler[1].epoch(rng, self.train_config.batch_size)


def bpr_loss(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Mean of ``-log sigmoid(positive - negative)`` over (batch,) score tensors."""
    return -F.logsigmoid(positive - negative).mean()


def embedding_penalty(*embeddings: torch.Tensor) -> torch.Tensor:
    """MMRec's ``EmbLoss``: the sum of the Frobenius norms of (batch, d) tensors over the batch size.

    Applied to the layer-0 ("ego") embeddings of a batch's users, positives
    and negatives, weighted by a model's ``reg_weight``.
    """
    total = embeddings[0].norm(p=2)
    for embedding in embeddings[1:]:
        total = total + embedding.norm(p=2)
    return total / embeddings[-1].shape[0]


def train(model: TorchRecommender, split: Split, config: TrainConfig, callbacks: Sequence[Callback] = ()) -> History:
    """Train ``model`` on ``split.train`` with early stopping on ``split.valid``; restore the best state.

    Valid is evaluated every ``config.eval_every`` epochs (full ranking,
    training items excluded); training stops after ``config.patience``
    evaluations without improvement (not before epoch ``config.min_epochs``,
    so that an early dip of valid does not end a run that has barely
    begun), after ``config.epochs`` epochs, after ``config.max_seconds``
    of training, or when a callback asks (see :mod:`fusionrec.models.callbacks`).
    The state of the best evaluation is restored and the model's vectors are
    refreshed.

    Args:
        model: the model to train.
        split: its data (test is never read).
        config: the training settings.
        callbacks: called at each step of the loop, after the progress display ``config.progress`` adds.

    Returns:
        The :class:`History`, with timings.
    """
    started = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    rng = seed_everything(config.seed)
    module = model.module_ = model.build(split, rng)
    optimizer = _adam(module, config)
    validator = _Validator(model, split, config.valid_metric)
    tracker = _BestTracker(module, config.patience)
    average = WeightAverage(module, config.average_decay) if config.average_decay else None
    run = TrainingRun(model, split, config)
    history = run.history
    hooks = CallbackList([*([ProgressCallback()] if config.progress else []), *callbacks])
    hooks.on_train_start(run)
    for epoch in range(1, config.epochs + 1):
        hooks.on_epoch_start(run, epoch)
        epoch_started = time.perf_counter()
        history.losses.append(run_epoch(model, module, optimizer, split, rng, average))
        seconds = time.perf_counter() - epoch_started
        history.train_seconds += seconds
        history.epochs_run = epoch
        hooks.on_epoch_end(run, epoch, history.losses[-1], seconds)
        if epoch % config.eval_every == 0:
            with average.swapped_in() if average else contextlib.nullcontext():
                value, eval_seconds = validator(epoch)
                patience_ran_out = tracker.update(epoch, value)
            history.valid_scores.append((epoch, value))
            history.eval_seconds += eval_seconds
            run.best_valid, run.best_epoch = tracker.best, tracker.best_epoch
            hooks.on_evaluate(run, epoch, value)
            if patience_ran_out and epoch >= config.min_epochs:
                history.stop_reason = "patience"
                break
        if run.stop_message is not None:
            logger.info("%s: a callback stopped training after epoch %d: %s", model.name, epoch, run.stop_message)
            history.stop_reason = "callback"
            break
        if config.max_seconds is not None and history.train_seconds >= config.max_seconds:
            history.stop_reason = "max_seconds"
            break
    if len(history.valid_scores) >= COLLAPSE_CHECK_EVALUATIONS:
        history.warnings += collapse_warnings(model, validator, tracker.best, history.epochs_run)
    if average is not None and tracker.state is None:  # never evaluated: keep the average
        average.copy_to_module()
    tracker.restore(history)
    model.refresh_vectors()
    history.total_seconds = time.perf_counter() - started
    logger.info(
        "%s: best %s %.4f at epoch %d of %d (%.2f s/epoch, stop: %s)",
        model.name,
        config.valid_metric,
        history.best_valid,
        history.best_epoch,
        history.epochs_run,
        history.seconds_per_epoch,
        history.stop_reason,
    )
    hooks.on_train_end(run, history)
    return history


COLLAPSE_CHECK_EVALUATIONS = 5
"""A training evaluated at least this often warns when its best valid figure is at popularity level or below
(checked once training ends: some models start below popularity and overtake it after tens of epochs)."""


def collapse_warnings(model: TorchRecommender, validator: _Validator, best: float, epoch: int) -> list[str]:
    """A warning naming the parameter to change when the best valid figure is not above popularity's."""
    floor = validator.popularity_figure()
    if best > floor or best >= 1.0:  # a perfect figure is no collapse, even where popularity is perfect too
        return []
    message = (
        f"{model.name}: after {epoch} epochs its best valid {validator.metric} is {best:.4f}, not above "
        f"popularity's {floor:.4f}: the model has learned nothing a popularity list does not give (often the "
        f"embeddings collapsed). To fix: {model.collapse_hint}"
    )
    logger.warning(message)
    return [message]


def _adam(module: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam; the fused CPU kernel when torch has one (same update, fewer passes over memory)."""
    parameters = [p for p in module.parameters() if p.requires_grad]
    try:
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError):  # fused Adam needs floating tensors on a supported device
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)


def valid_figure(model: TorchRecommender, split: Split, valid_metric: str = "recall@20") -> float:
    """``valid_metric`` of ``model``'s current state on ``split.valid`` (what early stopping reads)."""
    return _Validator(model, split, valid_metric)(0)[0]


class _Validator:
    """Evaluates one metric on ``split.valid`` with the model's current state."""

    def __init__(self, model: TorchRecommender, split: Split, valid_metric: str) -> None:
        name, _, cutoff = valid_metric.partition("@")
        if not cutoff.isdigit():
            raise ConfigError(f"valid_metric must look like 'recall@20', got {valid_metric!r}")
        self.model, self.metric, self.name, self.k = model, valid_metric, name, int(cutoff)
        self.train_matrix, self.valid_matrix = split.train.to_csr(), split.valid.to_csr()
        self.candidates = split.candidates("valid")

    def __call__(self, epoch: int) -> tuple[float, float]:
        """``(metric value, seconds)`` at ``epoch``."""
        self.model.refresh_vectors()
        evaluation = evaluate_scores(
            self.model.score_users,
            self.train_matrix,
            self.valid_matrix,
            ks=(self.k,),
            metrics=(self.name,),
            candidates=self.candidates,
        )
        value = evaluation[self.metric]
        logger.debug("epoch %d: valid %s %.5f", epoch, self.metric, value)
        return value, evaluation.seconds

    def popularity_figure(self) -> float:
        """The same metric for the most-trained items (the same list for every user)."""
        counts = np.asarray(self.train_matrix.sum(axis=0), dtype=np.float32)  # (1, n_items)
        evaluation = evaluate_scores(
            lambda users: np.repeat(counts, len(users), axis=0),
            self.train_matrix,
            self.valid_matrix,
            ks=(self.k,),
            metrics=(self.name,),
            candidates=self.candidates,
        )
        return evaluation[self.metric]


class _BestTracker:
    """Keeps a copy of the best state and counts evaluations without improvement."""

    def __init__(self, module: torch.nn.Module, patience: int) -> None:
        self.module, self.patience = module, patience
        self.best, self.best_epoch, self.stale = float("-inf"), 0, 0
        self.state: dict[str, Any] | None = None

    def update(self, epoch: int, value: float) -> bool:
        """Record an evaluation; True when patience has run out."""
        if value > self.best:
            self.best, self.best_epoch, self.stale = value, epoch, 0
            self.state = copy.deepcopy(self.module.state_dict())
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self, history: History) -> None:
        """Load the best state (the last one when valid was never evaluated) and record it."""
        if self.state is not None:
            self.module.load_state_dict(self.state)
        history.best_epoch, history.best_valid = self.best_epoch, self.best


def run_epoch(
    model: TorchRecommender,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    split: Split,
    rng: np.random.Generator,
    average: WeightAverage | None = None,
) -> float:
    """One pass over ``model``'s batches in this process (what data-parallel training reproduces); mean loss."""
    module.train()
    total, count = 0.0, 0
    for batch in model.batches(split, rng):
        optimizer.zero_grad()
        loss = model.loss(module, batch)
        loss.backward()
        optimizer.step()
        if average is not None:
            average.update()
        total += float(loss.detach())
        count += 1
    return total / max(count, 1)
