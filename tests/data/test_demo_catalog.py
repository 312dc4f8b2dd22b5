"""The demo catalog: deterministic, readable, sized for seconds, and content that explains taste."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrec.data import demo_split, make_demo_catalog
from fusionrec.data.demo import GENRE_NAMES
from fusionrec.evaluation.ranking import evaluate_scores


def test_same_seed_gives_the_identical_catalog() -> None:
    first, again = make_demo_catalog(seed=5), make_demo_catalog(seed=5)
    np.testing.assert_array_equal(first.interactions.item_index, again.interactions.item_index)
    np.testing.assert_array_equal(first.interactions.rating, again.interactions.rating)  # type: ignore[arg-type]
    np.testing.assert_array_equal(first.features["image"], again.features["image"])
    assert first.item_table is not None and again.item_table is not None
    assert first.item_table.equals(again.item_table)


def test_another_seed_gives_another_catalog() -> None:
    first, other = make_demo_catalog(seed=0), make_demo_catalog(seed=1)
    assert first.item_table is not None and other.item_table is not None
    assert first.item_table["title"].tolist() != other.item_table["title"].tolist()
    assert not np.array_equal(first.features["text"], other.features["text"])


def test_default_size_and_contents() -> None:
    dataset = make_demo_catalog()
    assert (dataset.n_users, dataset.n_items) == (600, 400)
    assert 12_000 <= len(dataset.interactions) <= 18_000
    assert dataset.features["text"].shape == (400, 32)
    assert dataset.features["image"].dtype == np.float32
    assert 0 < int((~dataset.feature_mask("image")).sum()) < 40
    assert not dataset.features["image"][~dataset.feature_mask("image")].any()
    rating, timestamp = dataset.interactions.rating, dataset.interactions.timestamp
    assert rating is not None and set(np.unique(rating).tolist()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert timestamp is not None and timestamp.dtype == np.int64
    assert dataset.problems == []


def test_items_read_like_films() -> None:
    table = make_demo_catalog().item_table
    assert table is not None
    assert table["title"].is_unique
    assert table["title"].str.fullmatch(r"The [A-Z][a-z]+ [A-Z][a-z]+").all()
    genres = table["genres"].str.split("|").explode()
    assert set(genres) <= set(GENRE_NAMES)
    assert table["overview"].str.endswith(".").all()
    assert table["overview"].str.len().between(40, 200).all()


def test_every_user_has_at_least_a_few_interactions_and_no_pair_repeats() -> None:
    interactions = make_demo_catalog(seed=2).interactions
    assert np.bincount(interactions.user_index).min() >= 5
    keys = interactions.user_index * interactions.n_items + interactions.item_index
    assert len(np.unique(keys)) == len(keys)


def test_small_catalogs_can_be_requested() -> None:
    dataset = make_demo_catalog(seed=1, n_users=30, n_items=20, mean_interactions=6)
    assert (dataset.n_users, dataset.n_items) == (30, 20)
    assert dataset.users.ids[:2] == ("u01", "u02")


def test_demo_split_is_a_seeded_per_user_random_split() -> None:
    split, again = demo_split(seed=0), demo_split(seed=0)
    np.testing.assert_array_equal(split.test.item_index, again.test.item_index)
    assert split.description.startswith("per-user random 0.8/0.1/0.1 split (seed 0)")
    n = len(split.dataset.interactions)
    assert len(split.train) / n == pytest.approx(0.8, abs=0.03)


@pytest.mark.parametrize("modality", ["text", "image"])
def test_content_explains_preference_better_than_popularity(modality: str) -> None:
    """A user profile built from training items' features ranks valid items better than popularity."""
    split = demo_split(seed=0)
    train, valid = split.train.to_csr(), split.valid.to_csr()
    features = split.dataset.features[modality]
    features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-9)
    profiles = train @ features  # (n_users, dim)
    popularity = np.asarray(train.sum(axis=0), dtype=np.float32).ravel()

    def by_content(users: np.ndarray) -> np.ndarray:
        return np.asarray(profiles[users] @ features.T, dtype=np.float32)

    def by_popularity(users: np.ndarray) -> np.ndarray:
        return np.tile(popularity, (len(users), 1))

    content = evaluate_scores(by_content, train, valid, ks=(20,))["recall@20"]
    baseline = evaluate_scores(by_popularity, train, valid, ks=(20,))["recall@20"]
    assert content > baseline * 1.2
