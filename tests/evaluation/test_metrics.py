"""Metric functions against hand-computed values and their defining properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fusionrec.evaluation.metrics import (
    METRIC_FUNCTIONS,
    METRICS,
    average_precision,
    compute_metrics,
    hit_rate,
    metric_names,
    ndcg,
    precision,
    recall,
    reciprocal_rank,
)

# Three users, lists of length 5:
#   user 0: hits at ranks 1 and 3, 3 relevant items in all
#   user 1: hit at rank 2, 1 relevant item
#   user 2: no hit, 2 relevant items
HITS = np.array(
    [
        [True, False, True, False, False],
        [False, True, False, False, False],
        [False, False, False, False, False],
    ]
)
N_RELEVANT = np.array([3, 1, 2])
LOG3 = math.log2(3)


@pytest.mark.parametrize(
    ("function", "k", "expected"),
    [
        (recall, 1, [1 / 3, 0, 0]),
        (recall, 3, [2 / 3, 1, 0]),
        (recall, 5, [2 / 3, 1, 0]),
        (precision, 1, [1, 0, 0]),
        (precision, 3, [2 / 3, 1 / 3, 0]),
        (precision, 5, [2 / 5, 1 / 5, 0]),
        (hit_rate, 1, [1, 0, 0]),
        (hit_rate, 3, [1, 1, 0]),
        (reciprocal_rank, 1, [1, 0, 0]),
        (reciprocal_rank, 5, [1, 1 / 2, 0]),
        # DCG = 1 + 1/log2(4); IDCG@3 of 3 relevant = 1 + 1/log2(3) + 1/2
        (ndcg, 3, [1.5 / (1.5 + 1 / LOG3), (1 / LOG3) / 1, 0]),
        # IDCG@1 = 1 for everyone
        (ndcg, 1, [1, 0, 0]),
        # IDCG@5 of 3 relevant is IDCG@3; of 2 relevant is 1 + 1/log2(3)
        (ndcg, 5, [1.5 / (1.5 + 1 / LOG3), 1 / LOG3, 0]),
        # precision at hit ranks: user 0: 1/1 and 2/3, over min(3, k)
        (average_precision, 1, [1, 0, 0]),
        (average_precision, 3, [(1 + 2 / 3) / 3, (1 / 2) / 1, 0]),
        (average_precision, 5, [(1 + 2 / 3) / 3, (1 / 2) / 1, 0]),
    ],
)
def test_hand_computed_values(function, k, expected):
    assert function(HITS, N_RELEVANT, k) == pytest.approx(expected)


def test_map_denominator_is_capped_at_k():
    # 4 relevant items, both of the top 2 are hits: MAP@2 = (1 + 1) / min(4, 2) = 1
    hits = np.array([[True, True, False]])
    assert average_precision(hits, np.array([4]), 2) == pytest.approx([1.0])
    assert recall(hits, np.array([4]), 2) == pytest.approx([0.5])


def test_compute_metrics_names_and_values():
    values = compute_metrics(HITS, N_RELEVANT, ks=(1, 3), metrics=("recall", "mrr"))
    assert list(values) == ["recall@1", "recall@3", "mrr@1", "mrr@3"] == metric_names((1, 3), ("recall", "mrr"))
    assert values["recall@3"] == pytest.approx([2 / 3, 1, 0])
    assert values["mrr@3"] == pytest.approx([1, 1 / 2, 0])


def test_compute_metrics_rejects_unknown_metric_short_list_and_bad_k():
    with pytest.raises(ValueError, match=r"unknown metric.*'auc'"):
        compute_metrics(HITS, N_RELEVANT, ks=(3,), metrics=("auc",))
    with pytest.raises(ValueError, match="5 columns but the largest k is 10"):
        compute_metrics(HITS, N_RELEVANT, ks=(10,))
    with pytest.raises(ValueError, match="positive"):
        compute_metrics(HITS, N_RELEVANT, ks=(0,))


@st.composite
def hit_lists(draw, max_users=8, max_len=12):
    """bool (n, K) hits with n_relevant consistent (at least the hits found)."""
    n = draw(st.integers(1, max_users))
    length = draw(st.integers(1, max_len))
    hits = draw(arrays(bool, (n, length)))
    extra = draw(arrays(np.int64, (n,), elements=st.integers(0, 20)))
    n_relevant = np.maximum(hits.sum(axis=1) + extra, 1)
    return hits, n_relevant


@settings(max_examples=200, deadline=None)
@given(hit_lists(), st.data())
def test_every_metric_lies_in_unit_interval(case, data):
    hits, n_relevant = case
    k = data.draw(st.integers(1, hits.shape[1]))
    for name, function in METRIC_FUNCTIONS.items():
        values = function(hits, n_relevant, k)
        assert values.shape == (hits.shape[0],), name
        assert values.dtype == np.float64, name
        assert np.all(values >= 0) and np.all(values <= 1 + 1e-12), name


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30))
def test_perfect_ranking_scores_one(n_relevant, length):
    # the first min(n_relevant, length) positions hold relevant items
    hits = np.zeros((1, length), dtype=bool)
    hits[0, : min(n_relevant, length)] = True
    relevant = np.array([n_relevant])
    for k in range(1, length + 1):
        assert ndcg(hits, relevant, k)[0] == pytest.approx(1.0)
        assert hit_rate(hits, relevant, k)[0] == 1.0
        assert reciprocal_rank(hits, relevant, k)[0] == 1.0
        assert average_precision(hits, relevant, k)[0] == pytest.approx(1.0)
        assert recall(hits, relevant, k)[0] == pytest.approx(min(n_relevant, k) / n_relevant)
        assert precision(hits, relevant, k)[0] == pytest.approx(min(n_relevant, k) / k)


@settings(max_examples=100, deadline=None)
@given(hit_lists())
def test_metrics_never_decrease_with_k_except_precision(case):
    hits, n_relevant = case
    for name in ("recall", "hr", "mrr"):
        previous = np.zeros(hits.shape[0])
        for k in range(1, hits.shape[1] + 1):
            current = METRIC_FUNCTIONS[name](hits, n_relevant, k)
            assert np.all(current >= previous - 1e-12), name
            previous = current


@settings(max_examples=100, deadline=None)
@given(hit_lists())
def test_moving_a_hit_up_does_not_lower_ndcg(case):
    hits, n_relevant = case
    k = hits.shape[1]
    swapped = hits.copy()
    for row in range(hits.shape[0]):  # bring each row's last hit to the front of the misses before it
        positions = np.flatnonzero(hits[row])
        misses = np.flatnonzero(~hits[row])
        if len(positions) and len(misses) and misses[0] < positions[-1]:
            swapped[row, misses[0]], swapped[row, positions[-1]] = True, False
    assert np.all(ndcg(swapped, n_relevant, k) >= ndcg(hits, n_relevant, k) - 1e-12)


def test_metric_registry_matches_names():
    assert set(METRICS) == set(METRIC_FUNCTIONS)
