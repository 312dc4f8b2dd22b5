"""The chunked full-ranking evaluator: protocol rules, invariances and a naive reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fusionrec.errors import ArtifactError, ModelError
from fusionrec.evaluation.beyond import ItemStatistics, beyond_metrics
from fusionrec.evaluation.metrics import METRICS
from fusionrec.evaluation.ranking import Evaluation, evaluate_scores


def csr(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    """(len(rows), n_items) binary CSR with the listed items per user."""
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.array([i for r in rows for i in r], dtype=np.int64)
    return sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(len(rows), n_items))


def fixed_scores(table: np.ndarray):
    """A score function that reads rows of a fixed (n_users, n_items) table (returning a fresh copy)."""
    return lambda users: table[users].astype(np.float32)


def naive_evaluation(scores, train, heldout, ks, candidates=None):
    """Reference: rank with Python sorting, user by user, straight from the definitions."""
    n_users, n_items = scores.shape
    allowed = set(range(n_items)) if candidates is None else {int(c) for c in candidates}
    result: dict[str, list[float]] = {f"{m}@{k}": [] for m in METRICS for k in ks}
    users = []
    for u in range(n_users):
        relevant = {int(i) for i in heldout[u].indices} & allowed
        if not relevant:
            continue
        users.append(u)
        seen = {int(i) for i in train[u].indices}
        ranked = sorted((i for i in allowed if i not in seen), key=lambda i: -scores[u, i])
        for k in ks:
            top = ranked[:k]
            hit = [i in relevant for i in top]
            n_hit = sum(hit)
            dcg = sum(1 / math.log2(r + 2) for r, h in enumerate(hit) if h)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
            ap = sum(sum(hit[: r + 1]) / (r + 1) for r, h in enumerate(hit) if h) / min(len(relevant), k)
            first = next((r for r, h in enumerate(hit) if h), None)
            result[f"recall@{k}"].append(n_hit / len(relevant))
            result[f"precision@{k}"].append(n_hit / k)
            result[f"hr@{k}"].append(float(n_hit > 0))
            result[f"ndcg@{k}"].append(dcg / idcg)
            result[f"map@{k}"].append(ap)
            result[f"mrr@{k}"].append(0.0 if first is None else 1 / (first + 1))
    return np.array(users, dtype=np.int64), {name: np.array(v) for name, v in result.items()}


@st.composite
def ranking_cases(draw):
    """Distinct scores, disjoint random train / held-out sets, optional candidate set."""
    n_users = draw(st.integers(1, 7))
    n_items = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    scores = rng.permutation(n_users * n_items).reshape(n_users, n_items).astype(np.float32)
    state = rng.integers(0, 3, size=(n_users, n_items))  # 0 none, 1 train, 2 held out
    train = sp.csr_matrix((state == 1).astype(np.float32))
    heldout = sp.csr_matrix((state == 2).astype(np.float32))
    candidates = None
    if draw(st.booleans()):
        candidates = np.flatnonzero(rng.random(n_items) < 0.6)
    return scores, train, heldout, candidates


@settings(max_examples=150, deadline=None)
@given(ranking_cases(), st.sampled_from([(1,), (2, 5), (3, 20)]), st.one_of(st.none(), st.integers(1, 4)))
def test_matches_naive_reference(case, ks, chunk_size):
    scores, train, heldout, candidates = case
    evaluation = evaluate_scores(
        fixed_scores(scores), train, heldout, ks=ks, candidates=candidates, chunk_size=chunk_size
    )
    users, expected = naive_evaluation(scores, train, heldout, ks, candidates)
    np.testing.assert_array_equal(evaluation.users, users)
    assert set(evaluation.per_user) == set(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(evaluation.per_user[name], values, atol=1e-12, err_msg=name)


@settings(max_examples=100, deadline=None)
@given(ranking_cases(), st.integers(0, 2**31 - 1))
def test_relabelling_items_changes_nothing(case, seed):
    scores, train, heldout, candidates = case
    n_items = scores.shape[1]
    new_of_old = np.random.default_rng(seed).permutation(n_items)  # item j becomes new_of_old[j]
    old_of_new = np.argsort(new_of_old)
    before = evaluate_scores(fixed_scores(scores), train, heldout, ks=(1, 3, 10), candidates=candidates)
    after = evaluate_scores(
        fixed_scores(scores[:, old_of_new]),
        train[:, old_of_new],
        heldout[:, old_of_new],
        ks=(1, 3, 10),
        candidates=None if candidates is None else new_of_old[candidates],
    )
    np.testing.assert_array_equal(before.users, after.users)
    for name, values in before.per_user.items():
        np.testing.assert_allclose(after.per_user[name], values, err_msg=name)


@settings(max_examples=100, deadline=None)
@given(ranking_cases())
def test_scoring_held_out_items_highest_is_perfect(case):
    _, train, heldout, candidates = case
    rng = np.random.default_rng(0)
    perfect = rng.random(heldout.shape).astype(np.float32) + 2 * heldout.toarray()
    evaluation = evaluate_scores(fixed_scores(perfect), train, heldout, ks=(1, 5, 20), candidates=candidates)
    for metric in ("ndcg", "hr", "mrr", "map"):
        for k in (1, 5, 20):
            np.testing.assert_allclose(evaluation.per_user[f"{metric}@{k}"], 1.0, err_msg=f"{metric}@{k}")
    n_relevant = np.diff(heldout.tocsr().indptr)[evaluation.users]
    if candidates is not None:
        n_relevant = np.asarray(heldout[evaluation.users][:, candidates].sum(axis=1)).ravel()
    np.testing.assert_allclose(evaluation.per_user["recall@20"], np.minimum(n_relevant, 20) / n_relevant)


def test_hand_computed_small_case():
    # user 0: item 0 seen in train; ranking of the rest by score: 3, 1, 2, 4; held out {1, 4}
    # user 1: no held-out item -> not evaluated
    # user 2: held out {2}; ranking 2, 0, ...
    scores = np.array(
        [
            [9.0, 5.0, 4.0, 6.0, 1.0],
            [1.0, 2.0, 3.0, 4.0, 5.0],
            [2.0, 0.0, 3.0, 1.0, -1.0],
        ]
    )
    train = csr([[0], [1], []], 5)
    heldout = csr([[1, 4], [], [2]], 5)
    evaluation = evaluate_scores(fixed_scores(scores), train, heldout, ks=(1, 2, 4))
    np.testing.assert_array_equal(evaluation.users, [0, 2])
    assert evaluation.per_user["recall@1"] == pytest.approx([0, 1])
    assert evaluation.per_user["recall@2"] == pytest.approx([0.5, 1])
    assert evaluation.per_user["recall@4"] == pytest.approx([1, 1])
    assert evaluation.per_user["precision@2"] == pytest.approx([0.5, 0.5])
    assert evaluation.per_user["mrr@4"] == pytest.approx([0.5, 1])
    idcg2 = 1 + 1 / math.log2(3)
    assert evaluation.per_user["ndcg@2"] == pytest.approx([(1 / math.log2(3)) / idcg2, 1])
    assert evaluation.per_user["ndcg@4"] == pytest.approx([(1 / math.log2(3) + 1 / math.log2(5)) / idcg2, 1])
    assert evaluation.per_user["map@4"] == pytest.approx([(1 / 2 + 2 / 4) / 2, 1])
    assert evaluation["hr@1"] == pytest.approx(0.5)


def test_training_items_are_never_ranked():
    # the training item scores highest; were it ranked it would push the held-out item down
    scores = np.array([[10.0, 1.0, 0.0]])
    evaluation = evaluate_scores(fixed_scores(scores), csr([[0]], 3), csr([[1]], 3), ks=(1,))
    assert evaluation["recall@1"] == 1.0


def test_held_out_item_also_in_train_cannot_be_hit():
    # item 0 is both seen and held out; it is excluded, so even with too few items left it is no hit
    scores = np.array([[10.0, 1.0]])
    evaluation = evaluate_scores(fixed_scores(scores), csr([[0]], 2), csr([[0]], 2), ks=(1, 2))
    assert evaluation["hr@2"] == 0.0
    np.testing.assert_array_equal(evaluation.users, [0])


def test_cold_candidates_restrict_ranking_and_relevance():
    # items 0-1 are warm (not candidates) and score highest; items 2-4 are the candidates
    scores = np.array([[9.0, 8.0, 1.0, 3.0, 2.0], [9.0, 8.0, 3.0, 2.0, 1.0]])
    heldout = csr([[0, 4], [1]], 5)  # user 1's only held-out item is not a candidate
    evaluation = evaluate_scores(
        fixed_scores(scores), csr([[], []], 5), heldout, ks=(1, 2), candidates=np.array([2, 3, 4])
    )
    np.testing.assert_array_equal(evaluation.users, [0])  # user 1 has no candidate held-out item
    assert evaluation["recall@1"] == 0.0  # ranking is 3, 4, 2: item 4 second
    assert evaluation["recall@2"] == 1.0  # item 0 is ignored, so 1 of 1 relevant found


def test_fewer_candidates_than_k_pads_with_misses():
    scores = np.array([[1.0, 2.0, 3.0]])
    evaluation = evaluate_scores(fixed_scores(scores), csr([[]], 3), csr([[2]], 3), ks=(1, 10), candidates=[2])
    assert evaluation["recall@10"] == 1.0
    assert evaluation["precision@10"] == pytest.approx(0.1)


def test_no_held_out_items_gives_empty_evaluation():
    evaluation = evaluate_scores(fixed_scores(np.zeros((2, 3))), csr([[0], []], 3), csr([[], []], 3), ks=(5,))
    assert len(evaluation.users) == 0
    assert evaluation["recall@5"] == 0.0
    assert evaluation.per_user["recall@5"].shape == (0,)


def test_read_only_and_float64_scores_are_accepted_without_touching_them():
    table = np.array([[1.0, 3.0, 2.0]])
    table.setflags(write=False)
    evaluation = evaluate_scores(lambda users: table, csr([[1]], 3), csr([[2]], 3))  # float64, read-only
    assert evaluation["recall@10"] == 1.0
    assert table[0, 1] == 3.0


def test_nan_scores_raise_model_error():
    scores = np.array([[0.0, 1.0], [np.nan, 1.0]])
    with pytest.raises(ModelError, match=r"NaN for 1 of 2 users \(e\.g\. user index 1\)"):
        evaluate_scores(fixed_scores(scores), csr([[], []], 2), csr([[0], [1]], 2), ks=(1,))


def test_wrong_score_shape_is_reported():
    with pytest.raises(ModelError, match=r"shape \(1, 2\) but \(1, 3\)"):
        evaluate_scores(lambda users: np.zeros((len(users), 2)), csr([[]], 3), csr([[1]], 3))


def test_bad_arguments_are_reported():
    train, heldout = csr([[]], 3), csr([[1]], 3)
    with pytest.raises(ValueError, match=r"\(1, 3\) but held-out has \(1, 4\)"):
        evaluate_scores(fixed_scores(np.zeros((1, 3))), train, csr([[1]], 4))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        evaluate_scores(fixed_scores(np.zeros((1, 3))), train, heldout, candidates=np.array([1, 5]))
    with pytest.raises(ValueError, match="chunk_size"):
        evaluate_scores(fixed_scores(np.zeros((1, 3))), train, heldout, chunk_size=0)
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate_scores(fixed_scores(np.zeros((1, 3))), train, heldout, metrics=("auc",))


def test_evaluation_round_trips_through_npz(tmp_path):
    evaluation = Evaluation(users=np.array([3, 5, 8]), per_user={"recall@20": np.array([0.1, 0.0, 1.0])}, seconds=1.5)
    loaded = Evaluation.load(evaluation.save(tmp_path / "sub" / "values.npz"))
    np.testing.assert_array_equal(loaded.users, evaluation.users)
    np.testing.assert_array_equal(loaded.per_user["recall@20"], evaluation.per_user["recall@20"])
    assert loaded.seconds == 1.5
    with pytest.raises(KeyError, match=r"ndcg@20.*recall@20"):
        loaded["ndcg@20"]


def test_beyond_values_come_from_the_same_lists_with_training_items_left_out():
    # the hand-computed case: user 0 ranks 3, 1, 2, 4 (item 0 is trained on), user 2 ranks 2, 0, 3, 1, 4
    scores = np.array([[9.0, 5.0, 4.0, 6.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 0.0, 3.0, 1.0, -1.0]])
    train, heldout = csr([[0], [1], []], 5), csr([[1, 4], [], [2]], 5)
    counts = np.array([1, 1, 0, 0, 0])
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # user 0: 3 vs 1 apart
    items = ItemStatistics(counts, 3, vectors, "test vectors")
    evaluation = evaluate_scores(fixed_scores(scores), train, heldout, ks=(1, 2), items=items)
    assert evaluation.beyond == beyond_metrics(np.array([[3, 1], [2, 0]]), items, (1, 2))
    assert evaluation.beyond["coverage@1"] == pytest.approx(2 / 5) and evaluation.beyond["ild@2"] == 0.5
    assert evaluation.item_vectors == "test vectors"
    assert evaluate_scores(fixed_scores(scores), train, heldout, ks=(1,)).beyond == {}  # no statistics, no values


def test_short_candidate_lists_leave_empty_slots_out_of_the_beyond_values():
    scores = np.array([[1.0, 2.0, 3.0]])
    items = ItemStatistics(np.array([0, 0, 1]), 1, catalog=np.array([1, 2]))
    evaluation = evaluate_scores(
        fixed_scores(scores), csr([[]], 3), csr([[2]], 3), ks=(5,), candidates=[1, 2], items=items
    )
    assert evaluation.beyond["coverage@5"] == 1.0  # both catalog items, over a catalog of two
    assert evaluation.beyond["popularity@5"] == 0.5  # the two items' counts 0 and 1; the empty slots count for nothing


def test_beyond_values_round_trip_through_npz(tmp_path):
    evaluation = Evaluation(
        users=np.array([1]), per_user={"recall@5": np.array([1.0])}, beyond={"gini@5": 0.25}, item_vectors="content"
    )
    loaded = Evaluation.load(evaluation.save(tmp_path / "values.npz"))
    assert loaded.beyond == {"gini@5": 0.25} and loaded.item_vectors == "content"
    assert list(loaded.per_user) == ["recall@5"]


def test_loading_a_foreign_npz_fails_clearly(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ArtifactError, match=r"not written by Evaluation\.save"):
        Evaluation.load(tmp_path / "other.npz")
    (tmp_path / "broken.npz").write_text("not a zip")
    with pytest.raises(ArtifactError, match="cannot be read"):
        Evaluation.load(tmp_path / "broken.npz")
