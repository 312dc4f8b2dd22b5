"""fusionrec.testing.datasets: the known answers hold for simple reference scorers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fusionrec.data import Split, validate_split
from fusionrec.evaluation.ranking import evaluate_scores
from fusionrec.testing.datasets import checkerboard_split, image_only_split, preferred_items, text_only_split


def co_occurrence_scores(split: Split) -> Callable[[np.ndarray], np.ndarray]:
    """Item-item co-occurrence: an ID-only model with no learning."""
    train = split.train.to_csr()
    similarity = (train.T @ train).toarray()

    def score(users: np.ndarray) -> np.ndarray:
        return np.asarray(train[users] @ similarity, dtype=np.float32)

    return score


def content_scores(split: Split, modality: str) -> Callable[[np.ndarray], np.ndarray]:
    """Mean feature vector of a user's training items, dotted with every item's features."""
    train, features = split.train.to_csr(), split.dataset.features[modality]
    profiles = train @ features

    def score(users: np.ndarray) -> np.ndarray:
        return np.asarray(profiles[users] @ features.T, dtype=np.float32)

    return score


def recall(split: Split, score: Callable[[np.ndarray], np.ndarray], k: int = 10) -> float:
    heldout = split.test.to_csr()
    return evaluate_scores(score, split.train.to_csr(), heldout, ks=(k,), candidates=split.candidates("test"))[
        f"recall@{k}"
    ]


def test_checkerboard_users_and_held_out_items_stay_in_their_half() -> None:
    split = checkerboard_split()
    assert validate_split(split) == []
    for part in (split.train, split.valid, split.test):
        for user, item in zip(part.user_index, part.item_index, strict=True):
            assert item in preferred_items(split, int(user))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_checkerboard_co_occurrence_ranks_the_right_half_first(seed: int) -> None:
    split = checkerboard_split(seed=seed)
    scores = co_occurrence_scores(split)(np.arange(split.n_users))
    train = split.train.to_csr()
    for user in range(split.n_users):
        unseen = np.setdiff1d(preferred_items(split, user), train[user].indices)
        ranked = [i for i in np.argsort(-scores[user], kind="stable") if i not in train[user].indices]
        assert set(ranked[: len(unseen)]) == set(unseen.tolist())


def test_checkerboard_is_deterministic_per_seed() -> None:
    first, again, other = checkerboard_split(seed=4), checkerboard_split(seed=4), checkerboard_split(seed=5)
    np.testing.assert_array_equal(first.test.item_index, again.test.item_index)
    assert not np.array_equal(first.train.item_index, other.train.item_index)


def test_image_only_catalog_has_cold_held_out_items() -> None:
    split = image_only_split()
    assert split.protocol == "cold"
    assert not set(split.test.items().tolist()) & set(split.train.items().tolist())
    assert validate_split(split) == []


@pytest.mark.parametrize(
    ("make", "informative", "noise"), [(image_only_split, "image", "text"), (text_only_split, "text", "image")]
)
def test_only_the_informative_modality_beats_an_id_only_scorer(
    make: Callable[..., Split], informative: str, noise: str
) -> None:
    split = make(seed=0)
    id_only = recall(split, co_occurrence_scores(split))
    assert recall(split, content_scores(split, informative)) > 0.9
    assert recall(split, content_scores(split, informative)) > id_only + 0.4
    assert recall(split, content_scores(split, noise)) < 0.5


def test_warm_protocol_splits_per_user() -> None:
    split = image_only_split(protocol="warm")
    assert split.protocol == "warm"
    assert split.candidates("test") is None
    assert set(split.test.users().tolist()) == set(range(split.n_users))
