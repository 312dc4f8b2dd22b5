"""Synthetic catalogs at any size: skewed popularity and activity, two informative modalities.

Items belong to latent topics (clusters). Item popularity follows a Zipf law
(weight of the item of popularity rank ``r`` is ``r ** -popularity_exponent``)
and user activity a log-normal law, as in real logs where a few items and a
few users hold most interactions. Each user likes one or two topics: a
``taste_share`` of their interactions are drawn from those topics (by
popularity within the topic), the rest from the whole catalog by popularity.
Every modality's features are the item's topic centre in that modality's
space plus noise, so content predicts taste, but not perfectly.

:func:`synthetic_factors` draws user and item vectors with the geometry of a
trained model's (for index and serving benchmarks, without training).

Example:
    >>> split = generate_synthetic(SyntheticConfig(n_items=200, n_users=50, n_interactions=1000))
    >>> split.n_items, sorted(split.dataset.features)
    (200, ['image', 'text'])
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fusionrec.data.dataset import Dataset, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.mmrec import write_mmrec
from fusionrec.data.splits import random_split
from fusionrec.data.vocabulary import Vocabulary

logger = logging.getLogger(__name__)

OVERSAMPLE = 1.15
"""Pairs drawn per missing interaction, since repeated (user, item) pairs are dropped."""
MAX_ROUNDS = 20
"""Rounds of drawing before the generator settles for fewer distinct pairs than asked (and warns)."""


class SyntheticConfig(BaseModel):
    """Size and shape of a synthetic catalog.

    Attributes:
        n_items: catalog size.
        n_users: number of users.
        n_interactions: distinct (user, item) pairs wanted (fewer only if users x items is too small).
        n_topics: latent clusters of items; None means about ``sqrt(n_items) / 2`` (4 to 2,048).
        popularity_exponent: Zipf exponent of item popularity (0: uniform; about 1 in real logs).
        activity_sigma: sigma of the log-normal user activity (0: every user equally active).
        taste_share: share of a user's interactions drawn from their liked topics.
        modalities: ``{modality: feature dim}`` of the precomputed features.
        feature_noise: noise around the topic centre (centres have unit-variance coordinates).
        ratios: (train, valid, test) shares of each user's interactions.
        seed: random seed; the same config gives the same catalog.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_items: int = Field(ge=10)
    n_users: int = Field(ge=2)
    n_interactions: int = Field(ge=10)
    n_topics: int | None = Field(default=None, ge=2)
    popularity_exponent: float = Field(default=1.0, ge=0.0, le=3.0)
    activity_sigma: float = Field(default=1.0, ge=0.0, le=3.0)
    taste_share: float = Field(default=0.8, ge=0.0, le=1.0)
    modalities: dict[str, int] = Field(default_factory=lambda: {"image": 128, "text": 384})
    feature_noise: float = Field(default=1.0, ge=0.0)
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0

    @model_validator(mode="after")
    def _fits(self) -> SyntheticConfig:
        if self.n_interactions > self.n_users * self.n_items // 2:
            raise ValueError(
                f"n_interactions={self.n_interactions:,} is more than half of n_users x n_items "
                f"({self.n_users:,} x {self.n_items:,}); ask for fewer interactions or more users or items"
            )
        bad = {m: d for m, d in self.modalities.items() if d < 1}
        if bad:
            raise ValueError(f"modalities {bad} have a feature dim below 1; give each a positive dim")
        return self

    @property
    def topics(self) -> int:
        """The number of topics used (``n_topics`` or its default for ``n_items``)."""
        return self.n_topics or int(np.clip(round(np.sqrt(self.n_items) / 2), 4, 2048))


def generate_synthetic(config: SyntheticConfig) -> Split:
    """A warm per-user random split of a synthetic catalog (see the module docstring).

    Example:
        >>> split = generate_synthetic(SyntheticConfig(n_items=100, n_users=40, n_interactions=600, seed=1))
        >>> len(split.train) + len(split.valid) + len(split.test)
        600
    """
    rng = np.random.default_rng(config.seed)
    topic, popularity = _item_topics_and_popularity(config, rng)
    user_index, item_index = _interactions(config, topic, popularity, rng)
    users = Vocabulary.from_range(config.n_users, kind="user")
    items = Vocabulary.from_range(config.n_items, kind="item")
    interactions = Interactions(user_index, item_index, config.n_users, config.n_items)
    dataset = Dataset(f"synthetic-{config.n_items}", users, items, interactions)
    for modality, dim in sorted(config.modalities.items()):
        dataset.add_feature(modality, _topic_features(topic, config.topics, dim, config.feature_noise, rng))
    split = random_split(dataset, config.ratios, seed=config.seed)
    split.description = f"synthetic catalog ({config.topics} topics, seed {config.seed}); {split.description}"
    return split


def write_synthetic(config: SyntheticConfig, folder: str | Path) -> Path:
    """Generate a catalog and write it in MMRec layout as ``folder/<folder name>.inter``; returns that path.

    ``fusionrec train --data-dir <parent> --dataset <folder name>`` reads it.
    """
    folder = Path(folder)
    return write_mmrec(generate_synthetic(config), folder, name=folder.name)


