"""Tiny synthetic splits and tiny models (defined here, not in the registry) for the evaluation tests."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from fusionrec.data import Dataset, Interactions, Split, Vocabulary
from fusionrec.models.base import Recommender
from fusionrec.models.training import TorchRecommender


def build_split(
    n_users: int = 60, n_items: int = 40, per_user: int = 8, seed: int = 0, protocol: str = "warm"
) -> Split:
    """Popularity-skewed interactions; warm: per user 1 valid + 1 test; cold: items split 70/10/20."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity /= popularity.sum()
    items = np.concatenate([rng.choice(n_items, per_user, replace=False, p=popularity) for _ in range(n_users)])
    users = np.repeat(np.arange(n_users), per_user)
    everything = Interactions(users, items, n_users, n_items)
    if protocol == "cold":
        part_of_item = np.digitize(rng.random(n_items), [0.7, 0.8])  # 0 train, 1 valid, 2 test
        label = part_of_item[items]
    else:
        label = np.tile(np.r_[np.zeros(per_user - 2, int), 1, 2], n_users)
    dataset = Dataset(
        name="tiny",
        users=Vocabulary.from_range(n_users, kind="user"),
        items=Vocabulary.from_range(n_items, kind="item"),
        interactions=everything,
    )
    train, valid, test = (everything.select(label == part) for part in range(3))
    return Split(dataset, train, valid, test, protocol=protocol, description=f"tiny synthetic {protocol}")


class NoisyPopularity(Recommender):
    """Training counts plus seeded uniform noise: a deterministic-per-seed, non-torch scorer."""

    name: ClassVar[str] = "noisy_pop"

    def __init__(self, noise: float = 0.5, seed: int = 0) -> None:
        super().__init__(noise=noise, seed=seed)
        self.item_scores_: np.ndarray | None = None

    def _fit(self, split: Split) -> None:
        assert self.train_matrix_ is not None
        counts = np.asarray(self.train_matrix_.sum(axis=0)).ravel()
        noise = np.random.default_rng(self.params["seed"]).random(split.n_items)
        self.item_scores_ = (counts + self.params["noise"] * noise).astype(np.float32)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        self._require_fitted()
        assert self.item_scores_ is not None
        return np.tile(self.item_scores_, (len(user_index), 1))


class TinyMF(TorchRecommender):
    """A small BPR matrix factorisation trained by the shared loop (early stopping on valid)."""

    name: ClassVar[str] = "tiny_mf"

    def __init__(self, dim: int = 8, train_config: Any = None) -> None:
        super().__init__(train_config, dim=dim)

    def build(self, split: Split, rng: np.random.Generator) -> Any:
        import torch

        module = torch.nn.ModuleDict(
            {
                "user": torch.nn.Embedding(split.n_users, self.params["dim"]),
                "item": torch.nn.Embedding(split.n_items, self.params["dim"]),
            }
        )
        for embedding in module.values():
            torch.nn.init.normal_(embedding.weight, std=0.1)
        return module

    def batches(self, split: Split, rng: np.random.Generator) -> Any:
        import torch

        order = rng.permutation(len(split.train))
        negatives = rng.integers(0, split.n_items, len(order))
        size = self.train_config.batch_size
        for start in range(0, len(order), size):
            pick = order[start : start + size]
            yield (
                torch.from_numpy(split.train.user_index[pick]),
                torch.from_numpy(split.train.item_index[pick]),
                torch.from_numpy(negatives[start : start + size]),
            )

    def loss(self, module: Any, batch: Any) -> Any:
        import torch

        users, positives, negatives = batch
        user = module["user"](users)
        margin = (user * module["item"](positives)).sum(1) - (user * module["item"](negatives)).sum(1)
        return -torch.nn.functional.logsigmoid(margin).mean()

    def embed(self, module: Any) -> tuple[np.ndarray, np.ndarray]:
        return module["user"].weight.numpy().copy(), module["item"].weight.numpy().copy()


@pytest.fixture
def make_split() -> Any:
    """The tiny split factory, :func:`build_split`."""
    return build_split


@pytest.fixture
def warm_split() -> Split:
    return build_split()


@pytest.fixture
def cold_split() -> Split:
    return build_split(protocol="cold", per_user=10)


@pytest.fixture
def noisy_popularity() -> type[NoisyPopularity]:
    return NoisyPopularity


@pytest.fixture
def tiny_mf() -> type[TinyMF]:
    return TinyMF
