"""A second stage around any scorer: it learns from valid what the base score misses."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrec.data import Dataset, Interactions, Split, Vocabulary
from fusionrec.errors import ConfigError
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.models import build_model, check_model_params
from fusionrec.models.staged import Staged
from fusionrec.testing.datasets import checkerboard_split


def drifting_split(n_users: int = 300, n_popular: int = 20, n_new: int = 40, seed: int = 0) -> Split:
    """Everyone took popular items in training; each user's valid and test items are rarely-taken new ones.

    A popularity ranking puts the popular items first; only a stage that learns "low training
    degree" from valid can move the new items up.
    """
    rng = np.random.default_rng(seed)
    n_items = n_popular + n_new
    train_u, train_i, held_u, held_i = [], [], [], []
    for user in range(n_users):
        popular = rng.choice(n_popular, size=5, replace=False)
        new = n_popular + rng.choice(n_new, size=3, replace=False)
        train_u += [user] * 6
        train_i += [*popular, new[0]]
        held_u += [user, user]
        held_i += [new[1], new[2]]
    users = Vocabulary.from_ids([f"u{u}" for u in range(n_users)], kind="user")
    items = Vocabulary.from_ids([f"i{i}" for i in range(n_items)], kind="item")
    train = Interactions(np.array(train_u), np.array(train_i), n_users, n_items)
    valid = Interactions(np.array(held_u[0::2]), np.array(held_i[0::2]), n_users, n_items)
    test = Interactions(np.array(held_u[1::2]), np.array(held_i[1::2]), n_users, n_items)
    dataset = Dataset(name="drift", users=users, items=items, interactions=train)
    return Split(dataset, train, valid, test)


def test_the_stage_learns_from_valid_what_the_base_misses() -> None:
    split = drifting_split()
    base = build_model("pop").fit(split)
    staged = Staged(base="pop", candidates=30, trees=20, min_leaf=5).fit(split)
    before = evaluate_model(base, split, "test", ks=(5,), metrics=("recall",))["recall@5"]
    after = evaluate_model(staged, split, "test", ks=(5,), metrics=("recall",))["recall@5"]
    assert after > before + 0.1


def test_a_stage_needs_a_valid_part() -> None:
    split = checkerboard_split()
    empty = Split(split.dataset, split.train, split.valid.select(split.valid.user_index < 0), split.test)
    with pytest.raises(ConfigError, match="valid part is empty"):
        Staged(base="pop").fit(empty)


def test_the_stage_is_a_configuration_checked_before_data() -> None:
    check_model_params("staged", {"base": "lightgcn", "base_params": {"reg_weight": 3.0}, "candidates": 50})
    with pytest.raises(ConfigError, match="cannot itself be 'staged'"):
        check_model_params("staged", {"base": "staged"})
    with pytest.raises(ConfigError, match=r"model 'ease' got invalid parameters: l3: unknown key"):
        check_model_params("staged", {"base": "ease", "base_params": {"l3": 1}})


def test_parameters_rebuild_the_same_model() -> None:
    model = Staged(base="lightgcn", base_params={"embedding_dim": 8}, train_config={"epochs": 2})
    rebuilt = Staged(**model.get_params())
    assert rebuilt.get_params() == model.get_params()
