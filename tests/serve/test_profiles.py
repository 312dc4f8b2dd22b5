"""Online profiles: events move the user's vector towards liked items and away from disliked ones."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrec.serve.profiles import event_weight, profile_vector


def test_no_events_keep_the_trained_vector() -> None:
    base = np.array([1.0, 2.0], np.float32)
    assert profile_vector(base, np.zeros((0, 2), np.float32), np.zeros(0), 5.0) is base


def test_a_new_user_is_the_weighted_mean_of_their_items() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    profile = profile_vector(None, vectors, np.array([1.0, 0.5]), 5.0)
    assert profile is not None
    np.testing.assert_allclose(profile, [1 / 1.5, 0.5 / 1.5])


def test_more_events_weigh_more_and_keep_the_trained_length() -> None:
    base = np.array([3.0, 0.0], np.float32)
    liked = np.array([[0.0, 1.0]], np.float32)
    one = profile_vector(base, liked, np.array([1.0]), half_weight=1.0)
    many = profile_vector(base, np.repeat(liked, 9, axis=0), np.ones(9), half_weight=1.0)
    assert one is not None and many is not None
    np.testing.assert_allclose(one, [1.5, 1.5])  # one event = the half weight: halfway, rescaled to |base|
    assert many[1] / many[0] > one[1] / one[0]


def test_a_dislike_pushes_away() -> None:
    base = np.array([1.0, 0.0], np.float32)
    disliked = np.array([[1.0, 0.0]], np.float32)
    profile = profile_vector(base, disliked, np.array([-1.0]), half_weight=0.5)
    assert profile is not None and profile @ disliked[0] < base @ disliked[0]


@pytest.mark.parametrize(
    ("kind", "value", "weight"),
    [("like", None, 1.0), ("view", None, 0.5), ("dislike", None, -1.0), ("rating", 5.0, 1.0), ("rating", 1.0, -1.0)],
)
def test_event_weights(kind: str, value: float | None, weight: float) -> None:
    assert event_weight(kind, value) == weight
