"""The ensemble add-on: copies of any seeded scorer trained apart, scored by the mean of their scores."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import fusionrec.models.ensemble
from fusionrec.config import load_config
from fusionrec.data.dataset import Split
from fusionrec.errors import ConfigError
from fusionrec.models import build_model, check_model_params, reads_content
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.models.ease_channel import EaseChannel, standardised
from fusionrec.models.ensemble import Ensemble
from fusionrec.models.fusion_graph_apart import MEMBER_SEED_STRIDE
from fusionrec.models.staged import Staged
from fusionrec.testing.datasets import checkerboard_split

TINY = {"epochs": 3, "batch_size": 16, "progress": False, "seed": 7, "threads": 1}


@pytest.fixture(scope="module")
def split() -> Split:
    return checkerboard_split(n_users=20, n_items=20, seed=3)


@pytest.fixture(scope="module")
def users(split: Split) -> np.ndarray:
    return np.arange(split.n_users, dtype=np.int64)


@pytest.fixture(scope="module")
def bpr_pair(split: Split) -> Ensemble:
    model = Ensemble(base="bpr", base_params={"embedding_dim": 8}, count=2, train_config=TINY)
    return model.fit(split)


def test_member_k_is_the_single_model_with_seed_moved_by_k_strides(
    bpr_pair: Ensemble, split: Split, users: np.ndarray
) -> None:
    for k, member in enumerate(bpr_pair.members_):
        seed = TINY["seed"] + MEMBER_SEED_STRIDE * k
        single = build_model("bpr", embedding_dim=8, train_config={**TINY, "seed": seed}).fit(split)
        np.testing.assert_array_equal(member.score_users(users), single.score_users(users))
    first, second = (member.score_users(users) for member in bpr_pair.members_)
    assert not np.allclose(first, second)  # the members differ


def test_scores_are_the_mean_of_the_members_and_their_joined_vectors_give_them(
    bpr_pair: Ensemble, users: np.ndarray
) -> None:
    members = np.stack([member.score_users(users) for member in bpr_pair.members_])
    scores = bpr_pair.score_users(users)
    np.testing.assert_allclose(scores, members.mean(axis=0), rtol=1e-6, atol=1e-7)
    vectors = bpr_pair.user_embeddings(users) @ bpr_pair.item_embeddings().T  # type: ignore[operator]
    np.testing.assert_allclose(vectors, scores, rtol=1e-5, atol=1e-6)


def test_the_standardised_combination_averages_per_user_standardised_scores(split: Split, users: np.ndarray) -> None:
    model = Ensemble(base="lightgcn", base_params={"embedding_dim": 8}, combine="standardised", train_config=TINY)
    model.fit(split)
    expected = np.mean([standardised(member.score_users(users)) for member in model.members_], axis=0)
    np.testing.assert_allclose(model.score_users(users), expected, rtol=1e-5, atol=1e-6)
    assert model.item_embeddings() is None and model.ease_channel() is None  # no vectors give these scores


def test_the_history_runs_the_members_on_and_reads_the_whole_on_valid(bpr_pair: Ensemble) -> None:
    history, members = bpr_pair.history_, [member.history_ for member in bpr_pair.members_]  # type: ignore[attr-defined]
    assert history is not None
    assert history.epochs_run == sum(h.epochs_run for h in members) == 2 * TINY["epochs"]
    assert 0.0 <= history.best_valid <= 1.0


def test_an_artifact_round_trips_every_member(bpr_pair: Ensemble, users: np.ndarray, tmp_path: Path) -> None:
    assert sorted({name.split(".")[1] for name in bpr_pair.state_arrays()}) == ["0", "1"]
    loaded = load_artifact(save_artifact(bpr_pair, tmp_path / "pair"))
    assert loaded.model.get_params() == bpr_pair.get_params()
    np.testing.assert_array_equal(loaded.model.score_users(users), bpr_pair.score_users(users))


def test_a_deterministic_base_is_refused_naming_the_fix() -> None:
    for base, params in (("ease", {}), ("staged", {"base": "itemknn"})):
        with pytest.raises(ConfigError, match=rf"cannot copy '{base}': it has no seed to vary.*base = \"lightgcn\""):
            check_model_params("ensemble", {"base": base, "base_params": params})
    with pytest.raises(ConfigError, match=r"count: got 1; Input should be greater than or equal to 2"):
        check_model_params("ensemble", {"base": "bpr", "count": 1})
    with pytest.raises(ConfigError, match=r"base cannot itself be 'ensemble'"):
        check_model_params("ensemble", {"base": "ensemble"})


def test_a_base_seeded_by_its_own_parameter_moves_that_seed() -> None:
    model = build_model("ensemble", base="random", base_params={"seed": 5}, count=3, seed_stride=10)
    assert [member.get_params()["seed"] for member in model.members_] == [5, 15, 25]  # type: ignore[attr-defined]


def test_a_wrapped_base_moves_the_seed_of_the_model_it_trains(split: Split, users: np.ndarray) -> None:
    """Members of an EASE-channelled LightGCN: each adds the same channel, which a service adds once."""
    base_params = {"base": "lightgcn", "base_params": {"embedding_dim": 8}, "weight": 0.3, "l2": 5.0}
    model = build_model("ensemble", base="ease-channel", base_params=base_params, train_config=TINY).fit(split)
    assert [member.train_config.seed for member in model.members_] == [7, 7 + MEMBER_SEED_STRIDE]  # type: ignore[attr-defined]
    channel = model.ease_channel()
    assert isinstance(channel, EaseChannel)
    train = split.train.to_csr()
    served = model.user_embeddings(users) @ model.item_embeddings().T + channel.scores(train)  # type: ignore[operator]
    np.testing.assert_allclose(served, model.score_users(users), rtol=1e-5, atol=1e-5)


def test_lightgcn_pair_with_second_stage_is_a_configuration_that_trains(split: Split, users: np.ndarray) -> None:
    config = load_config(None, {"model.name": "staged", "model.params.base": "ensemble",
                                "model.params.base_params": '{ base = "lightgcn", count = 2 }'})  # fmt: skip
    model = build_model(config.model.name, **config.model.params)
    assert model.base_.name == "ensemble" and model.base_.base_.name == "lightgcn"  # type: ignore[attr-defined]
    assert not reads_content("ensemble", {"base": "lightgcn"}) and reads_content("ensemble", {"base": "fusiongraph"})
    staged = Staged(
        base="ensemble",
        base_params={"base": "lightgcn", "count": 2, "base_params": {"embedding_dim": 8}},
        candidates=8,
        trees=5,
        min_leaf=2,
        train_config=TINY,
    ).fit(split)
    scores = staged.score_users(users)
    assert scores.shape == (split.n_users, split.n_items) and np.isfinite(scores).all()
    assert staged.history_ is not None and staged.history_.epochs_run == 2 * TINY["epochs"]


def test_the_flagships_members_apart_are_this_ensemble_of_single_flagships(split: Split, users: np.ndarray) -> None:
    """``members = { count = 2, training = "apart" }`` scores as ``ensemble`` over a one-member FusionGraph
    (the mean cosine, the content and EASE channels added once), up to float rounding."""
    params = {"core": {"embedding_dim": 8}, "item_graph": {"k": 3}, "content_channel": {"weight": 2.0},
              "ease_channel": {"weight": 0.05}}  # fmt: skip
    members = {"count": 2, "training": "apart"}
    flagship = build_model("fusiongraph", **params, members=members, train_config=TINY)
    flagship.fit(split)
    pair = build_model("ensemble", base="fusiongraph", base_params=params, train_config=TINY).fit(split)
    np.testing.assert_allclose(pair.score_users(users), flagship.score_users(users), rtol=1e-5, atol=1e-5)
    assert pair.scores_cold_items


def test_the_module_example_runs() -> None:
    assert doctest.testmod(fusionrec.models.ensemble).failed == 0
