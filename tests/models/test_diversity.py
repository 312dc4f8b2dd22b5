"""The MMR diversity reranker: its order, what it keeps from the wrapped model, its vectors and settings."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from fusionrec.data import Dataset, Interactions, Vocabulary
from fusionrec.data.dataset import Split
from fusionrec.errors import ConfigError, ModelError
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.models.base import Recommender, mask_seen
from fusionrec.models.diversity import (
    MMRConfig,
    MMRReranker,
    content_vectors,
    lift_candidates,
    mmr_order,
    similarity_vectors,
)
from fusionrec.testing.datasets import checkerboard_split, preferred_items


class GroupScorer(Recommender):
    """Seeded random scores, plus ``bonus`` on the items of the user's own checkerboard half."""

    name: ClassVar[str] = "group_scorer"

    def __init__(self, bonus: float = 2.0, scale: float = 1.0, seed: int = 0, dim: int = 0) -> None:
        super().__init__(bonus=bonus, scale=scale, seed=seed, dim=dim)

    def _fit(self, split: Split) -> None:
        rng = np.random.default_rng(self.params["seed"])
        self.table_ = rng.random((split.n_users, split.n_items))
        if split.dataset.name == "checkerboard":
            for user in range(split.n_users):
                self.table_[user, preferred_items(split, user)] += self.params["bonus"]
        self.vectors_ = rng.normal(size=(split.n_items, self.params["dim"])) if self.params["dim"] else None

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        self._require_fitted()
        return (self.params["scale"] * self.table_[user_index]).astype(np.float32)

    def item_embeddings(self) -> np.ndarray | None:
        return None if self.vectors_ is None else self.vectors_.astype(np.float32)


@pytest.fixture(scope="module")
def split() -> Split:
    return checkerboard_split(n_users=40, n_items=60, seed=3)


@pytest.fixture(scope="module")
def base(split: Split) -> GroupScorer:
    return GroupScorer().fit(split)


def ranking(model: Recommender, split: Split) -> np.ndarray:
    """Every user's full ranking of unseen items (stable on ties), as evaluation and recommend see it."""
    users = np.arange(split.n_users)
    scores = model.score_users(users).astype(np.float64)
    mask_seen(scores, split.train.to_csr(), users)
    return np.argsort(-scores, axis=1, kind="stable")


