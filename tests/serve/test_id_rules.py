"""Ids with control characters are refused with 422 before any store sees them; an error never costs
the client its keep-alive connection, and a failed query never poisons a pooled database connection."""

from __future__ import annotations

import http.client
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fusionrec.serve.app import create_app
from fusionrec.serve.ids import check_id
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.store import EventStore, NewEvent
from tests.serve.conftest import API_KEY, POSTGRES_URL, postgres_available
from tests.serve.server import ServerProcess

WRITE = {"X-API-Key": API_KEY}
BAD_REQUESTS = [
    ("get", "/v1/users/a%00b/recommendations", None, "path.user_id"),
    ("get", "/v1/users/u1/recommendations?exclude=i1%00", None, "query.exclude"),
    ("get", "/v1/items/i1%00", None, "path.item_id"),
    ("get", "/v1/items/i%1F1/similar", None, "path.item_id"),
    ("get", "/v1/items/i1%00/poster", None, "path.item_id"),
    ("get", "/v1/users/u%001/history", None, "path.user_id"),
    ("get", "/v1/users/u1/explanations/i%001", None, "path.item_id"),
    ("post", "/v1/recommendations", {"history": ["i1", "i\x002"]}, "body.history.1"),
    ("post", "/v1/events", {"user_id": "u\x00", "item_id": "i1", "type": "like"}, "body.user_id"),
    ("post", "/v1/events", {"user_id": "u1", "item_id": "i1\x7f", "type": "like"}, "body.item_id"),
    ("post", "/v1/events", {"user_id": "u1", "item_id": "i1", "type": "like", "idempotency_key": "k\x00"}, "body"),
    ("put", "/v1/items/new%00item", {"title": "x", "features": {"image": [0.1] * 4}}, "path.item_id"),
]


@pytest.fixture
def store_client(artifact: Path, any_store_url: tuple[str, str]) -> Iterator[tuple[TestClient, EventStore]]:
    url, prefix = any_store_url
    settings = ServeSettings(artifact=artifact, store_url=url, table_prefix=prefix, api_key=API_KEY, sync_interval_s=0)
    with TestClient(create_app(settings)) as client:
        yield client, client.app.state.service.store  # type: ignore[attr-defined]


@pytest.mark.parametrize(("method", "path", "body", "location"), BAD_REQUESTS)
def test_a_control_character_in_an_id_is_422_naming_value_and_rule(
    store_client: tuple[TestClient, EventStore], method: str, path: str, body: Any, location: str
) -> None:
    client, store = store_client
    response = client.request(method, path, json=body, headers=WRITE)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert location in error["message"] and "control character U+00" in error["message"]
    assert "ids are text without control characters" in error["message"]
    assert client.get("/v1/users/u1/recommendations").status_code == 200  # the next request is served
    assert store.count_events() == 0 and not store.item_revisions()


def test_the_idempotency_key_header_follows_the_same_rule(client: TestClient) -> None:
    body = {"user_id": "u1", "item_id": "i1", "type": "like"}
    response = client.post("/v1/events", json=body, headers={**WRITE, "Idempotency-Key": "k\x01"})
    assert response.status_code == 422 and "U+0001" in response.json()["error"]["message"]


@pytest.mark.parametrize("value", ["u1", "élève", "名前", "a b", "x'; DROP TABLE t; --", "🙂"])
def test_printable_ids_pass(value: str) -> None:
    assert check_id(value) == value


@pytest.mark.parametrize(("value", "code"), [("\x00", "U+0000"), ("a\nb", "U+000A"), ("a\x85", "U+0085")])
def test_control_characters_are_named(value: str, code: str) -> None:
    with pytest.raises(ValueError, match=re.escape(code)):
        check_id(value)


@pytest.fixture
def postgres_prefix() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432 (start one with trust auth and a database 'test')")
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    yield prefix
    cleanup = EventStore(POSTGRES_URL, prefix)
    cleanup.drop()
    cleanup.close()


def exchange(connection: http.client.HTTPConnection, method: str, path: str) -> tuple[int, dict[str, Any]]:
    """One request on an already open keep-alive connection (http.client never reconnects silently)."""
    connection.request(method, path)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.postgres
def test_errors_keep_the_keep_alive_connection(artifact: Path, tmp_path: Path, postgres_prefix: str) -> None:
    settings = {"artifact": str(artifact), "store_url": POSTGRES_URL, "table_prefix": postgres_prefix}
    server = ServerProcess(settings, tmp_path / "server.log")
    try:
        server.wait_ready()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.connect()
        first_socket = connection.sock
        for _ in range(5):
            status, body = exchange(connection, "GET", "/v1/users/a%00b/recommendations")
            assert status == 422 and "U+0000" in body["error"]["message"]
            status, body = exchange(connection, "GET", "/v1/users/u1/recommendations?k=3")
            assert status == 200 and len(body["items"]) == 3
        store = EventStore(POSTGRES_URL, postgres_prefix)
        store.events.drop(store.engine)  # the next query fails inside PostgreSQL: an unexpected store error
        status, body = exchange(connection, "GET", "/v1/users/u1/recommendations?k=3")
        assert status == 500 and body["error"]["code"] == "internal_error"
        store.events.create(store.engine)
        store.close()
        status, body = exchange(connection, "GET", "/v1/users/u1/recommendations?k=3")
        assert status == 200 and len(body["items"]) == 3
        assert connection.sock is first_socket  # every exchange ran on the one connection
        connection.close()
    finally:
        server.stop()


@pytest.mark.postgres
def test_a_failed_query_leaves_its_pooled_connection_usable(postgres_prefix: str) -> None:
    store = EventStore(POSTGRES_URL, postgres_prefix)
    checked_out: list[int] = []
    sa.event.listen(store.engine, "checkout", lambda dbapi, _record, _proxy: checked_out.append(id(dbapi)))
    store.record_event(NewEvent("u1", "i1", "like"))
    with pytest.raises(sa.exc.DataError):
        store.user_events("a\x00b")  # refused by the driver
    store.events.drop(store.engine)
    with pytest.raises(sa.exc.ProgrammingError):
        store.user_events("u1")  # refused by PostgreSQL: the transaction is aborted and must be rolled back
    store.events.create(store.engine)
    store.record_event(NewEvent("u1", "i2", "like"))
    assert [e.item_id for e in store.user_events("u1")] == ["i2"]
    assert len(set(checked_out)) == 1  # rolled back and reused, not replaced
    store.close()
