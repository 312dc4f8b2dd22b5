"""Serving an ensemble: the members' joined vectors (plus their EASE channel) rank as the model scores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fusionrec.data.dataset import Split
from fusionrec.models import build_model
from fusionrec.models.base import Recommender
from tests.serve.conftest import client_for

TRAIN = {"epochs": 2, "batch_size": 64, "progress": False, "seed": 0, "threads": 1}


@pytest.fixture(scope="module")
def model(serve_split: Split) -> Recommender:
    base_params = {"base": "lightgcn", "base_params": {"embedding_dim": 8}, "weight": 0.5, "l2": 5.0}
    return build_model("ensemble", base="ease-channel", base_params=base_params, train_config=TRAIN).fit(serve_split)


@pytest.fixture
def client(model: Recommender, tmp_path: Path, store_url: str) -> Iterator[TestClient]:
    with client_for(model, tmp_path / "ensemble", store_url) as test_client:
        yield test_client


def test_a_trained_user_gets_the_ensembles_own_ranking(client: TestClient, model: Recommender) -> None:
    body = client.get("/v1/users/u3/recommendations", params={"k": 10}).json()
    expected = model.recommend(["u3"], k=10)[0]
    assert [item["item_id"] for item in body["items"]] == [item for item, _ in expected]
    np.testing.assert_allclose([i["score"] for i in body["items"]], [s for _, s in expected], rtol=1e-5, atol=1e-6)
    user = model.split_.dataset.users.index(["u3"])  # type: ignore[union-attr]
    vectors_only = model.user_embeddings(user) @ model.item_embeddings().T  # type: ignore[operator]
    assert not np.allclose(model.score_users(user), vectors_only)  # the channel is part of what is served
