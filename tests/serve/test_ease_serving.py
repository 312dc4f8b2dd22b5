"""Serving a flagship whose score adds the EASE channel: the service ranks by the model's own score."""

from __future__ import annotations

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
    return FusionGraph(embedding_dim=8, knn_k=3, ease_weight=0.5, ease_l2=5.0, train_config=TRAIN).fit(serve_split)


@pytest.fixture
def client(model: FusionGraph, tmp_path: Path, store_url: str) -> TestClient:
    with client_for(model, tmp_path / "ease", store_url) as test_client:
        yield test_client


def ids(body: dict) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def test_a_trained_user_gets_the_models_own_ranking(client: TestClient, model: FusionGraph) -> None:
    body = client.get("/v1/users/u3/recommendations", params={"k": 10}).json()
    expected = model.recommend(["u3"], k=10)[0]
    assert ids(body) == [item for item, _ in expected]
    np.testing.assert_allclose([i["score"] for i in body["items"]], [s for _, s in expected], rtol=1e-5)
    user = model.split_.dataset.users.index(["u3"])  # type: ignore[union-attr]
    vectors_only = model.user_embeddings(user) @ model.item_embeddings().T  # type: ignore[operator, union-attr]
    assert not np.allclose(model.score_users(user), vectors_only)


def test_an_ad_hoc_history_adds_its_own_channel(client: TestClient, model: FusionGraph) -> None:
    history = ["i1", "i2", "i3"]
    body = client.post("/v1/recommendations", json={"history": history, "k": 8}).json()
    items = model.split_.dataset.items.index(history)  # type: ignore[union-attr]
    vectors, channel = model.item_embeddings(), model.ease_channel()
    assert vectors is not None and channel is not None
    query = profile_vector(None, vectors[items], np.ones(3), 1.0)
    assert query is not None
    scores = vectors @ query + channel.history_scores(items, len(vectors))
    scores[items] = -np.inf
    expected = model.split_.dataset.items.id(np.argsort(-scores, kind="stable")[:8])  # type: ignore[union-attr]
    assert ids(body) == expected


def test_an_explanation_names_the_co_occurrence_part_and_sums_to_the_score(
    client: TestClient, model: FusionGraph
) -> None:
    item = ids(client.get("/v1/users/u3/recommendations", params={"k": 1}).json())[0]
    body = client.get(f"/v1/users/u3/explanations/{item}").json()
    names = [c["name"] for c in body["contributions"]]
    assert names[-1] == "co-occurrence" and names[0] == "id"
    assert sum(c["score"] for c in body["contributions"]) == pytest.approx(body["score"], rel=1e-4, abs=1e-6)
    user, column = model.split_.dataset.users.index(["u3"]), model.split_.dataset.items.index([item])  # type: ignore[union-attr]
    assert body["score"] == pytest.approx(float(model.score_users(user)[0, column[0]]), rel=1e-4)


def test_a_like_moves_the_channel_for_the_next_request(client: TestClient) -> None:
    before = client.get("/v1/users/u3/recommendations", params={"k": 20}).json()
    liked = ids(before)[-1]
    response = client.post(
        "/v1/events", json={"user_id": "u3", "item_id": liked, "type": "like"}, headers={"X-API-Key": API_KEY}
    )
    assert response.status_code in (200, 201)
    after = client.get("/v1/users/u3/recommendations", params={"k": 20}).json()
    assert liked not in ids(after) and ids(after) != ids(before)