def test_mmr_order_by_hand():
    # items 0 and 1 point the same way, item 2 elsewhere; relevance 1.0, 0.9, 0.5
    cosine = np.array([[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    relevance, usable = np.array([[1.0, 0.9, 0.5]]), np.ones((1, 3), bool)
    assert mmr_order(relevance, usable, cosine, 1.0).tolist() == [[0, 1, 2]]
    # 0.5: after item 0, item 1 is worth 0.45 - 0.5 = -0.05 and item 2 0.25 - 0 = 0.25
    assert mmr_order(relevance, usable, cosine, 0.5).tolist() == [[0, 2, 1]]
    # a padding candidate is placed last whatever the weight
    assert mmr_order(relevance, np.array([[True, False, True]]), cosine, 0.0).tolist() == [[0, 2, 1]]


def test_weight_one_reproduces_the_wrapped_models_ranking(split, base):
    reranked = MMRReranker(base, relevance_weight=1.0, candidates=25).fit(split)
    np.testing.assert_array_equal(ranking(reranked, split), ranking(base, split))


def test_order_survives_float32_at_large_score_scales(split):
    large = GroupScorer(scale=3e7).fit(split)
    reranked = MMRReranker(large, relevance_weight=1.0, candidates=25).fit(split)
    np.testing.assert_array_equal(ranking(reranked, split)[:, :25], ranking(large, split)[:, :25])


def test_diversity_rises_and_accuracy_is_reported_as_the_weight_falls(split, base):
    runs = {
        weight: evaluate_model(MMRReranker(base, relevance_weight=weight, candidates=30).fit(split), split, ks=(10,))
        for weight in (1.0, 0.5, 0.0)
    }
    ild = {weight: run.beyond["ild@10"] for weight, run in runs.items()}
    recall = {weight: run["recall@10"] for weight, run in runs.items()}
    assert ild[1.0] < ild[0.5] and ild[1.0] < ild[0.0]
    assert recall[0.0] < recall[1.0]  # the other half's items push held-out items out of the top 10
    assert runs[0.5].item_vectors.startswith("content: image+text")


def test_seen_items_are_never_candidates_or_recommended(split, base):
    reranked = MMRReranker(base, relevance_weight=0.0, candidates=20).fit(split)
    train = split.train.to_csr()
    users = np.arange(split.n_users)
    lifted = np.argsort(-reranked.score_users(users), axis=1, kind="stable")[:, :20]
    for user in users:
        assert not np.isin(lifted[user], train[user].indices).any()
    user_ids = list(split.dataset.users.ids)
    for user, items in enumerate(reranked.recommend(user_ids, k=15)):
        assert not set(train[user].indices) & set(split.dataset.items.index([item_id for item_id, _ in items]))


def test_lift_puts_the_ordered_items_first_and_keeps_the_rest():
    scores = np.array([[0.5, 3.0, -np.inf, 1.0]], dtype=np.float32)
    lifted = lift_candidates(scores, np.array([[3, 0, 2]]), np.array([[True, True, False]]))
    assert np.argsort(-lifted[0], kind="stable")[:3].tolist() == [3, 0, 1]
    assert lifted[0, 1] == 3.0 and lifted[0, 2] == -np.inf and lifted.dtype == np.float32


def test_similarity_vectors_come_from_content_or_the_model(split, base):
    vectors, source = similarity_vectors(base, split.dataset)
    assert vectors.shape == (split.n_items, 16) and source.startswith("content: image+text")
    bare = _without_features(split)
    with_vectors = GroupScorer(dim=4).fit(bare)
    assert similarity_vectors(with_vectors, bare.dataset)[1] == "model item vectors (group_scorer, 4-d)"
    assert MMRReranker(with_vectors).fit(bare).vectors_source_.startswith("model item vectors")
    with pytest.raises(ConfigError, match="has no item vectors"):
        MMRReranker(GroupScorer().fit(bare)).fit(bare)
    with pytest.raises(ConfigError, match="similarity='content' but dataset"):
        similarity_vectors(with_vectors, bare.dataset, "content")
    assert similarity_vectors(GroupScorer(dim=4).fit(split), split.dataset, "model")[1].startswith("model")


def test_content_vectors_standardise_each_modality_and_leave_missing_rows_at_zero():
    dataset = Dataset(
        name="four",
        users=Vocabulary.from_range(1, kind="user"),
        items=Vocabulary.from_range(4, kind="item"),
        interactions=Interactions(np.array([0]), np.array([0]), 1, 4),
    )
    dataset.add_feature("a", np.array([[1.0], [3.0], [5.0], [100.0]]), mask=np.array([True, True, True, False]))
    dataset.add_feature("b", np.array([[0.0, 2.0], [0.0, 2.0], [4.0, 2.0], [4.0, 2.0]]))
    vectors = content_vectors(dataset)
    assert vectors is not None
    # a: mean 3, std sqrt(8/3) over the usable rows -> signs -1, 0, 1, then unit length; row 3 missing -> 0
    np.testing.assert_allclose(vectors[:, 0], [-1.0, 0.0, 1.0, 0.0])
    # b: the constant column stays 0 after standardising; the other is -1 or 1 -> unit
    np.testing.assert_allclose(vectors[:, 1:], [[-1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])


def test_settings_are_validated_and_named(split, base):
    with pytest.raises(ConfigError, match=r"relevance_weight: got 1.5"):
        MMRReranker(base, relevance_weight=1.5)
    with pytest.raises(ConfigError, match="allowed keys"):
        MMRReranker(base, {"lambda": 0.5})
    reranker = MMRReranker(base, MMRConfig(candidates=10), relevance_weight=0.3)
    assert reranker.config == MMRConfig(candidates=10, relevance_weight=0.3)
    assert reranker.get_params()["candidates"] == 10


def test_the_wrapped_model_is_fitted_once_and_must_match_the_split(split):
    unfitted = GroupScorer()
    MMRReranker(unfitted).fit(split)
    assert unfitted.split_ is split
    with pytest.raises(ModelError, match="fitted on another split"):
        MMRReranker(unfitted).fit(checkerboard_split(n_users=40, n_items=60, seed=4))


def test_nan_scores_of_the_wrapped_model_are_refused(split):
    class NaNScorer(GroupScorer):
        def score_users(self, user_index: np.ndarray) -> Any:
            scores = super().score_users(user_index)
            scores[0, 0] = np.nan
            return scores

    reranker = MMRReranker(NaNScorer()).fit(split)
    with pytest.raises(ModelError, match="scored NaN for 1 of 3 users"):
        reranker.score_users(np.array([0, 1, 2]))


def _without_features(split: Split) -> Split:
    from dataclasses import replace

    return replace(split, dataset=replace(split.dataset, features={}, feature_masks={}))
