"""The service's one ranking path: a query in, the best items out.

Requests differ only in how their query is made: a user's profile
(:mod:`fusionrec.serve.user_state`), an ad-hoc history, a free-text
preference or one item (:mod:`fusionrec.serve.service`). Every one is
ranked by :meth:`Ranker.rank`, which scores, excludes, cuts to ``k`` and
falls back in one place:

* with a query vector (and an item index), the model's score of every item
  for it: the vectors' product; for a model whose score adds an EASE channel
  (:class:`~fusionrec.models.ease_channel.WithEaseChannel`), plus the
  channel of the query's history; for a model with a second stage
  (:class:`~fusionrec.models.second_stage.WithSecondStage`), the model's
  full score, its candidates lifted above the rest in the stage's order;
* without a vector, for a trained user of a model without item vectors, the
  model's own scores of that user;
* otherwise the most-trained items (popularity).

Excluded items are never returned, and only finite scores are.

Example:
    >>> query = RankQuery("similar", vector=item_vector, history=(5,), exclude=frozenset({5}))  # doctest: +SKIP
    >>> ranker.rank(query, k=3)  # doctest: +SKIP
    Ranked(items=array([17, 2, 40]), scores=array([...], dtype=float32), strategy='similar', degraded=False)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from fusionrec.models.base import top_k
from fusionrec.models.ease_channel import WithEaseChannel
from fusionrec.models.second_stage import WithSecondStage
from fusionrec.serve.vectors import vector_problem

if TYPE_CHECKING:
    from collections.abc import Collection

    from fusionrec.models.base import Recommender
    from fusionrec.serve.index import ItemIndex

logger = logging.getLogger(__name__)


@dataclass
class Ranked:
    """Items best first: int64 (n,) indices, float32 (n,) scores, and how they were found.

    ``degraded`` is True when the event store could not be asked: the ranking
    comes from the model alone, without the user's recorded events or items
    other workers added since the last sync.
    """

    items: np.ndarray
    scores: np.ndarray
    strategy: str
    degraded: bool = False


@dataclass(frozen=True)
class RankQuery:
    """What a ranking is asked for.

    Attributes:
        strategy: how the query was made (``profile``, ``model``, ``history``, ``preference``, ``similar``);
            the ranking reports it unless it falls back to popularity.
        vector: float32 (d,) query in the model's item space; None when there is no usable one.
        history: item indices the query stands for (what an EASE channel and a second stage read).
        exclude: item indices never returned.
        user: a trained user's index, scored by the model itself when there is no vector (a model without
            item vectors); None otherwise.
        degraded: the query was made without the event store (reported with the ranking).
    """

    strategy: str
    vector: np.ndarray | None = None
    history: tuple[int, ...] = ()
    exclude: frozenset[int] = frozenset()
    user: int | None = None
    degraded: bool = False


class Ranker:
    """Ranks queries by the served model's own score.

    Args:
        model: the served model.
        index: the item index (the catalog's current vectors), or None for a model without item vectors.
        counts: (n_trained,) training interactions per item (the popularity fallback ranks by them).
        n_trained: items the model was trained with (the first ``n_trained`` catalog indices).
    """

    def __init__(self, model: Recommender, index: ItemIndex | None, counts: np.ndarray, n_trained: int) -> None:
        self.model, self.index, self.n_trained = model, index, n_trained
        self.popularity, self.popular_order = counts.astype(np.float32), np.argsort(-counts, kind="stable")
        # a model whose score adds EASE's item-item channel is ranked exactly: vectors' product plus the channel
        self.ease = model.ease_channel() if isinstance(model, WithEaseChannel) else None
        # a model with a second stage is ranked by its full score, the stage included
        self.staged = model if isinstance(model, WithSecondStage) and model.second_stage() is not None else None

    def rank(self, query: RankQuery, k: int) -> Ranked:
        """The top-``k`` items for ``query``, never one of ``query.exclude``, with finite scores."""
        if query.vector is not None and self.index is not None:
            items, scores = self._search(query.vector, query.history, k, query.exclude)
            return Ranked(items, scores, query.strategy, query.degraded)
        if query.user is not None:
            ranked = self._model_scores(query.user, k, query.exclude)
        else:
            ranked = self.popular(k, query.exclude)
        return replace(ranked, degraded=query.degraded)

    def channel_score(self, history: Collection[int], item: int) -> float | None:
        """The EASE channel's part of ``item``'s score for ``history``; None for a model without one."""
        if self.ease is None or not history or self.index is None:
            return None
        return float(self.ease.history_scores(np.array(list(history)), self.index.n_items)[item])

    def popular(self, k: int, exclude: Collection[int]) -> Ranked:
        """The most-trained items, skipping ``exclude`` (the fallback for users with no history)."""
        picked = []
        for item in self.popular_order:
            if int(item) not in exclude:
                picked.append(int(item))
                if len(picked) == k:
                    break
        items = np.array(picked, dtype=np.int64)
        return Ranked(items, self.popularity[items], "popularity")

    def _search(
        self, query: np.ndarray, history: Collection[int], k: int, exclude: frozenset[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (items, scores) for a query vector: the index's search, or with an EASE channel, exact
        scores of every item plus the channel of ``history`` (the model's own score for that history), or
        with a second stage, the model's full score (its candidates lifted above the rest in its order)."""
        assert self.index is not None
        if self.staged is not None:
            items = self.index.vectors(np.arange(self.index.n_items))  # the catalog as it is now
            seen = np.array(sorted(exclude), dtype=np.int64)
            scores = self.staged.query_scores(query, items, np.array(list(history), dtype=np.int64), seen)
        elif self.ease is None or not history:
            return self.index.search(query, k, exclude)
        else:
            scores = self.index.scores(query)  # (n,): the catalog as it is now, though another thread may add items
            scores += self.ease.history_scores(np.array(list(history)), len(scores))
        return _best(scores, k, exclude)

    def _model_scores(self, user: int, k: int, exclude: frozenset[int]) -> Ranked:
        scores = self.model.score_users(np.array([user]))[0, : self.n_trained].astype(np.float32)  # (n_trained,)
        items, best = _best(scores, k, exclude)
        return Ranked(items, best, "model")


def _best(scores: np.ndarray, k: int, exclude: frozenset[int]) -> tuple[np.ndarray, np.ndarray]:
    """int64 (<= k,) indices of the best finite ``scores`` (n,) outside ``exclude``, and their float32 scores."""
    scores[[i for i in exclude if i < len(scores)]] = -np.inf
    top = top_k(scores[None], k)[0]
    top = top[np.isfinite(scores[top])]
    return top.astype(np.int64), scores[top].astype(np.float32)


def usable_query(query: np.ndarray | None, fallback: np.ndarray | None, whose: str) -> np.ndarray | None:
    """``query`` when it can be searched with, else ``fallback`` (the trained vector, or None for popularity).

    Indexed vectors are checked, so this should never fall back; if it does, the ranking degrades to the
    fallback rather than to an empty list of NaN scores, and the log says so.
    """
    problem = None if query is None else vector_problem(query)
    if problem is None:
        return query
    logger.error("the query vector of %s is unusable (%s); ranking with its fallback instead", whose, problem)
    return fallback


__all__ = ["RankQuery", "Ranked", "Ranker", "usable_query"]
