"""The EASE and content channels as add-ons around any scorer."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrec.config import load_config
from fusionrec.errors import ConfigError, ModelError
from fusionrec.models import build_model
from fusionrec.models.content_channel import ContentChannel
from fusionrec.models.ease_channel import EaseChannel, WithEaseChannel
from fusionrec.testing.datasets import checkerboard_split

TINY = {"epochs": 2, "batch_size": 16, "progress": False, "seed": 7, "threads": 1}


def test_the_ease_channel_adds_standardised_ease_scores_to_any_base() -> None:
    split = checkerboard_split(n_users=20, n_items=20, seed=3)
    users = np.arange(split.n_users)
    model = build_model("ease-channel", base="lightgcn", base_params={"embedding_dim": 8}, weight=0.3, l2=5.0,
                        train_config=TINY).fit(split)  # fmt: skip
    base = build_model("lightgcn", embedding_dim=8, train_config=TINY).fit(split)
    train = split.train.to_csr()
    expected = base.score_users(users) + EaseChannel.fit(train, 5.0, 0.3).scores(train)
    np.testing.assert_allclose(model.score_users(users), expected, rtol=1e-5, atol=1e-6)
    assert isinstance(model, WithEaseChannel) and model.ease_channel() is not None  # a service adds it too
    np.testing.assert_array_equal(model.item_embeddings(), base.item_embeddings())


def test_the_content_channel_adds_the_faded_content_similarity_to_any_base() -> None:
    split = checkerboard_split(n_users=20, n_items=20, seed=3)
    users = np.arange(split.n_users)
    model = build_model("content-channel", base="itemknn", base_params={"k": 5}, weight=0.5, prior=3.0).fit(split)
    base = build_model("itemknn", k=5).fit(split)
    channel = ContentChannel.build(split, 0.5, 3.0)
    expected = base.score_users(users) + channel.user_columns() @ channel.items.T
    np.testing.assert_allclose(model.score_users(users), expected, rtol=1e-5, atol=1e-6)


def test_a_channel_refuses_bad_settings_and_data_without_content() -> None:
    with pytest.raises(ConfigError, match=r"'ease-channel' got invalid parameters: l2: got 0"):
        build_model("ease-channel", base="pop", l2=0.0)
    with pytest.raises(ConfigError, match="cannot itself be 'content-channel'"):
        build_model("content-channel", base="content-channel")
    split = checkerboard_split(n_users=20, n_items=20, seed=3)
    bare = split.with_modalities([])
    with pytest.raises(ModelError, match="content-channel needs item content features"):
        build_model("content-channel", base="pop").fit(bare)


def test_lightgcn_with_ease_channel_and_second_stage_is_a_configuration() -> None:
    config = load_config(None, {"model.name": "staged", "model.params.base": "ease-channel",
                                "model.params.base_params": '{ base = "lightgcn", weight = 0.005 }'})  # fmt: skip
    model = build_model(config.model.name, **config.model.params)
    assert model.base_.name == "ease-channel" and model.base_.base_.name == "lightgcn"  # type: ignore[attr-defined]
