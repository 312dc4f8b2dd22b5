"""Forgetting a user through the service, end to end on SQLite and PostgreSQL, across workers and restarts."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fusionrec.serve.app import create_app
from fusionrec.serve.privacy import ACCESS_LOGGER, IdHasher, RedactUserIds, redact_path
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.store import EventStore, NewEvent

from .conftest import API_KEY

WRITE = {"X-API-Key": API_KEY}
USER = "u3"  # a user the served artifact was trained on


@pytest.fixture
def serve_settings(artifact: Path, any_store_url: tuple[str, str]) -> ServeSettings:
    url, prefix = any_store_url
    return ServeSettings(artifact=artifact, store_url=url, table_prefix=prefix, api_key=API_KEY, sync_interval_s=0)


@contextmanager
def running(settings: ServeSettings, **changes: Any) -> Iterator[TestClient]:
    """A fresh service (a worker, or the service after a restart) over the settings' store."""
    with TestClient(create_app(settings.model_copy(update=changes))) as client:
        yield client


def like(client: TestClient, user: str, item: str, **extra: Any) -> Any:
    return client.post("/v1/events", json={"user_id": user, "item_id": item, "type": "like", **extra}, headers=WRITE)


def history(client: TestClient, user: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/users/{user}/history").json()
    return body


def listed(client: TestClient, user: str) -> bool:
    return user in client.get("/v1/users", params={"limit": 1000}).json()["users"]


def assert_forgotten(client: TestClient, user: str) -> None:
    """No event, no training item, popularity recommendations, not listed, and new events refused."""
    assert history(client, user) == {"user_id": user, "known": False, "items": [], "degraded": False}
    assert client.get(f"/v1/users/{user}/recommendations", params={"k": 5}).json()["strategy"] == "popularity"
    assert not listed(client, user)
    refused = like(client, user, "i1")
    assert refused.status_code == 410
    assert refused.json()["error"]["code"] == "user_forgotten"


def test_a_short_id_hash_key_is_refused(artifact: Path) -> None:
    with pytest.raises(ValueError, match="id_hash_key"):
        ServeSettings(artifact=artifact, id_hash_key="short")


def test_delete_needs_the_api_key(serve_settings: ServeSettings) -> None:
    with running(serve_settings) as client:
        assert client.delete(f"/v1/users/{USER}").status_code == 401
        assert client.delete(f"/v1/users/{USER}", headers={"X-API-Key": "wrong"}).status_code == 401
        assert listed(client, USER)


def test_a_forgotten_user_is_gone_for_every_worker_and_after_a_restart(serve_settings: ServeSettings) -> None:
    with running(serve_settings) as worker_a, running(serve_settings) as worker_b:
        for item in ("i1", "i2", "i3"):
            assert like(worker_a, USER, item, idempotency_key=f"k-{item}").status_code == 201
        before = history(worker_b, USER)
        assert before["known"] and [e["source"] for e in before["items"][:3]] == ["like"] * 3
        assert worker_b.get(f"/v1/users/{USER}/recommendations").json()["strategy"] == "profile"
        answer = worker_a.delete(f"/v1/users/{USER}", headers=WRITE)
        assert answer.status_code == 200
        body = answer.json()
        assert (body["events_removed"], body["already_forgotten"]) == (3, False)
        assert body["user_key"] == worker_a.app.state.service.store.hasher.label(USER)  # type: ignore[attr-defined]
        assert_forgotten(worker_b, USER)
        assert like(worker_b, USER, "i1", idempotency_key="k-i1").status_code == 410  # a stale client's retry
    with running(serve_settings) as restarted:
        assert_forgotten(restarted, USER)
        again = restarted.delete(f"/v1/users/{USER}", headers=WRITE)
        assert again.status_code == 200
        assert again.json()["events_removed"] == 0 and again.json()["already_forgotten"]
        assert again.json()["forgotten_at"] == body["forgotten_at"]
        assert listed(restarted, "u4") and history(restarted, "u4")["known"]


def test_a_reactivated_user_starts_afresh_without_their_training(serve_settings: ServeSettings) -> None:
    with running(serve_settings) as client:
        assert like(client, USER, "i1").status_code == 201
        client.delete(f"/v1/users/{USER}", headers=WRITE)
        reactivated = client.post(f"/v1/users/{USER}/reactivate", headers=WRITE).json()
        assert reactivated["reactivated"] and reactivated["forgotten_at"] is not None
        assert like(client, USER, "i7").status_code == 201
        after = history(client, USER)
        assert not after["known"] and [(e["item"]["item_id"], e["source"]) for e in after["items"]] == [("i7", "like")]
        assert not listed(client, USER)
        again = client.post(f"/v1/users/{USER}/reactivate", headers=WRITE).json()
        assert (again["reactivated"], again["forgotten_at"]) == (False, reactivated["forgotten_at"])
        unknown = client.post("/v1/users/nobody/reactivate", headers=WRITE).json()
        assert (unknown["reactivated"], unknown["forgotten_at"]) == (False, None)


def test_a_user_forgotten_before_the_artifact_was_built_keeps_the_new_training(
    serve_settings: ServeSettings,
) -> None:
    store = EventStore(serve_settings.store_url, serve_settings.table_prefix)
    store.forget_user(USER, now=0.0)  # 1970: the artifact was retrained after the forget, from an export honouring it
    store.reactivate_user(USER, now=1.0)
    store.close()
    with running(serve_settings) as client:
        assert history(client, USER)["known"] and listed(client, USER)
        client.delete(f"/v1/users/{USER}", headers=WRITE)  # forgotten again: hidden whatever the artifact's age
        assert not history(client, USER)["known"] and not listed(client, USER)


def test_a_user_still_forgotten_gets_no_training_even_from_a_newer_artifact(serve_settings: ServeSettings) -> None:
    store = EventStore(serve_settings.store_url, serve_settings.table_prefix)
    store.forget_user(USER, now=0.0)  # an artifact built later that was not trained from the filtered export
    store.close()
    with running(serve_settings) as client:
        assert not history(client, USER)["known"] and not listed(client, USER)


def test_the_forget_is_audited_with_a_keyed_hash_and_counts_only(serve_settings: ServeSettings) -> None:
    with running(serve_settings) as client:
        like(client, "alice@example.com", "i1")
        client.delete("/v1/users/alice@example.com", headers=WRITE)
        store: EventStore = client.app.state.service.store  # type: ignore[attr-defined]
        (audit,) = store.audit_records()
        assert (audit.action, audit.events_removed, audit.source) == ("forget", 1, "api")
        assert audit.user_key == store.hasher.key("alice@example.com")
        assert not any("alice" in str(value) for value in audit.__dict__.values())


def test_the_schema_documents_the_routes_and_the_refusal(serve_settings: ServeSettings) -> None:
    with running(serve_settings) as client:
        paths = client.get("/openapi.json").json()["paths"]
    delete = paths["/v1/users/{user_id}"]["delete"]
    assert {"200", "401", "403"} <= set(delete["responses"])
    assert "already_forgotten" in delete["description"] and "repeated call" in delete["responses"]["200"]["description"]
    assert "410" in paths["/v1/events"]["post"]["responses"]
    assert "post" in paths["/v1/users/{user_id}/reactivate"]


def test_old_events_are_purged_at_start_up_and_when_asked(serve_settings: ServeSettings) -> None:
    store = EventStore(serve_settings.store_url, serve_settings.table_prefix)
    now = time.time()
    with store.engine.begin() as connection:
        for age_days, item in ((10, "i1"), (3, "i2"), (1, "i3")):
            row = {"user_id": USER, "item_id": item, "kind": "like", "created_at": now - age_days * 86_400.0}
            connection.execute(store.events.insert(), row)
    store.close()
    with running(serve_settings, event_retention_days=5) as client:
        assert [e["item"]["item_id"] for e in history(client, USER)["items"][:2]] == ["i3", "i2"]
        service = client.app.state.service  # type: ignore[attr-defined]
        assert service.purge_expired_events(now=now + 2.5 * 86_400.0) == 1  # i2 is now 5.5 days old
        assert history(client, USER)["items"][0]["item"]["item_id"] == "i3"
        assert history(client, USER)["items"][1]["source"] == "train"
    with running(serve_settings) as without_retention:
        assert without_retention.app.state.service.purge_expired_events() == 0  # type: ignore[attr-defined]


def test_old_events_are_purged_again_once_the_check_interval_has_passed(serve_settings: ServeSettings) -> None:
    with running(serve_settings, event_retention_days=5, retention_check_s=1e-9) as client:
        store: EventStore = client.app.state.service.store  # type: ignore[attr-defined]
        old = {"user_id": USER, "item_id": "i1", "kind": "like", "created_at": time.time() - 6 * 86_400.0}
        with store.engine.begin() as connection:
            connection.execute(store.events.insert(), old)
        assert store.count_events() == 1
        client.get(f"/v1/users/{USER}/recommendations")  # the next request finds the interval over
        assert store.count_events() == 0
        assert [a.action for a in store.audit_records()] == ["retention"]


def test_user_ids_in_logs_are_hashed_unless_configured_plain(
    serve_settings: ServeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fusionrec.serve")  # the service and its parts (user_state logs forgets)
    with running(serve_settings) as client:
        client.delete("/v1/users/alice@example.com", headers=WRITE)
        label = client.app.state.service.store.hasher.label("alice@example.com")  # type: ignore[attr-defined]
        assert any(isinstance(f, RedactUserIds) for f in logging.getLogger(ACCESS_LOGGER).filters)
    assert label in caplog.text and "alice" not in caplog.text
    caplog.clear()
    with running(serve_settings, log_ids="plain") as client:
        client.delete("/v1/users/bob@example.com", headers=WRITE)
        assert not any(isinstance(f, RedactUserIds) for f in logging.getLogger(ACCESS_LOGGER).filters)
    assert "bob@example.com" in caplog.text


def test_an_unexpected_database_error_is_logged_without_the_user_id(
    serve_settings: ServeSettings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = "alice@example.com"
    with TestClient(create_app(serve_settings), raise_server_exceptions=False) as client:
        store: EventStore = client.app.state.service.store  # type: ignore[attr-defined]

        def failing_read(user_id: str, limit: int = 500) -> Any:
            store.record_event(NewEvent(user_id, "i1", None))  # type: ignore[arg-type]  # a real NOT NULL error
            raise AssertionError("unreachable")

        monkeypatch.setattr(store, "user_events", failing_read)
        caplog.set_level(logging.ERROR)
        answer = client.get(f"/v1/users/{user}/recommendations")
        label = store.hasher.label(user)
    assert answer.status_code == 500 and user not in answer.text
    assert "IntegrityError" in caplog.text and label in caplog.text
    assert user not in caplog.text and "alice%40example.com" not in caplog.text


def test_the_log_filter_hashes_paths_and_hides_database_details() -> None:
    hasher = IdHasher(b"key")
    record = logging.LogRecord(
        ACCESS_LOGGER, logging.INFO, "h11", 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/v1/users/a%40b.com/recommendations?k=5", "1.1", 200), None,
    )  # fmt: skip
    assert RedactUserIds(hasher).filter(record)
    assert f"/v1/users/{hasher.label('a@b.com')}/recommendations?k=5" in record.getMessage()
    assert redact_path("/v1/users?offset=5", hasher) == "/v1/users?offset=5"
    assert redact_path("/v1/items/i1", hasher) == "/v1/items/i1"
    message = "null value in column\nDETAIL:  Failing row contains (1, a@b.com, i1, null)."
    try:
        raise RuntimeError(message)  # the traceback quotes this line, not the message
    except RuntimeError:
        failed = logging.LogRecord("uvicorn.error", logging.ERROR, "x", 1, "Exception", (), sys.exc_info())
    assert RedactUserIds(hasher).filter(failed)
    assert "a@b.com" not in logging.Formatter().format(failed) and "DETAIL:  (hidden" in failed.exc_text  # type: ignore[operator]
