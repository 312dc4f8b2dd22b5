"""evaluate_model: the split's protocol (candidates, excluded training items) applied to a fitted model."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fusionrec.errors import ModelError
from fusionrec.evaluation.beyond import BEYOND_METRICS, ItemStatistics, beyond_metrics
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.evaluation.ranking import evaluate_scores


def test_warm_protocol_ranks_every_item_and_excludes_training_items(warm_split, noisy_popularity):
    model = noisy_popularity(seed=1).fit(warm_split)
    evaluation = evaluate_model(model, warm_split, "test", ks=(5, 10))
    expected = evaluate_scores(model.score_users, warm_split.train.to_csr(), warm_split.test.to_csr(), ks=(5, 10))
    np.testing.assert_array_equal(evaluation.users, warm_split.test.users())
    for name, values in expected.per_user.items():
        np.testing.assert_array_equal(evaluation.per_user[name], values)


def test_cold_protocol_ranks_only_that_parts_items(cold_split, noisy_popularity):
    model = noisy_popularity(seed=1).fit(cold_split)
    for part in ("valid", "test"):
        candidates = cold_split.part(part).items()
        evaluation = evaluate_model(model, cold_split, part, ks=(3,))
        expected = evaluate_scores(
            model.score_users,
            cold_split.train.to_csr(),
            cold_split.part(part).to_csr(),
            ks=(3,),
            candidates=candidates,
        )
        np.testing.assert_array_equal(evaluation.users, expected.users)
        np.testing.assert_array_equal(evaluation.per_user["recall@3"], expected.per_user["recall@3"])
    # cold items have no training counts, so popularity ranks them by noise alone: recall is far from 1
    assert 0.0 <= evaluate_model(model, cold_split, "test", ks=(3,))["recall@3"] < 1.0


def test_same_split_as_warm_gives_other_numbers_when_read_as_cold(cold_split, noisy_popularity):
    model = noisy_popularity(seed=1).fit(cold_split)
    cold = evaluate_model(model, cold_split, "test", ks=(3,))
    warm = evaluate_model(model, cold_split.with_protocol("warm"), "test", ks=(3,))
    assert cold["recall@3"] > warm["recall@3"]  # warm ranks popular train items above every cold item


def test_unfitted_or_mismatched_models_are_refused(warm_split, noisy_popularity, make_split):
    with pytest.raises(ModelError, match="not fitted"):
        evaluate_model(noisy_popularity(), warm_split)
    model = noisy_popularity().fit(warm_split)
    with pytest.raises(ModelError, match="fitted on 60 users x 40 items"):
        evaluate_model(model, make_split(n_users=30))
    with pytest.raises(ValueError, match="train is never evaluated"):
        evaluate_model(model, warm_split, "train")


@pytest.mark.realdata
def test_baby_test_part_every_user_and_an_oracle_scores_one(data_dir, noisy_popularity):
    from fusionrec.data import read_mmrec

    split = read_mmrec(data_dir / "baby")
    test = split.test.to_csr()

    class Oracle(noisy_popularity):  # scores 1 on the user's held-out items, 0 elsewhere
        def score_users(self, user_index: np.ndarray) -> np.ndarray:
            return test[user_index].toarray()  # (n, n_items)

    evaluation = evaluate_model(Oracle().fit(split), split, "test", ks=(10, 50))
    assert len(evaluation.users) == len(split.test.users())
    assert evaluation["ndcg@50"] == pytest.approx(1.0)
    assert evaluation["mrr@10"] == pytest.approx(1.0)


def _top_unseen(scores: np.ndarray, seen: sp.csr_matrix, k: int) -> np.ndarray:
    """Each row's k best items outside ``seen``: the reference lists the beyond values must come from."""
    masked = scores.astype(np.float64)
    masked[seen.nonzero()] = -np.inf
    return np.argsort(-masked, axis=1, kind="stable")[:, :k]


def test_beyond_values_describe_the_evaluated_users_lists_without_training_items(warm_split, noisy_popularity):
    model = noisy_popularity(seed=1).fit(warm_split)
    evaluation = evaluate_model(model, warm_split, "test", ks=(5, 10))
    users = evaluation.users
    lists = _top_unseen(model.score_users(users), warm_split.train.to_csr()[users], 10)
    counts = np.bincount(warm_split.train.item_index, minlength=warm_split.n_items)
    items = ItemStatistics(counts, warm_split.n_users)
    assert evaluation.beyond == pytest.approx(beyond_metrics(lists, items, (5, 10)))
    assert set(evaluation.beyond) == {f"{m}@{k}" for m in BEYOND_METRICS if m != "ild" for k in (5, 10)}
    assert evaluation.item_vectors.startswith("none: the data has no content features")
    assert evaluate_model(model, warm_split, "test", ks=(5,), beyond=False).beyond == {}


def test_ild_uses_the_content_features_or_else_the_models_item_vectors(warm_split, tiny_mf):
    from fusionrec.testing.datasets import checkerboard_split

    split = checkerboard_split()
    model = tiny_mf(train_config={"epochs": 2, "progress": False, "threads": 1}).fit(split)
    with_content = evaluate_model(model, split, "test", ks=(5,))
    assert with_content.item_vectors.startswith("content: image+text")
    assert 0.0 <= with_content.beyond["ild@5"] <= 2.0
    id_only = tiny_mf(train_config={"epochs": 2, "progress": False, "threads": 1}).fit(warm_split)
    from_model = evaluate_model(id_only, warm_split, "test", ks=(5,))
    assert from_model.item_vectors.startswith("model item vectors (tiny_mf")
    assert 0.0 <= from_model.beyond["ild@5"] <= 2.0


def test_cold_protocol_takes_coverage_over_the_parts_candidates(cold_split, noisy_popularity):
    model = noisy_popularity(seed=1).fit(cold_split)
    evaluation = evaluate_model(model, cold_split, "test", ks=(3,))
    candidates = cold_split.test.items()
    # popularity gives everyone the same scores; training items of cold users are not candidates anyway
    lists = np.unique(
        _top_unseen(
            model.score_users(evaluation.users)[:, candidates],
            cold_split.train.to_csr()[evaluation.users][:, candidates],
            3,
        )
    )
    assert evaluation.beyond["coverage@3"] == pytest.approx(len(lists) / len(candidates))
