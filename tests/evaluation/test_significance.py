"""Paired significance tests between evaluations of the same users."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fusionrec.evaluation.ranking import Evaluation
from fusionrec.evaluation.significance import (
    PairedTest,
    average_evaluations,
    compare,
    compare_files,
    paired_test,
)


def evaluation(users, **metrics) -> Evaluation:
    return Evaluation(np.asarray(users, dtype=np.int64), {k: np.asarray(v, float) for k, v in metrics.items()})


@pytest.fixture
def pair() -> tuple[Evaluation, Evaluation]:
    rng = np.random.default_rng(0)
    users = np.arange(200)
    b = rng.random(200)
    a = b + 0.05 + 0.1 * rng.standard_normal(200)
    return evaluation(users, **{"recall@20": a}), evaluation(users, **{"recall@20": b})


def test_matches_scipy_on_aligned_users(pair):
    a, b = pair
    result = paired_test(a, b, "recall@20")
    t = stats.ttest_rel(a.per_user["recall@20"], b.per_user["recall@20"])
    w = stats.wilcoxon(a.per_user["recall@20"], b.per_user["recall@20"])
    assert isinstance(result, PairedTest)
    assert result.n_users == 200
    assert result.t_statistic == pytest.approx(t.statistic)
    assert result.t_pvalue == pytest.approx(t.pvalue)
    assert result.wilcoxon_statistic == pytest.approx(w.statistic)
    assert result.wilcoxon_pvalue == pytest.approx(w.pvalue)
    assert result.mean_diff == pytest.approx(result.mean_a - result.mean_b)
    assert result.t_pvalue < 0.01 and result.mean_diff > 0


def test_users_are_aligned_by_index_not_position(pair):
    a, b = pair
    order = np.random.default_rng(1).permutation(200)
    shuffled = evaluation(b.users[order], **{"recall@20": b.per_user["recall@20"][order]})
    assert paired_test(a, shuffled, "recall@20") == paired_test(a, b, "recall@20")


def test_different_user_sets_are_an_error():
    a = evaluation([0, 1, 2, 3], **{"ndcg@10": [0.1, 0.2, 0.3, 0.4]})
    b = evaluation([0, 1, 2, 9], **{"ndcg@10": [0.1, 0.2, 0.3, 0.4]})
    with pytest.raises(ValueError, match=r"different users: A has 4, B has 4 \(1 only in A, e\.g\. \[3\]"):
        paired_test(a, b, "ndcg@10")
    with pytest.raises(ValueError, match="has no 'recall@20'"):
        paired_test(a, a, "recall@20")
    with pytest.raises(ValueError, match="at least 2 users"):
        paired_test(evaluation([0], m=[1.0]), evaluation([0], m=[0.0]), "m")


def test_identical_and_constant_differences_are_handled_without_warnings():
    a = evaluation([0, 1, 2], m=[0.1, 0.5, 0.0])
    same = paired_test(a, a, "m")
    assert (same.t_statistic, same.t_pvalue, same.wilcoxon_pvalue) == (0.0, 1.0, 1.0)
    shifted = paired_test(evaluation([0, 1, 2], m=[0.6, 1.0, 0.5]), a, "m")
    assert shifted.t_statistic == math.inf and shifted.t_pvalue == 0.0


def test_compare_covers_common_metrics_and_files_round_trip(tmp_path, pair):
    a, b = pair
    a.per_user["ndcg@20"] = a.per_user["recall@20"] / 2
    b.per_user["ndcg@20"] = b.per_user["recall@20"] / 2
    b.per_user["only_b@5"] = np.zeros(200)
    results = compare(a, b)
    assert [r.metric for r in results] == ["recall@20", "ndcg@20"]
    from_files = compare_files(a.save(tmp_path / "a.npz"), b.save(tmp_path / "b.npz"))
    assert [r.to_dict() for r in from_files] == [r.to_dict() for r in results]


def test_seeds_are_averaged_per_user(tmp_path):
    first = evaluation([2, 0, 1], m=[0.2, 0.0, 1.0])
    second = evaluation([0, 1, 2], m=[1.0, 0.0, 0.4])
    mean = average_evaluations([first, second])
    np.testing.assert_array_equal(mean.users, [0, 1, 2])
    np.testing.assert_allclose(mean.per_user["m"], [0.5, 0.5, 0.3])
    paths = [first.save(tmp_path / "s0.npz"), second.save(tmp_path / "s1.npz")]
    other = evaluation([0, 1, 2], m=[0.0, 0.0, 0.0])
    assert compare_files(paths, other.save(tmp_path / "o.npz"))[0].mean_a == pytest.approx(mean.per_user["m"].mean())
    with pytest.raises(ValueError, match="no evaluation"):
        average_evaluations([])
