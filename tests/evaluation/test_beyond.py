"""Beyond-accuracy metrics against hand-computed values and their defining properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fusionrec.evaluation.beyond import (
    BEYOND_METRICS,
    ItemStatistics,
    average_popularity,
    beyond_metrics,
    catalog_coverage,
    exposure,
    exposure_gini,
    gini_index,
    intra_list_diversity,
    novelty,
    popularity_share,
)

# Three users, lists of length 3 over a 5-item catalog; user 2 has only two rankable items (-1 = empty slot).
LISTS = np.array([[0, 1, 2], [0, 3, 1], [0, 1, -1]])
N_ITEMS = 5
COUNTS = np.array([8, 4, 2, 1, 0])  # training users per item
N_USERS = 8
# vectors: items 0 and 1 identical, 2 opposite to them, 3 orthogonal to all, 4 zero
VECTORS = np.array([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, 0.0]])

list_strategy = st.integers(1, 6).flatmap(
    lambda k: st.integers(1, 12).flatmap(
        lambda n_items: st.tuples(
            arrays(np.int64, st.tuples(st.integers(1, 10), st.just(k)), elements=st.integers(-1, n_items - 1)),
            st.just(n_items),
        )
    )
)


def test_exposure_counts_each_item_over_the_users_top_k():
    assert exposure(LISTS, N_ITEMS, 1).tolist() == [3, 0, 0, 0, 0]
    assert exposure(LISTS, N_ITEMS, 3).tolist() == [3, 3, 1, 1, 0]


@pytest.mark.parametrize(("k", "expected"), [(1, 1 / 5), (2, 3 / 5), (3, 4 / 5)])
def test_coverage_by_hand(k, expected):
    assert catalog_coverage(LISTS, N_ITEMS, k) == pytest.approx(expected)


def test_gini_by_hand():
    # exposure@3 sorted: 0 1 1 3 3, total 8, weights 2i - n - 1 = -4 -2 0 2 4: (0 - 2 + 0 + 6 + 12) / (5 * 8)
    assert exposure_gini(LISTS, N_ITEMS, 3) == pytest.approx(16 / 40)
    # exposure@1: one item shown to everyone: (n - 1) / n
    assert exposure_gini(LISTS, N_ITEMS, 1) == pytest.approx(4 / 5)
    assert gini_index(np.array([0.0, 0.0, 0.0, 3.0])) == pytest.approx(0.75)
    assert gini_index(np.zeros(4)) == 0.0


def test_popularity_and_share_by_hand():
    assert average_popularity(LISTS, COUNTS, 3).tolist() == pytest.approx([14 / 3, 13 / 3, 6.0])
    assert popularity_share(LISTS, COUNTS, N_USERS, 3).tolist() == pytest.approx([14 / 24, 13 / 24, 6 / 8])
    assert average_popularity(LISTS, COUNTS, 1).tolist() == [8.0, 8.0, 8.0]


def test_novelty_by_hand_with_an_untrained_item_counted_once():
    # self-information -log2(count / 8): item 0 -> 0, item 1 -> 1, item 2 -> 2, item 3 -> 3, item 4 (0 users) -> 3
    assert novelty(LISTS, COUNTS, N_USERS, 3).tolist() == pytest.approx([1.0, 4 / 3, 0.5])
    assert novelty(np.array([[4, 3]]), COUNTS, N_USERS, 2).tolist() == [3.0]


def test_intra_list_diversity_by_hand():
    # user 0: cos(0,1)=1, cos(0,2)=-1, cos(1,2)=-1 -> distances 0, 2, 2; user 1: items 0,3,1 -> 1, 0, 1
    # user 2: items 0,1 -> 0
    assert intra_list_diversity(LISTS, VECTORS, 3).tolist() == pytest.approx([4 / 3, 2 / 3, 0.0])
    # a zero vector has cosine 0 with everything; a single item has no pair
    assert intra_list_diversity(np.array([[4, 0], [2, -1]]), VECTORS, 2)[0] == pytest.approx(1.0)
    assert math.isnan(intra_list_diversity(np.array([[4, 0], [2, -1]]), VECTORS, 2)[1])


def test_intra_list_diversity_matches_the_pairwise_definition_over_many_blocks(monkeypatch):
    import fusionrec.evaluation.beyond as beyond

    monkeypatch.setattr(beyond, "ILD_USERS_PER_BLOCK", 7)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30, 4))
    lists = np.array([rng.choice(30, 5, replace=False) for _ in range(20)])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = [np.mean([1 - unit[a] @ unit[b] for i, a in enumerate(row) for b in row[i + 1 :]]) for row in lists]
    assert intra_list_diversity(lists, vectors, 5) == pytest.approx(expected)


def test_beyond_metrics_names_values_and_catalog():
    items = ItemStatistics(COUNTS, N_USERS, VECTORS, "test vectors")
    values = beyond_metrics(LISTS, items, (1, 3))
    assert list(values) == [f"{m}@{k}" for m in BEYOND_METRICS for k in (1, 3)]
    assert values["coverage@3"] == pytest.approx(4 / 5)
    assert values["ild@3"] == pytest.approx(2 / 3)  # the mean of 4/3, 2/3 and 0
    assert values["novelty@3"] == pytest.approx((1 + 4 / 3 + 0.5) / 3)
    # without vectors ILD is left out; a catalog of items 0-3 is what coverage and Gini count over
    restricted = beyond_metrics(LISTS, ItemStatistics(COUNTS, N_USERS, catalog=np.array([0, 1, 2, 3])), (3,))
    assert "ild@3" not in restricted and restricted["coverage@3"] == 1.0
    with pytest.raises(ValueError, match="not in the 2-item catalog"):
        beyond_metrics(LISTS, ItemStatistics(COUNTS, N_USERS, catalog=np.array([0, 1])), (3,))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="catalog has 3 items"):
        exposure(LISTS, 3, 3)
    with pytest.raises(ValueError, match="at least 1"):
        catalog_coverage(LISTS, N_ITEMS, 0)
    with pytest.raises(ValueError, match=r"\[0, n_users=2\]"):
        novelty(LISTS, COUNTS, 2, 3)
    with pytest.raises(ValueError, match="NaN or infinite"):
        intra_list_diversity(LISTS, np.full((5, 2), np.nan), 3)
    with pytest.raises(ValueError, match="non-negative"):
        gini_index(np.array([1.0, -1.0]))


@settings(max_examples=60, deadline=None)
@given(list_strategy)
def test_gini_lies_in_zero_one_and_coverage_grows_with_k(case):
    lists, n_items = case
    ginis = [exposure_gini(lists, n_items, k) for k in range(1, lists.shape[1] + 1)]
    assert all(0.0 <= g < 1.0 for g in ginis)
    coverages = [catalog_coverage(lists, n_items, k) for k in range(1, lists.shape[1] + 1)]
    assert all(0.0 <= c <= 1.0 for c in coverages)
    assert coverages == sorted(coverages)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 50), st.floats(0.1, 1e6))
def test_uniform_exposure_has_gini_zero(n, value):
    assert gini_index(np.full(n, value)) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 2000), st.integers(1, 30))
def test_one_item_for_everyone_has_gini_near_one(n_items, n_users):
    lists = np.zeros((n_users, 1), dtype=np.int64)
    assert exposure_gini(lists, n_items, 1) == pytest.approx(1 - 1 / n_items)


@settings(max_examples=40, deadline=None)
@given(list_strategy, st.integers(0, 2**31))
def test_per_user_values_stay_in_their_ranges(case, seed):
    lists, n_items = case
    rng = np.random.default_rng(seed)
    n_users = 20
    counts = rng.integers(0, n_users + 1, n_items)
    k = lists.shape[1]
    share = popularity_share(lists, counts, n_users, k)
    information = novelty(lists, counts, n_users, k)
    diversity = intra_list_diversity(lists, rng.normal(size=(n_items, 3)), k)
    defined = (lists >= 0).any(axis=1)
    assert np.all((share[defined] >= 0) & (share[defined] <= 1)) and np.isnan(share[~defined]).all()
    assert np.all((information[defined] >= 0) & (information[defined] <= math.log2(n_users) + 1e-12))
    pairs = (lists >= 0).sum(axis=1) >= 2
    assert np.all((diversity[pairs] >= -1e-9) & (diversity[pairs] <= 2 + 1e-9)) and np.isnan(diversity[~pairs]).all()