def _item_topics_and_popularity(config: SyntheticConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """int64 (n_items,) topic of each item and float64 (n_items,) popularity weights summing to 1."""
    topic = rng.integers(0, config.topics, config.n_items)
    rank = rng.permutation(config.n_items) + 1  # popularity rank 1 = most popular, unrelated to the index
    weight = rank.astype(np.float64) ** -config.popularity_exponent
    return topic, weight / weight.sum()


def _interactions(
    config: SyntheticConfig, topic: np.ndarray, popularity: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """int64 user and item indices of ``n_interactions`` distinct pairs (see the module docstring).

    Repeated pairs are dropped and the shortfall drawn again (heavy users of a
    small topic repeat themselves), up to ``MAX_ROUNDS`` rounds.
    """
    activity = rng.lognormal(0.0, config.activity_sigma, config.n_users)
    liked = rng.integers(0, config.topics, (config.n_users, 2))  # (n_users, 2) two liked topics per user
    one_topic = rng.random(config.n_users) < 0.5  # half of the users like a single topic
    liked[one_topic, 1] = liked[one_topic, 0]
    pairs = np.zeros(0, np.int64)
    for _round in range(MAX_ROUNDS):
        wanted = int((config.n_interactions - len(pairs)) * OVERSAMPLE) + 16
        users = rng.choice(config.n_users, size=wanted, p=activity / activity.sum())
        chosen_topic = liked[users, rng.integers(0, 2, wanted)]
        items = np.where(
            rng.random(wanted) < config.taste_share,
            _popular_in_topic(chosen_topic, topic, config.topics, popularity, rng),
            _popular_anywhere(wanted, popularity, rng),
        )
        pairs = _sorted_distinct(np.concatenate([pairs, users.astype(np.int64) * config.n_items + items]))
        if len(pairs) >= config.n_interactions:
            pairs = np.sort(rng.choice(pairs, size=config.n_interactions, replace=False))
            break
    else:
        logger.warning("drew %d distinct pairs of the %d asked for", len(pairs), config.n_interactions)
    return pairs // config.n_items, pairs % config.n_items


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (a sort and a comparison: faster than np.unique's hashing here)."""
    ordered = np.sort(values)
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(ordered) else ordered


def _popular_in_topic(
    chosen_topic: np.ndarray, topic: np.ndarray, n_topics: int, popularity: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """int64 (n,) items, each drawn from its ``chosen_topic`` in proportion to popularity."""
    order = np.argsort(topic, kind="stable")  # items grouped by topic
    cumulative = np.cumsum(popularity[order])  # (n_items,) mass up to each item of the grouped order
    ends = np.searchsorted(topic[order], np.arange(n_topics + 1), side="left")  # topic t spans ends[t]:ends[t+1]
    low = np.where(ends[chosen_topic] > 0, cumulative[np.maximum(ends[chosen_topic] - 1, 0)], 0.0)
    high = cumulative[np.maximum(ends[chosen_topic + 1] - 1, 0)]
    position = low + rng.random(len(chosen_topic)) * (high - low)
    at = np.searchsorted(cumulative, position, side="right")
    at = np.clip(at, ends[chosen_topic], np.maximum(ends[chosen_topic + 1] - 1, ends[chosen_topic]))
    picked = order[np.minimum(at, len(order) - 1)]
    empty = ends[chosen_topic] == ends[chosen_topic + 1]  # a topic no item drew: fall back to any item
    return np.where(empty, _popular_anywhere(len(chosen_topic), popularity, rng), picked)


def _popular_anywhere(n: int, popularity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """int64 (n,) items drawn from the whole catalog in proportion to popularity."""
    cumulative = np.cumsum(popularity)
    return np.minimum(np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right"), len(popularity) - 1)


def _topic_features(topic: np.ndarray, n_topics: int, dim: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """float32 (n_items, dim): each item's topic centre in this modality plus Gaussian noise."""
    centres = rng.standard_normal((n_topics, dim)).astype(np.float32)
    values = rng.standard_normal((len(topic), dim), dtype=np.float32)
    values *= np.float32(noise)
    values += centres[topic]
    return values


def synthetic_factors(
    n_items: int, n_users: int, dim: int = 128, n_topics: int | None = None, unit_items: bool = True, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """float32 item (n_items, dim) and user (n_users, dim) vectors shaped like a trained model's.

    Items scatter around topic centres (a third of the spread is the topic);
    users point between one or two liked topics. With ``unit_items`` every
    item vector has length 1, as the flagship's (scores are cosines);
    otherwise lengths grow with popularity, as in matrix factorisation.

    Example:
        >>> items, users = synthetic_factors(1000, 10, dim=16)
        >>> items.shape, users.shape
        ((1000, 16), (10, 16))
    """
    rng = np.random.default_rng(seed)
    topics = n_topics or int(np.clip(round(np.sqrt(n_items) / 2), 4, 2048))
    centres = rng.standard_normal((topics, dim)).astype(np.float32) / np.float32(np.sqrt(dim))
    items = np.empty((n_items, dim), np.float32)
    chunk = 262_144  # bounded temporaries: (chunk, dim) at a time
    for start in range(0, n_items, chunk):
        size = min(chunk, n_items - start)
        block = rng.standard_normal((size, dim), dtype=np.float32) * np.float32(np.sqrt(2.0 / dim))
        block += centres[rng.integers(0, topics, size)]
        if unit_items:
            block /= np.linalg.norm(block, axis=1, keepdims=True)
        else:
            block *= rng.pareto(2.0, (size, 1)).astype(np.float32) * np.float32(0.5) + np.float32(0.5)
        items[start : start + size] = block
    liked = centres[rng.integers(0, topics, (n_users, 2))]  # (n_users, 2, dim)
    share = rng.uniform(0.5, 1.0, (n_users, 1)).astype(np.float32)
    users = share * liked[:, 0] + (1 - share) * liked[:, 1]
    users += rng.standard_normal((n_users, dim), dtype=np.float32) * np.float32(0.5 / np.sqrt(dim))
    return items, users.astype(np.float32)


__all__ = ["SyntheticConfig", "generate_synthetic", "synthetic_factors", "write_synthetic"]
