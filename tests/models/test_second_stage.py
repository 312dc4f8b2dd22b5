"""The second stage: trees kept as arrays, candidates reordered, fitted by the flagship on valid."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fusionrec.data.dataset import Split
from fusionrec.errors import ConfigError
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.models.fusion_graph import FusionGraph
from fusionrec.models.second_stage import (
    FEATURES,
    BoostedTrees,
    Candidates,
    ScoreParts,
    fit_trees,
    reranked_scores,
)
from fusionrec.testing.datasets import image_only_split

TINY = {"epochs": 3, "batch_size": 32, "progress": False, "seed": 7, "threads": 1}


@pytest.fixture(scope="module")
def warm_split() -> Split:
    return image_only_split(seed=2, protocol="warm")


@pytest.fixture(scope="module")
def staged(warm_split: Split) -> FusionGraph:
    params = {"members": 2, "member_training": "apart", "ease_weight": 0.05, "ease_l2": 3.0}
    return FusionGraph(embedding_dim=8, knn_k=3, second_stage=True, **params, train_config=TINY).fit(warm_split)


def _degree_tree(threshold: float) -> BoostedTrees:
    """One split: items with log(1 + training interactions) <= threshold score +1, the rest -1."""
    feature = FEATURES.index("log_item_degree")
    return BoostedTrees(
        feature=np.array([feature, 0, 0]),
        threshold=np.array([threshold, 0.0, 0.0]),
        left=np.array([1, 0, 0]),
        right=np.array([2, 0, 0]),
        is_leaf=np.array([False, True, True]),
        value=np.array([0.0, 1.0, -1.0]),
        offsets=np.array([0, 3]),
        baseline=0.5,
    )


def test_trees_kept_as_arrays_decide_as_the_fitted_classifier() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 5))
    y = x[:, 0] + 0.5 * x[:, 1] * x[:, 2] + rng.normal(scale=0.5, size=3000) > 1.0
    model = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=8, early_stopping=False).fit(x, y)
    trees = BoostedTrees.from_sklearn(model)
    test = rng.normal(size=(500, 5))
    np.testing.assert_allclose(trees.decision(test), model.decision_function(test), rtol=1e-10, atol=1e-10)
    again = BoostedTrees.from_arrays(trees.arrays("stage."), "stage.")
    np.testing.assert_array_equal(again.decision(test), trees.decision(test))


def test_candidates_are_each_users_best_unseen_items_with_their_features() -> None:
    cosines = (np.array([[0.9, 0.1, 0.5, 0.7]]), np.array([[0.7, 0.3, 0.5, 0.1]]))
    parts = ScoreParts(cosines, content=np.zeros((1, 4)), ease=np.array([[0.0, 0.0, 0.2, 0.0]]))
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0]]))
    found = Candidates.build(parts, seen, item_degree=np.array([5.0, 0.0, 2.0, 9.0]), user_degree=np.array([1.0]))
    assert found.items[0].tolist() == [2, 3, 1, 0]  # item 0 is seen: last, never usable
    assert found.first_scores[0, :3].tolist() == pytest.approx([0.7, 0.4, 0.2]) and found.first_scores[0, 3] == -np.inf
    first = dict(zip(FEATURES, found.features[0], strict=True))
    assert first["disagreement"] == pytest.approx(0.0) and first["ease"] == pytest.approx(0.2)
    assert first["log_item_degree"] == pytest.approx(np.log1p(2.0)) and first["position"] == 0.0
    assert found.labels(sp.csr_matrix(np.array([[0, 0, 0, 1]]))).tolist() == [False, True, False, False]


def test_reranked_scores_lift_candidates_in_the_stages_order_and_never_a_seen_item() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]], np.float32)
    parts = ScoreParts((scores.astype(np.float64),), np.zeros((1, 5)), np.zeros((1, 5)))
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]]))
    degree = np.array([0.0, 50.0, 50.0, 1.0, 2.0])  # the stage prefers items with few interactions
    found = Candidates.build(parts, seen, degree, np.array([3.0]))
    result = reranked_scores(scores, found, _degree_tree(threshold=np.log1p(10.0)))
    assert np.argsort(-result[0], kind="stable")[:4].tolist() == [3, 4, 1, 2]  # few first, ties by first stage
    assert result[0, 0] == scores[0, 0]  # seen: not lifted


def test_fitting_needs_a_held_out_item_among_the_candidates() -> None:
    parts = ScoreParts((np.array([[0.5, 0.2]]),), np.zeros((1, 2)), np.zeros((1, 2)))
    found = Candidates.build(parts, sp.csr_matrix((1, 2)), np.zeros(2), np.zeros(1))
    with pytest.raises(ConfigError, match="second_stage"):
        fit_trees(found.features, np.zeros(2, dtype=bool))


def test_flagship_ranks_each_users_candidates_in_its_stages_order(staged: FusionGraph, warm_split: Split) -> None:
    stage, channel = staged.second_stage(), staged.ease_channel()
    assert stage is not None and channel is not None
    users = np.arange(warm_split.n_users)
    train = warm_split.train.to_csr()
    vectors, items = staged.user_embeddings(users), staged.item_embeddings()
    assert vectors is not None and items is not None and items.shape[1] > 16  # two members of 8, then content
    halves = (slice(0, 8), slice(8, 16))
    cosines = tuple(2 * vectors[:, h] @ items[:, h].T for h in halves)
    parts = ScoreParts(cosines, vectors[:, 16:] @ items[:, 16:].T, channel.scores(train))
    degree = np.asarray(train.sum(axis=0)).ravel().astype(float)
    candidates = Candidates.build(parts, train, degree, np.diff(train.indptr).astype(float))
    expected, _ = candidates.order(stage.decision(candidates.features))
    scores = staged.score_users(users)
    first = staged.first_stage_scores(users)
    np.testing.assert_allclose(first, parts.score, rtol=1e-4, atol=1e-5)
    scores[train.nonzero()] = first[train.nonzero()] = -np.inf
    ranked = np.argsort(-scores, axis=1, kind="stable")
    assert np.array_equal(ranked[:, :100], expected)  # the stage's order over the 100 candidates ...
    first_ranked = np.argsort(-first, axis=1, kind="stable")
    assert np.array_equal(np.sort(ranked[:, :100]), np.sort(first_ranked[:, :100]))  # ... the first stage's best
    assert not np.array_equal(ranked[:, :100], first_ranked[:, :100])  # in another order
    assert staged.history_ is not None
    valid = evaluate_model(staged, warm_split, "valid", (20,), ("recall",)).summary()["recall@20"]
    assert staged.history_.best_valid == pytest.approx(valid)  # what valid reads is the whole ranking


def test_flagship_second_stage_survives_saving(staged: FusionGraph, warm_split: Split) -> None:
    arrays = staged.state_arrays()
    assert any(name.startswith("second_stage.") for name in arrays)
    loaded = FusionGraph(**staged.get_params())
    loaded.load_state_arrays(warm_split, arrays)
    users = np.arange(warm_split.n_users)
    np.testing.assert_array_equal(loaded.score_users(users), staged.score_users(users))


def test_flagship_query_scores_rank_a_user_as_score_users_does(staged: FusionGraph, warm_split: Split) -> None:
    train = warm_split.train.to_csr()
    user = 4
    history = train[user].indices
    vectors = staged.item_embeddings()
    query = staged.user_embeddings(np.array([user]))
    assert vectors is not None and query is not None
    served = staged.query_scores(query[0], vectors, history, history)
    np.testing.assert_allclose(served, staged.score_users(np.array([user]))[0], rtol=1e-5, atol=1e-5)


def test_flagship_second_stage_needs_a_valid_part(warm_split: Split) -> None:
    from dataclasses import replace

    empty = replace(warm_split, valid=warm_split.valid.select(np.zeros(len(warm_split.valid.user_index), bool)))
    with pytest.raises(ConfigError, match="second_stage=True needs valid interactions"):
        FusionGraph(embedding_dim=8, knn_k=3, second_stage=True, train_config=TINY).fit(empty)
