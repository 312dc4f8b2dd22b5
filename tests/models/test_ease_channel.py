"""The EASE channel: EASE's standardised item-item scores added to a model's score after training."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fusionrec.errors import ConfigError
from fusionrec.models.ease import ease_weights
from fusionrec.models.ease_channel import EaseChannel, standardised


@pytest.fixture(scope="module")
def train() -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    matrix = (rng.random((40, 12)) < 0.3).astype(np.float32)
    matrix[:, 11] = 0  # an item without training interactions
    return sp.csr_matrix(matrix)


def test_channel_is_weight_times_per_user_standardised_ease_scores(train: sp.csr_matrix) -> None:
    channel = EaseChannel.fit(train, l2=5.0, weight=0.3)
    raw = train.toarray() @ ease_weights(train, 5.0)
    spread = raw.std(1) > 0
    assert 0 < spread.sum() < len(raw)  # users with a history, and users without one
    expected = 0.3 * (raw[spread] - raw[spread].mean(1, keepdims=True)) / raw[spread].std(1, keepdims=True)
    np.testing.assert_allclose(channel.scores(train[spread]), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(channel.scores(train[~spread]), 0.0)  # no history, no channel
    np.testing.assert_allclose(channel.scores(train).std(1)[spread], 0.3, rtol=1e-4)  # every user weighs the same


def test_one_history_scores_as_the_users_training_row(train: sp.csr_matrix) -> None:
    channel = EaseChannel.fit(train, l2=5.0, weight=0.3)
    history = train[3].indices
    np.testing.assert_allclose(channel.history_scores(history, 12), channel.scores(train[3])[0], rtol=1e-5, atol=1e-6)
    repeated = np.concatenate([history, history[:1]])
    np.testing.assert_array_equal(channel.history_scores(repeated, 12), channel.history_scores(history, 12))


def test_items_added_after_training_score_as_an_item_without_interactions(train: sp.csr_matrix) -> None:
    channel = EaseChannel.fit(train, l2=5.0, weight=0.3)
    history = train[3].indices
    row = channel.history_scores(np.append(history, 13), 15)  # items 12-14 are new; 13 is in the history
    np.testing.assert_allclose(row[:12], channel.history_scores(history, 12), rtol=1e-6)
    np.testing.assert_allclose(row[12:], row[11])  # item 11 has no training interaction either
    assert row[11] != 0.0


def test_an_empty_history_adds_nothing(train: sp.csr_matrix) -> None:
    channel = EaseChannel.fit(train, l2=5.0, weight=0.3)
    np.testing.assert_array_equal(channel.history_scores(np.array([], np.int64), 12), np.zeros(12, np.float32))
    assert standardised(np.ones((1, 4), np.float32)).tolist() == [[0.0] * 4]


def test_a_catalog_above_max_items_names_the_memory_and_the_fix(train: sp.csr_matrix) -> None:
    with pytest.raises(ConfigError, match=r"dense 12 x 12 .* max_items is 10; set ease_channel.weight=0"):
        EaseChannel.fit(train, l2=5.0, weight=0.3, max_items=10)
