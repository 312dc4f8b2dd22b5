"""Bad input answers 4xx with a JSON error that names the problem; never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.serve.conftest import API_KEY

WRITE = {"X-API-Key": API_KEY}
SQL = "x'; DROP TABLE fusionrec_events; --\""


def error_of(response: Any, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return body["error"]


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/events", content=b'{"user_id": "u1", ', headers={**WRITE, "content-type": "application/json"}
    )
    error = error_of(response, 400)
    assert error["code"] == "malformed_json" and "not valid JSON" in error["message"]


@pytest.mark.parametrize("k", ["0", "1000000000", "-3", "abc", "2.5"])
def test_k_out_of_range_or_not_an_integer_is_422_naming_k(client: TestClient, k: str) -> None:
    error = error_of(client.get("/v1/users/u1/recommendations", params={"k": k}), 422)
    assert error["code"] == "invalid_request" and "query.k" in error["message"] and repr(k) in error["message"]


def test_k_too_large_in_a_body_is_422(client: TestClient) -> None:
    error = error_of(client.post("/v1/recommendations", json={"history": ["i1"], "k": 10**9}), 422)
    assert "body.k" in error["message"] and "less than or equal to 1000" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v1/items/no-such-item", None),
        ("get", "/v1/items/no-such-item/similar", None),
        ("get", "/v1/users/u1/explanations/no-such-item", None),
        ("post", "/v1/recommendations", {"history": ["i1", "no-such-item"]}),
        ("post", "/v1/events", {"user_id": "u1", "item_id": "no-such-item", "type": "like"}),
    ],
)
def test_unknown_item_ids_are_404_naming_them(client: TestClient, method: str, path: str, body: Any) -> None:
    response = client.request(method, path, json=body, headers=WRITE)
    error = error_of(response, 404)
    assert error["code"] == "not_found" and "no-such-item" in error["message"]


def test_unknown_ids_in_exclusions_are_404(client: TestClient) -> None:
    error = error_of(client.get("/v1/users/u1/recommendations", params={"exclude": ["i1", "ghost"]}), 404)
    assert "ghost" in error["message"] and "exclude" in error["message"]


def test_a_10_mb_body_is_413(client: TestClient) -> None:
    huge = b'{"history": ["' + b"a" * 10_000_000 + b'"]}'
    error = error_of(
        client.post("/v1/recommendations", content=huge, headers={"content-type": "application/json"}), 413
    )
    assert error["code"] == "body_too_large" and "1,000,000" in error["message"]


def test_a_streamed_body_without_length_is_cut_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"history": ["'
        for _ in range(20):
            yield b"a" * 100_000
        yield b'"]}'

    response = client.post("/v1/recommendations", content=chunks(), headers={"content-type": "application/json"})
    assert error_of(response, 413)["code"] == "body_too_large"


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"X-API-Key": "wrong"}, 401), ({"X-API-Key": ""}, 401)])
def test_write_routes_need_the_right_api_key(client: TestClient, headers: dict[str, str], status: int) -> None:
    event = {"user_id": "u1", "item_id": "i1", "type": "like"}
    error = error_of(client.post("/v1/events", json=event, headers=headers), status)
    assert error["code"] == "unauthorized" and "X-API-Key" in error["message"]
    assert error_of(client.put("/v1/items/i1", json={"title": "t"}, headers=headers), status)["code"] == "unauthorized"


def test_without_a_configured_key_writes_are_off(settings: Any) -> None:
    from fusionrec.serve.app import create_app

    with TestClient(create_app(settings.model_copy(update={"api_key": None}))) as client:
        response = client.post("/v1/events", json={"user_id": "u", "item_id": "i1", "type": "like"}, headers=WRITE)
        assert error_of(response, 403)["code"] == "writes_disabled"


def test_quotes_and_sql_are_plain_ids(client: TestClient) -> None:
    error = error_of(client.get(f"/v1/items/{SQL}"), 404)
    assert "DROP TABLE fusionrec_events" in error["message"]
    error_of(client.post("/v1/events", json={"user_id": "u1", "item_id": SQL, "type": "like"}, headers=WRITE), 404)
    unknown_user = client.get("/v1/users/" + SQL + "/recommendations")
    assert unknown_user.status_code == 200 and unknown_user.json()["strategy"] == "popularity"
    stored = client.post("/v1/events", json={"user_id": SQL, "item_id": "i1", "type": "like"}, headers=WRITE)
    assert stored.status_code == 201 and stored.json()["user_id"] == SQL
    assert client.get("/v1/users/" + SQL + "/history").json()["items"][0]["item"]["item_id"] == "i1"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"user_id": "u1", "item_id": "i1", "type": "teleport"}, "body.type"),
        ({"user_id": "u1", "item_id": "i1"}, "body.type"),
        ({"user_id": "", "item_id": "i1", "type": "like"}, "body.user_id"),
        ({"user_id": "u" * 300, "item_id": "i1", "type": "like"}, "body.user_id"),
        ({"user_id": "u1", "item_id": "i1", "type": "like", "extra": 1}, "body.extra"),
        ({"user_id": "u1", "item_id": "i1", "type": "rating"}, "rating needs a value"),
        ([1, 2, 3], "body"),
    ],
)
def test_invalid_events_are_422_naming_the_field(client: TestClient, body: Any, named: str) -> None:
    error = error_of(client.post("/v1/events", json=body, headers=WRITE), 422)
    assert named in error["message"]


@pytest.mark.parametrize(
    ("features", "named"),
    [
        ({"sound": [0.0] * 16}, "not modalities of the model"),
        ({"image": [0.0] * 3}, "has 3 values"),
        ({"image": []}, "body.features.image"),
    ],
)
def test_invalid_item_features_are_422(client: TestClient, features: Any, named: str) -> None:
    error = error_of(client.put("/v1/items/new", json={"features": features}, headers=WRITE), 422)
    assert named in error["message"]


def test_non_finite_features_are_refused(client: TestClient) -> None:
    body = b'{"features": {"image": [NaN' + b", 0.0" * 15 + b"]}}"
    response = client.put("/v1/items/new", content=body, headers={**WRITE, "content-type": "application/json"})
    assert response.status_code in (400, 422)
    assert "error" in response.json()


def test_a_new_item_without_content_is_422(client: TestClient) -> None:
    error = error_of(client.put("/v1/items/new", json={"title": "no content"}, headers=WRITE), 422)
    assert "needs content features" in error["message"]


def test_unknown_routes_and_methods_answer_json(client: TestClient) -> None:
    assert error_of(client.get("/v2/nothing"), 404)["code"] == "not_found"
    assert error_of(client.delete("/v1/events"), 405)["code"] == "method_not_allowed"
