"""Splitters: partition, reproducibility, per-user guarantees, temporal order and the cold-start property."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusionrec.data import (
    Dataset,
    Interactions,
    Split,
    Vocabulary,
    cold_start_split,
    leave_one_out_split,
    make_demo_catalog,
    random_split,
    temporal_split,
)
from fusionrec.errors import ConfigError, DataError

Splitter = Callable[[Dataset, int], Split]
SPLITTERS: dict[str, Splitter] = {
    "random": lambda d, seed: random_split(d, (0.8, 0.1, 0.1), seed=seed),
    "random-no-valid": lambda d, seed: random_split(d, (0.7, 0.0, 0.3), seed=seed, min_interactions=2),
    "temporal": lambda d, seed: temporal_split(d, (0.6, 0.2, 0.2)),
    "leave-one-out": lambda d, seed: leave_one_out_split(d, seed=seed),
    "cold": lambda d, seed: cold_start_split(d, (0.6, 0.2, 0.2), seed=seed),
}


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    """Small datasets with unique user-item pairs and timestamps (ties allowed)."""
    n_users = draw(st.integers(1, 10))
    n_items = draw(st.integers(1, 12))
    pair = st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1))
    pairs = draw(st.lists(pair, min_size=1, max_size=60, unique=True))
    times = draw(st.lists(st.integers(0, 20), min_size=len(pairs), max_size=len(pairs)))
    users, items = (np.array(column, dtype=np.int64) for column in zip(*pairs, strict=True))
    interactions = Interactions(users, items, n_users, n_items, timestamp=np.array(times, dtype=np.int64))
    return Dataset("hypothesis", Vocabulary.from_range(n_users, "user"), Vocabulary.from_range(n_items), interactions)


def keys(part: Interactions) -> np.ndarray:
    return np.sort(part.user_index * part.n_items + part.item_index)


def assert_same_split(a: Split, b: Split) -> None:
    for name in ("train", "valid", "test"):
        np.testing.assert_array_equal(a.part(name).user_index, b.part(name).user_index)  # type: ignore[arg-type]
        np.testing.assert_array_equal(a.part(name).item_index, b.part(name).item_index)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(SPLITTERS))
@given(dataset=datasets(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_parts_are_disjoint_and_complete(name: str, dataset: Dataset, seed: int) -> None:
    split = SPLITTERS[name](dataset, seed)
    parts = [split.train, split.valid, split.test]
    together = np.sort(np.concatenate([keys(p) for p in parts]))
    np.testing.assert_array_equal(together, keys(dataset.interactions))  # nothing lost, nothing twice
    assert sum(len(p) for p in parts) == len(dataset.interactions)


@pytest.mark.parametrize("name", sorted(SPLITTERS))
@given(dataset=datasets(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_same_seed_gives_the_same_split(name: str, dataset: Dataset, seed: int) -> None:
    first, again = SPLITTERS[name](dataset, seed), SPLITTERS[name](dataset, seed)
    assert_same_split(first, again)
    assert first.description == again.description


@pytest.mark.parametrize("name", ["random", "random-no-valid", "cold"])
def test_another_seed_gives_another_split(name: str) -> None:
    dataset = make_demo_catalog(seed=3, n_users=80, n_items=60)
    first, other = SPLITTERS[name](dataset, 0), SPLITTERS[name](dataset, 1)
    assert not np.array_equal(keys(first.test), keys(other.test))


def test_leave_one_out_without_times_depends_on_the_seed() -> None:
    dataset = make_demo_catalog(seed=3, n_users=80, n_items=60)
    untimed = Interactions(
        dataset.interactions.user_index, dataset.interactions.item_index, dataset.n_users, dataset.n_items
    )
    dataset.interactions = untimed
    first, other = leave_one_out_split(dataset, seed=0), leave_one_out_split(dataset, seed=1)
    assert "random, seed 0" in first.description
    assert not np.array_equal(keys(first.test), keys(other.test))


@given(dataset=datasets(), seed=st.integers(0, 1000))
@settings(max_examples=60, deadline=None)
def test_random_split_gives_every_eligible_user_each_part(dataset: Dataset, seed: int) -> None:
    split = random_split(dataset, (0.8, 0.1, 0.1), seed=seed, min_interactions=3)
    counts = np.bincount(dataset.interactions.user_index, minlength=dataset.n_users)
    for part in (split.train, split.valid, split.test):
        per_user = np.bincount(part.user_index, minlength=dataset.n_users)
        assert (per_user[counts >= 3] >= 1).all()
    short = (counts > 0) & (counts < 3)
    assert (np.bincount(split.train.user_index, minlength=dataset.n_users)[short] == counts[short]).all()
    assert f"{int(short.sum())} users with fewer than 3 interactions kept entirely in train" in split.description


@given(dataset=datasets())
@settings(max_examples=60, deadline=None)
def test_temporal_split_holds_out_the_latest(dataset: Dataset) -> None:
    split = temporal_split(dataset, (0.6, 0.2, 0.2))
    for user in range(dataset.n_users):
        times = [p.timestamp[p.user_index == user] for p in (split.train, split.valid, split.test)]  # type: ignore[index]
        for earlier, later in ((times[0], times[1]), (times[1], times[2]), (times[0], times[2])):
            if len(earlier) and len(later):
                assert earlier.max() <= later.min()


@given(dataset=datasets())
@settings(max_examples=60, deadline=None)
def test_leave_one_out_takes_the_last_two_by_time(dataset: Dataset) -> None:
    split = leave_one_out_split(dataset)
    counts = np.bincount(dataset.interactions.user_index, minlength=dataset.n_users)
    eligible = (counts >= 3).astype(int)
    for part in (split.valid, split.test):
        np.testing.assert_array_equal(np.bincount(part.user_index, minlength=dataset.n_users), eligible)
    assert split.test.timestamp is not None
    assert split.valid.timestamp is not None
    assert split.train.timestamp is not None
    for row, user in enumerate(split.test.user_index):
        assert split.test.timestamp[row] >= split.valid.timestamp[split.valid.user_index == user].max()
        assert split.test.timestamp[row] >= split.train.timestamp[split.train.user_index == user].max()


@given(dataset=datasets(), seed=st.integers(0, 1000))
@settings(max_examples=80, deadline=None)
def test_cold_start_items_lie_in_one_part(dataset: Dataset, seed: int) -> None:
    split = cold_start_split(dataset, (0.6, 0.2, 0.2), seed=seed)
    assert split.protocol == "cold"
    train, valid, test = (set(p.items().tolist()) for p in (split.train, split.valid, split.test))
    assert not (train & valid) and not (train & test) and not (valid & test)
    assert train | valid | test == set(dataset.interactions.items().tolist())
    candidates = split.candidates("test")
    assert candidates is not None
    assert set(candidates.tolist()) == test


def test_cold_start_item_shares_follow_the_ratios() -> None:
    dataset = make_demo_catalog(n_users=100, n_items=200)
    split = cold_start_split(dataset, (0.7, 0.1, 0.2), seed=0)
    n_items = len(dataset.interactions.items())
    sizes = [len(p.items()) for p in (split.train, split.valid, split.test)]
    assert sizes[0] == round(0.7 * n_items)
    assert sizes[1] == round(0.1 * n_items)
    assert sum(sizes) == n_items


def test_temporal_split_needs_timestamps() -> None:
    dataset = make_demo_catalog(n_users=20, n_items=30)
    dataset.interactions = Interactions(
        dataset.interactions.user_index, dataset.interactions.item_index, dataset.n_users, dataset.n_items
    )
    with pytest.raises(DataError, match=r"temporal_split needs timestamps but dataset 'demo' has none"):
        temporal_split(dataset)


@pytest.mark.parametrize("ratios", [(0.8, 0.1), (0.5, 0.3, 0.3), (0.0, 0.5, 0.5), (1.1, -0.05, -0.05)])
def test_bad_ratios_are_rejected_with_an_example(ratios: tuple[float, ...]) -> None:
    dataset = make_demo_catalog(n_users=10, n_items=20)
    with pytest.raises(ConfigError, match=r"ratios must be three non-negative shares .* got .*for example \(0\.8"):
        random_split(dataset, ratios)  # type: ignore[arg-type]


def test_min_interactions_below_the_number_of_parts_is_rejected() -> None:
    dataset = make_demo_catalog(n_users=10, n_items=20)
    with pytest.raises(ConfigError, match=r"min_interactions must be at least 3"):
        random_split(dataset, (0.8, 0.1, 0.1), min_interactions=2)


def test_splits_of_a_dataset_with_duplicates_say_so() -> None:
    users, items = np.array([0, 0, 0, 0]), np.array([0, 0, 1, 2])
    dataset = Dataset(
        "dups", Vocabulary.from_range(1, "user"), Vocabulary.from_range(3), Interactions(users, items, 1, 3)
    )
    assert "1 duplicate user-item rows may fall in different parts" in random_split(dataset).description
