"""The flagship's user side: user content projected into layer 0 trains, changes scores and survives save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrec.data.dataset import Split, UserContent
from fusionrec.errors import ConfigError
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.models.fusion_graph import FusionGraph
from fusionrec.testing.datasets import image_only_split

TINY = {"epochs": 3, "batch_size": 32, "progress": False, "seed": 7, "threads": 1}
USER_PATH = {"align_weight": 0.2}


@pytest.fixture(scope="module")
def split() -> Split:
    split = image_only_split(seed=2, protocol="warm")
    values = np.random.default_rng(3).normal(size=(split.n_users, 6)).astype(np.float32)
    mask = np.arange(split.n_users) % 4 != 0  # every fourth user has no profile
    split.user_content = UserContent(values, mask, source="random user content")
    return split


def flagship(split: Split, **params: object) -> FusionGraph:
    return FusionGraph(embedding_dim=8, knn_k=3, train_config=TINY, **params).fit(split)  # type: ignore[arg-type]


def test_the_user_path_trains_and_changes_scores(split: Split) -> None:
    users = np.arange(split.n_users)
    plain, with_users = flagship(split), flagship(split, user_content=USER_PATH)
    assert with_users.module_ is not None and any("user_content" in n for n, _ in with_users.module_.named_parameters())
    with_scores = with_users.score_users(users)
    assert np.isfinite(with_scores).all()
    assert not np.allclose(plain.score_users(users), with_scores, atol=1e-4)


def test_explained_parts_still_sum_to_the_item_vectors(split: Split) -> None:
    model = flagship(split, user_content=USER_PATH, content_similarity_weight=0.0)
    parts = model.modality_item_vectors()
    np.testing.assert_allclose(sum(parts.values()), model.item_embeddings(), atol=1e-5)


def test_an_artifact_with_the_user_path_saves_and_loads_identical_scores(split: Split, tmp_path: Path) -> None:
    model = flagship(split, user_content=USER_PATH)
    loaded = load_artifact(save_artifact(model, tmp_path / "artifact"))
    users = np.arange(split.n_users)
    assert loaded.split.user_content is not None
    np.testing.assert_allclose(loaded.model.score_users(users), model.score_users(users), atol=1e-5)


def test_the_user_path_without_user_content_names_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"no user content.*user_profiles"):
        flagship(image_only_split(seed=2, protocol="warm"), user_content={})
    with pytest.raises(ConfigError, match="align_weight"):
        FusionGraph(user_content={"align_weight": -1.0})


def test_user_vectors_for_new_content_match_the_trained_ones_for_the_same_content(split: Split) -> None:
    model = flagship(split, user_content=USER_PATH)
    assert split.user_content is not None
    users = np.array([1, 2, 5])  # users with content
    same = model.content_user_vectors(users, split.user_content.values[users])
    np.testing.assert_allclose(same, model.user_embeddings(users), atol=1e-5)
    other = model.content_user_vectors(users, split.user_content.values[users] + 3.0)
    assert other is not None and not np.allclose(other, model.user_embeddings(users), atol=1e-3)
    assert flagship(split).content_user_vectors(users, split.user_content.values[users]) is None
