"""The one ranking path: exclusion, top-k, finite scores, the model's own scores and the popularity fallback."""

from __future__ import annotations

from typing import Any

import numpy as np

from fusionrec.serve.index import ItemIndex
from fusionrec.serve.ranking import Ranker, RankQuery

COUNTS = np.array([5, 9, 1, 7, 3, 0], np.float64)  # popularity order: 1, 3, 0, 4, 2, 5


class UserScores:
    """A model without vectors: every user scores item i as -i (item 0 best)."""

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        return np.tile(-np.arange(6, dtype=np.float32), (len(user_index), 1))


class HalfStaged(UserScores):
    """A second stage that gives items 3 and up no finite score."""

    def second_stage(self) -> object:
        return self

    def query_scores(self, query: np.ndarray, items: np.ndarray, history: np.ndarray, seen: np.ndarray) -> np.ndarray:
        scores = (items @ query).astype(np.float32)
        scores[3:] = -np.inf
        return scores


def ranker(model: Any, with_index: bool = True) -> Ranker:
    vectors = np.eye(6, dtype=np.float32)[:, :4] + 0.1 * np.arange(6, dtype=np.float32)[:, None]  # (6, 4)
    return Ranker(model, ItemIndex(vectors) if with_index else None, COUNTS, n_trained=6)


def test_a_vector_query_never_returns_an_excluded_item_and_stops_at_k() -> None:
    query = RankQuery("history", np.array([1.0, 0.0, 0.0, 0.0], np.float32), exclude=frozenset({0, 5}))
    ranked = ranker(UserScores()).rank(query, k=3)
    assert ranked.strategy == "history" and len(ranked.items) == 3
    assert not {0, 5} & set(ranked.items.tolist())
    assert list(ranked.scores) == sorted(ranked.scores, reverse=True)


def test_without_a_vector_a_trained_user_gets_the_models_scores_and_others_popularity() -> None:
    plain = ranker(UserScores(), with_index=False)
    scored = plain.rank(RankQuery("model", user=2, exclude=frozenset({0}), degraded=True), k=2)
    assert (scored.strategy, scored.items.tolist(), scored.degraded) == ("model", [1, 2], True)
    popular = plain.rank(RankQuery("profile", exclude=frozenset({1})), k=3)
    assert (popular.strategy, popular.items.tolist()) == ("popularity", [3, 0, 4])
    assert popular.scores.tolist() == [7.0, 5.0, 3.0]


def test_a_second_stage_ranks_by_its_full_score_and_non_finite_scores_are_left_out() -> None:
    query = RankQuery("similar", np.ones(4, np.float32), history=(1,), exclude=frozenset({1}))
    ranked = ranker(HalfStaged()).rank(query, k=5)
    assert sorted(ranked.items.tolist()) == [0, 2] and np.isfinite(ranked.scores).all()
