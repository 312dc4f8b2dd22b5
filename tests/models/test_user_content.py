"""The user content path: projection with masks, RLMRec-style alignment, settings checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fusionrec.data.dataset import UserContent
from fusionrec.errors import ConfigError
from fusionrec.models.user_content import (
    UserContentConfig,
    UserContentPath,
    build_user_content_path,
    user_alignment,
    user_content_config,
    with_user_content,
)
from fusionrec.testing.datasets import image_only_split


def content(n_users: int = 6, dim: int = 5, masked: tuple[int, ...] = (1, 4)) -> UserContent:
    values = np.random.default_rng(0).normal(size=(n_users, dim)).astype(np.float32)
    mask = np.ones(n_users, dtype=bool)
    mask[list(masked)] = False
    return UserContent(values, mask, source="test content")


def test_masked_users_get_zero_and_the_others_a_projection() -> None:
    path = UserContentPath(content(), dim=3, config=UserContentConfig())
    projected = path()
    assert projected.shape == (6, 3)
    assert not projected[[1, 4]].any() and projected[[0, 2, 3, 5]].abs().sum(1).gt(0).all()
    ids = torch.zeros(6, 3)
    assert torch.equal(with_user_content(ids, path), projected) and with_user_content(ids, None) is ids


def test_alignment_needs_two_users_with_content_and_pulls_content_towards_behaviour() -> None:
    torch.manual_seed(0)
    path = UserContentPath(content(), dim=3, config=UserContentConfig(align_weight=0.5, temperature=0.1))
    behaviour = torch.randn(6, 3)
    assert user_alignment(path, torch.tensor([0, 1, 4]), behaviour).item() == 0.0  # one user with content
    assert user_alignment(None, torch.tensor([0, 2]), behaviour).item() == 0.0
    optimiser = torch.optim.Adam(path.parameters(), lr=0.05)
    users = torch.tensor([0, 2, 3, 5])
    first = user_alignment(path, users, behaviour)
    for _ in range(100):
        optimiser.zero_grad()
        loss = user_alignment(path, users, behaviour)
        loss.backward()
        optimiser.step()
    assert first.item() > 0 and loss.item() < 0.5 * first.item()


def test_settings_are_checked_by_name() -> None:
    assert user_content_config(None) is None
    assert user_content_config({"align_weight": 0.1}) == UserContentConfig(align_weight=0.1)
    with pytest.raises(ConfigError, match="align_weigth"):
        user_content_config({"align_weigth": 0.1})
    with pytest.raises(ConfigError, match="dropout"):
        user_content_config({"dropout": 1.5})


def test_the_path_needs_user_content_with_a_usable_row() -> None:
    split = image_only_split(seed=2, protocol="warm")
    assert build_user_content_path(split, None, 8) is None
    with pytest.raises(ConfigError, match="no user content"):
        build_user_content_path(split, UserContentConfig(), 8)
    split.user_content = UserContent(np.zeros((split.n_users, 4), np.float32), np.zeros(split.n_users, bool))
    with pytest.raises(ConfigError, match=r"all .* masked"):
        build_user_content_path(split, UserContentConfig(), 8)
