"""The HTTP API in-process: recommendations, events, profiles, items, explanations, operations."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fusionrec.data.dataset import Split
from tests.serve.conftest import API_KEY, CountScores, IdFactors, client_for

WRITE = {"X-API-Key": API_KEY}


def topic(title: str) -> int:
    match = re.search(r"topic (\d+)", title)
    assert match, title
    return int(match.group(1))


def item_ids(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def trained_items(split: Split, user: str) -> set[str]:
    index = split.dataset.users.index([user])[0]
    items = split.train.item_index[split.train.user_index == index]
    return set(split.dataset.items.id(items))


def like(client: TestClient, user: str, item: str, **extra: Any) -> Any:
    return client.post("/v1/events", json={"user_id": user, "item_id": item, "type": "like", **extra}, headers=WRITE)


def test_recommendations_for_a_known_user_skip_seen_items(client: TestClient, serve_split: Split) -> None:
    body = client.get("/v1/users/u3/recommendations", params={"k": 10}).json()
    assert body["strategy"] == "model"
    assert [item["rank"] for item in body["items"]] == list(range(1, 11))
    assert not set(item_ids(body)) & trained_items(serve_split, "u3")
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert body["items"][0]["poster_url"].endswith("/poster")


def test_recommendations_follow_the_users_topics(client: TestClient, serve_split: Split) -> None:
    liked_topics = Counter(
        topic(client.get(f"/v1/items/{i}").json()["title"]) for i in trained_items(serve_split, "u5")
    )
    body = client.get("/v1/users/u5/recommendations", params={"k": 10}).json()
    on_topic = sum(topic(item["title"]) in liked_topics for item in body["items"])
    assert on_topic >= 7  # each user likes two of six topics; chance would give about 3 of 10


def test_exclusions_are_respected(client: TestClient) -> None:
    first = item_ids(client.get("/v1/users/u3/recommendations", params={"k": 5}).json())
    again = client.get("/v1/users/u3/recommendations", params={"k": 5, "exclude": first[:2]}).json()
    assert not set(first[:2]) & set(item_ids(again))
    assert item_ids(again)[:3] == first[2:]


def test_an_unknown_user_gets_popular_items(client: TestClient, serve_split: Split) -> None:
    body = client.get("/v1/users/nobody-yet/recommendations", params={"k": 5}).json()
    assert body["strategy"] == "popularity"
    counts = np.bincount(serve_split.train.item_index, minlength=serve_split.n_items)
    assert [item["score"] for item in body["items"]] == sorted(counts, reverse=True)[:5]


def test_a_like_updates_the_profile_for_the_next_request(client: TestClient) -> None:
    before = item_ids(client.get("/v1/users/u3/recommendations", params={"k": 10}).json())
    response = like(client, "u3", before[0])
    assert response.status_code == 201 and response.json()["replayed"] is False
    after = client.get("/v1/users/u3/recommendations", params={"k": 10}).json()
    assert after["strategy"] == "profile"
    assert before[0] not in item_ids(after)
    history = client.get("/v1/users/u3/history").json()
    assert history["items"][0] == {"item": history["items"][0]["item"], "source": "like"}
    assert history["items"][0]["item"]["item_id"] == before[0]


def test_a_new_users_events_give_them_a_profile_of_that_topic(client: TestClient, serve_split: Split) -> None:
    titles = serve_split.dataset.item_table.set_index("item_id")["title"]
    chosen = [raw for raw, title in titles.items() if topic(title) == 2][:3]
    for raw in chosen:
        assert like(client, "brand-new", raw).status_code == 201
    body = client.get("/v1/users/brand-new/recommendations", params={"k": 5}).json()
    assert body["strategy"] == "profile"
    assert not set(item_ids(body)) & set(chosen)
    assert sum(topic(item["title"]) == 2 for item in body["items"]) >= 4


def test_an_idempotency_key_records_once(client: TestClient) -> None:
    first = like(client, "u1", "i4", idempotency_key="abc")
    again = like(client, "u1", "i4", idempotency_key="abc")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    header = client.post(
        "/v1/events",
        json={"user_id": "u1", "item_id": "i4", "type": "like"},
        headers={**WRITE, "Idempotency-Key": "abc"},
    )
    assert header.status_code == 200 and header.json()["id"] == first.json()["id"]
    clash = like(client, "u1", "i5", idempotency_key="abc")
    assert clash.status_code == 409
    assert "already used for event" in clash.json()["error"]["message"]


def test_recommendations_for_an_ad_hoc_history(client: TestClient, serve_split: Split) -> None:
    titles = serve_split.dataset.item_table.set_index("item_id")["title"]
    history = [raw for raw, title in titles.items() if topic(title) == 4][:4]
    body = client.post("/v1/recommendations", json={"history": history, "k": 6}).json()
    assert body["strategy"] == "history" and len(body["items"]) == 6
    assert not set(item_ids(body)) & set(history)
    assert sum(topic(item["title"]) == 4 for item in body["items"]) >= 5


def test_similar_items_share_the_topic(client: TestClient) -> None:
    source = client.get("/v1/items/i10").json()
    body = client.get("/v1/items/i10/similar", params={"k": 5}).json()
    assert "i10" not in item_ids(body)
    assert sum(topic(item["title"]) == topic(source["title"]) for item in body["items"]) >= 4


def test_explanations_split_the_score_by_modality(client: TestClient) -> None:
    item = item_ids(client.get("/v1/users/u3/recommendations", params={"k": 1}).json())[0]
    body = client.get(f"/v1/users/u3/explanations/{item}").json()
    assert body["method"] == "decomposition"
    assert [c["name"] for c in body["contributions"]] == ["id", "image", "text"]
    assert sum(c["score"] for c in body["contributions"]) == pytest.approx(body["score"], rel=1e-4, abs=1e-6)
    assert sum(abs(c["share"]) for c in body["contributions"]) == pytest.approx(1.0)
    assert len(body["because"]) == 3
    similarities = [b["similarity"] for b in body["because"]]
    assert similarities == sorted(similarities, reverse=True)


def test_a_new_item_with_content_is_indexed_without_retraining(client: TestClient, serve_split: Split) -> None:
    features = {m: serve_split.dataset.features[m][10].tolist() for m in ("image", "text")}
    response = client.put("/v1/items/fresh", json={"title": "Fresh (topic 9)", "features": features}, headers=WRITE)
    assert response.status_code == 201
    assert response.json()["created"] is True and response.json()["indexed"] is True
    source_topic = topic(client.get("/v1/items/i10").json()["title"])
    neighbours = client.get("/v1/items/fresh/similar", params={"k": 6}).json()["items"]
    assert sum(topic(item["title"]) == source_topic for item in neighbours) >= 5  # i10's content: i10's topic
    explanation = client.get("/v1/users/u3/explanations/fresh").json()
    assert explanation["method"] == "occlusion"
    assert {c["name"] for c in explanation["contributions"]} == {"image", "text"}
    update = client.put("/v1/items/fresh", json={"title": "Renamed"}, headers=WRITE)
    assert update.status_code == 200 and update.json()["created"] is False
    assert client.get("/v1/items/fresh").json()["title"] == "Renamed"


def test_added_items_survive_a_restart(settings: Any, serve_split: Split) -> None:
    from fusionrec.serve.app import create_app

    features = {"image": serve_split.dataset.features["image"][3].tolist()}
    with TestClient(create_app(settings)) as first:
        assert (
            first.put("/v1/items/kept", json={"title": "Kept", "features": features}, headers=WRITE).status_code == 201
        )
    with TestClient(create_app(settings)) as second:
        assert second.get("/v1/items/kept").json()["title"] == "Kept"
        assert second.get("/v1/model").json()["n_items"] == serve_split.n_items + 1


def test_a_second_worker_picks_up_items_and_events(settings: Any) -> None:
    from fusionrec.serve.app import create_app

    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        features = {"text": [0.1] * 16}
        assert one.put("/v1/items/shared", json={"features": features}, headers=WRITE).status_code == 201
        assert two.get("/v1/items/shared").status_code == 200
        assert like(one, "u7", "shared").status_code == 201
        assert two.get("/v1/users/u7/recommendations").json()["strategy"] == "profile"


def test_poster_files_are_served_and_nothing_outside_the_media_root(client: TestClient) -> None:
    poster = client.get("/v1/items/i1/poster")
    assert poster.status_code == 200 and poster.content.startswith(b"\x89PNG")
    for sneaky in ("../secret.txt", "/etc/passwd", "posters/../../secret.txt"):
        assert client.put("/v1/items/i2", json={"poster": sneaky}, headers=WRITE).status_code == 200
        refused = client.get("/v1/items/i2/poster")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"


def test_a_model_without_content_cannot_add_items(serve_split: Split, tmp_path: Path, store_url: str) -> None:
    with client_for(IdFactors(dim=8).fit(serve_split), tmp_path / "id", store_url) as client:
        assert client.get("/v1/model").json()["can_add_items"] is False
        response = client.put("/v1/items/new", json={"title": "x", "features": {"image": [0.0] * 16}}, headers=WRITE)
        assert response.status_code == 409
        assert "does not implement ContentAware" in response.json()["error"]["message"]
        assert client.put("/v1/items/i1", json={"title": "Retitled"}, headers=WRITE).status_code == 200
        explanation = client.get("/v1/users/u3/explanations/i1").json()
        assert explanation["method"] == "total" and [c["name"] for c in explanation["contributions"]] == ["id"]


def test_a_model_without_embeddings_ranks_by_its_scores(serve_split: Split, tmp_path: Path, store_url: str) -> None:
    with client_for(CountScores().fit(serve_split), tmp_path / "counts", store_url) as client:
        body = client.get("/v1/users/u3/recommendations", params={"k": 5}).json()
        assert body["strategy"] == "model" and not set(item_ids(body)) & trained_items(serve_split, "u3")
        for path in ("/v1/items/i1/similar", "/v1/users/u3/explanations/i1"):
            response = client.get(path)
            assert response.status_code == 409 and "has no item embeddings" in response.json()["error"]["message"]
        assert client.post("/v1/recommendations", json={"history": ["i1"]}).status_code == 409


def test_users_page_and_model_description(client: TestClient, serve_split: Split) -> None:
    users = client.get("/v1/users", params={"offset": 10, "limit": 5}).json()
    assert users == {"total": 200, "offset": 10, "users": [f"u{i}" for i in range(10, 15)]}
    model = client.get("/v1/model").json()
    assert model["component"] == "fusionrec.serve.demo:ContentFactors"
    assert (model["index"], model["modalities"], model["can_add_items"]) == ("exact", ["image", "text"], True)


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["checks"]["store"] == "ok"
    client.get("/v1/users/u1/recommendations")
    like(client, "u1", "i9")
    text = client.get("/metrics").text
    assert (
        'fusionrec_http_requests_total{method="GET",route="/v1/users/{user_id}/recommendations",status="200"}' in text
    )
    assert 'fusionrec_events_recorded_total{type="like"} 1.0' in text
    assert "fusionrec_catalog_items 120.0" in text


def test_the_openapi_document_describes_every_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    expected = {
        "/v1/users/{user_id}/recommendations",
        "/v1/recommendations",
        "/v1/items/{item_id}",
        "/v1/items/{item_id}/similar",
        "/v1/events",
        "/v1/users/{user_id}/explanations/{item_id}",
        "/health",
        "/ready",
        "/metrics",
    }
    assert expected <= set(document["paths"])
    assert "APIKeyHeader" in document["components"]["securitySchemes"]
    assert "ErrorResponse" in document["components"]["schemas"]


def test_the_web_page_and_its_script_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="recommendations"' in page.text
    assert "textContent" in client.get("/static/app.js").text


def test_events_change_recommendations_on_each_store(artifact: Path, any_store_url: tuple[str, str]) -> None:
    from fusionrec.serve.app import create_app
    from fusionrec.serve.settings import ServeSettings

    url, prefix = any_store_url
    settings = ServeSettings(artifact=artifact, store_url=url, table_prefix=prefix, api_key=API_KEY)
    with TestClient(create_app(settings)) as client:
        before = item_ids(client.get("/v1/users/u8/recommendations", params={"k": 5}).json())
        assert like(client, "u8", before[0], idempotency_key="once").status_code == 201
        assert like(client, "u8", before[0], idempotency_key="once").json()["replayed"] is True
        after = client.get("/v1/users/u8/recommendations", params={"k": 5}).json()
        assert after["strategy"] == "profile" and before[0] not in item_ids(after)
        assert client.get("/ready").json()["checks"]["store"] == "ok"


def test_a_user_without_training_items_gets_popular_items(serve_split: Split, tmp_path: Path, store_url: str) -> None:
    from dataclasses import replace

    from fusionrec.data.interactions import Interactions
    from fusionrec.serve.demo import ContentFactors

    users = serve_split.dataset.users.extend(["idle-user"])  # in the vocabulary, never in train
    train = serve_split.train.with_sizes(len(users), serve_split.n_items)
    dataset = replace(serve_split.dataset, users=users, interactions=train)
    empty = Interactions.empty(len(users), serve_split.n_items)
    split = Split(dataset, train, empty, empty)
    with client_for(ContentFactors(dim=8).fit(split), tmp_path / "idle", store_url) as client:
        assert client.get("/v1/users/idle-user/recommendations").json()["strategy"] == "popularity"
        assert client.get("/v1/users/u1/recommendations").json()["strategy"] == "model"


def test_raw_content_for_an_artifact_without_encoder_specs_is_409_naming_the_fix(client: TestClient) -> None:
    body = {"title": "x", "content": {"text": {"title": "x", "overview": "y"}}}
    response = client.put("/v1/items/raw", json=body, headers=WRITE)
    assert response.status_code == 409, response.text
    message = response.json()["error"]["message"]
    assert "without encoder specs" in message and "Send features" in message and "[[encoders]]" in message
    assert client.get("/v1/model").json()["encoders"] == []
