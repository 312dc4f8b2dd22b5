"""Serving a flagship with a second stage: the service ranks by the model's full score, the stage included."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fusionrec.data.dataset import Split
from fusionrec.models.fusion_graph import FusionGraph
from fusionrec.serve.profiles import profile_vector
from tests.serve.conftest import API_KEY, client_for

TRAIN = {"epochs": 2, "batch_size": 64, "progress": False, "seed": 0, "threads": 1}


@pytest.fixture(scope="module")
def model(serve_split: Split) -> FusionGraph:
    """Fitted with 15 % of the serving catalog's interactions held out as valid, which the stage learns from."""
    held_out = np.random.default_rng(0).random(len(serve_split.train.user_index)) < 0.15
    split = replace(serve_split, train=serve_split.train.select(~held_out), valid=serve_split.train.select(held_out))
    params = {"ease_weight": 0.5, "ease_l2": 5.0, "second_stage": True}
    return FusionGraph(embedding_dim=8, knn_k=3, **params, train_config=TRAIN).fit(split)


@pytest.fixture
def client(model: FusionGraph, tmp_path: Path, store_url: str) -> TestClient:
    with client_for(model, tmp_path / "staged", store_url) as test_client:
        yield test_client


def ids(body: dict) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def test_a_trained_user_gets_the_staged_ranking(client: TestClient, model: FusionGraph) -> None:
    body = client.get("/v1/users/u3/recommendations", params={"k": 10}).json()
    expected = model.recommend(["u3"], k=10)[0]
    assert ids(body) == [item for item, _ in expected]
    user = model.split_.dataset.users.index(["u3"])  # type: ignore[union-attr]
    first = model.first_stage_scores(user)[0]
    first[model.train_matrix_[user].indices] = -np.inf  # type: ignore[index]
    first_ids = model.split_.dataset.items.id(np.argsort(-first, kind="stable")[:10])  # type: ignore[union-attr]
    assert ids(body) != first_ids  # the stage reordered what the first stage ranks


def test_an_event_changes_the_staged_ranking_and_is_never_recommended(client: TestClient) -> None:
    before = ids(client.get("/v1/users/u3/recommendations", params={"k": 20}).json())
    liked = before[-1]
    response = client.post(
        "/v1/events", json={"user_id": "u3", "item_id": liked, "type": "like"}, headers={"X-API-Key": API_KEY}
    )
    assert response.status_code in (200, 201)
    after = ids(client.get("/v1/users/u3/recommendations", params={"k": 20}).json())
    assert liked not in after and after != before


def test_an_ad_hoc_history_is_ranked_by_the_full_score(client: TestClient, model: FusionGraph) -> None:
    history = ["i1", "i2", "i3"]
    body = client.post("/v1/recommendations", json={"history": history, "k": 8}).json()
    items = model.split_.dataset.items.index(history)  # type: ignore[union-attr]
    vectors = model.item_embeddings()
    assert vectors is not None
    query = profile_vector(None, vectors[items], np.ones(3), 1.0)
    assert query is not None
    scores = model.query_scores(query, vectors, items, items)
    scores[items] = -np.inf
    assert ids(body) == model.split_.dataset.items.id(np.argsort(-scores, kind="stable")[:8])  # type: ignore[union-attr]


def test_an_item_added_after_training_is_ranked_with_the_stage(
    client: TestClient, model: FusionGraph, serve_split: Split
) -> None:
    features = {m: serve_split.dataset.features[m][10].tolist() for m in ("image", "text")}
    headers = {"X-API-Key": API_KEY}
    response = client.put("/v1/items/fresh", json={"title": "Fresh", "features": features}, headers=headers)
    assert response.status_code == 201
    items = model.split_.dataset.items  # type: ignore[union-attr]
    body = client.get("/v1/users/u3/recommendations", params={"k": len(items.ids) + 1}).json()
    ranked = ids(body)
    user = model.split_.dataset.users.index(["u3"])  # type: ignore[union-attr]
    seen = model.train_matrix_[user].nnz  # type: ignore[index]
    assert "fresh" in ranked and len(set(ranked)) == len(ranked) == len(items.ids) + 1 - seen  # each unseen item once
