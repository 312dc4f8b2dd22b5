"""The shared training loop: seeded, progress bar, early stopping on valid.

A :class:`TorchRecommender` supplies a ``torch.nn.Module``, a loss for a
batch of training rows, and a way to score users; :func:`train` runs the
epochs, evaluates **valid** every ``eval_every`` epochs, keeps the best
state by ``valid_metric`` and restores it at the end. Test data is never
seen here.
"""

from __future__ import annotations

import copy
import logging
import time
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionrec.models.base import Recommender

if TYPE_CHECKING:
    import torch

    from fusionrec.data.dataset import Split

logger = logging.getLogger(__name__)


class TrainConfig(BaseModel):
    """Optimisation settings shared by every trainable model."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(300, ge=1)
    batch_size: int = Field(2048, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    patience: int = Field(20, ge=1, description="evaluations without improvement before stopping")
    eval_every: int = Field(1, ge=1)
    valid_metric: str = "recall@20"
    seed: int = 0
    threads: int | None = Field(None, ge=1, description="torch threads; None keeps torch's default")
    progress: bool = True


@dataclass
class History:
    """What happened during training; ``best_epoch`` is the valid-chosen point."""

    valid_scores: list[tuple[int, float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_valid: float = float("-inf")
    epochs_run: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0

    @property
    def seconds_per_epoch(self) -> float:
        return self.train_seconds / max(self.epochs_run, 1)


def seed_everything(seed: int) -> np.random.Generator:
    import random

    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


class TorchRecommender(Recommender):
    """A recommender trained by gradient descent with :func:`train`.

    Subclasses implement :meth:`build`, :meth:`batches`, :meth:`loss` and
    :meth:`embed`; ``train_config`` holds the optimisation settings.
    """

    def __init__(self, train_config: TrainConfig | dict[str, Any] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.train_config = (
            train_config if isinstance(train_config, TrainConfig) else TrainConfig(**(train_config or {}))
        )
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
        """float32 user (n_users, d) and item (n_items, d) vectors; score = user @ item.T."""

    def _fit(self, split: Split) -> None:
        self.history_ = train(self, split, self.train_config)

    def refresh_vectors(self) -> None:
        """Recompute the cached user and item vectors from the module (eval mode, no grad)."""
        import torch

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
        assert self.module_ is not None, "fit() first"
        return {name: tensor.detach().cpu().numpy() for name, tensor in self.module_.state_dict().items()}

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        import torch

        self.split_, self.train_matrix_ = split, split.train.to_csr()
        self.module_ = self.build(split, seed_everything(self.train_config.seed))
        self.module_.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in arrays.items()})
        self.refresh_vectors()

    def item_embeddings(self) -> np.ndarray | None:
        return self._item_vectors

    def user_embeddings(self, user_index: np.ndarray) -> np.ndarray | None:
        return None if self._user_vectors is None else self._user_vectors[user_index]


def train(model: TorchRecommender, split: Split, config: TrainConfig) -> History:
    """Train ``model`` on ``split.train`` with early stopping on ``split.valid``; restore the best state."""
    import torch
    from tqdm.auto import tqdm

    from fusionrec.evaluation.ranking import evaluate_scores

    if config.threads:
        torch.set_num_threads(config.threads)
    rng = seed_everything(config.seed)
    module = model.build(split, rng)
    model.module_ = module
    optimizer = torch.optim.Adam(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    train_matrix, valid_matrix = split.train.to_csr(), split.valid.to_csr()
    k = int(config.valid_metric.split("@")[1])
    history, best_state, stale = History(), copy.deepcopy(module.state_dict()), 0
    bar = tqdm(range(1, config.epochs + 1), desc=f"train {model.name}", disable=not config.progress, leave=False)
    for epoch in bar:
        started = time.perf_counter()
        history.losses.append(_run_epoch(model, module, optimizer, split, rng))
        history.train_seconds += time.perf_counter() - started
        history.epochs_run = epoch
        if epoch % config.eval_every:
            continue
        model.refresh_vectors()
        evaluation = evaluate_scores(
            model.score_users,
            train_matrix,
            valid_matrix,
            ks=(k,),
            metrics=(config.valid_metric.split("@")[0],),
            candidates=split.candidates("valid"),
        )
        history.eval_seconds += evaluation.seconds
        value = evaluation[config.valid_metric]
        history.valid_scores.append((epoch, value))
        bar.set_postfix(
            loss=f"{history.losses[-1]:.4f}", valid=f"{value:.4f}", best=f"{max(history.best_valid, value):.4f}"
        )
        if value > history.best_valid:
            history.best_valid, history.best_epoch, stale = value, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            stale += 1
            if stale >= config.patience:
                break
    module.load_state_dict(best_state)
    model.refresh_vectors()
    logger.info(
        "%s: best %s %.4f at epoch %d of %d",
        model.name,
        config.valid_metric,
        history.best_valid,
        history.best_epoch,
        history.epochs_run,
    )
    return history


def _run_epoch(
    model: TorchRecommender,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    split: Split,
    rng: np.random.Generator,
) -> float:
    module.train()
    total, count = 0.0, 0
    for batch in model.batches(split, rng):
        optimizer.zero_grad()
        loss = model.loss(module, batch)
        loss.backward()
        optimizer.step()
        total += float(loss.detach())
        count += 1
    return total / max(count, 1)
