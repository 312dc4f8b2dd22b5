"""``fusionrec forget``, ``purge-events`` and ``export-events`` on a SQLite store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fusionrec.cli import app
from fusionrec.serve.errors import ForgottenUserError
from fusionrec.serve.store import EventStore, NewEvent

runner = CliRunner()
USER = "alice@example.com"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    store = EventStore(url)
    now = time.time()
    with store.engine.begin() as connection:
        for user, item, age_days in ((USER, "i1", 0), (USER, "i2", 0), ("bob", "i3", 100), ("bob", "i4", 1)):
            row = {"user_id": user, "item_id": item, "kind": "like", "created_at": now - age_days * 86_400.0}
            connection.execute(store.events.insert(), row)
    store.close()
    return url


def invoke(*args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout  # log lines go to standard error


def test_help_lists_the_privacy_commands() -> None:
    output = invoke("--help")
    for command in ("forget", "purge-events", "export-events"):
        assert command in output


def test_forget_removes_the_users_events_once_and_prints_no_id(store_url: str) -> None:
    first = json.loads(invoke("forget", USER, "--store-url", store_url, "--json"))
    assert (first["events_removed"], first["already_forgotten"]) == (2, False)
    assert first["user_key"].startswith("user#") and USER not in json.dumps(first)
    again = invoke("forget", USER, "--store-url", store_url)
    assert "was already forgotten: 0 events removed" in again and USER not in again
    store = EventStore(store_url)
    assert store.user_events(USER) == [] and len(store.user_events("bob")) == 2
    assert [(a.action, a.events_removed, a.source) for a in store.audit_records()] == [
        ("forget", 2, "cli"),
        ("forget", 0, "cli"),
    ]
    store.close()


def test_export_leaves_out_forgotten_users(store_url: str, tmp_path: Path) -> None:
    invoke("forget", USER, "--store-url", store_url)
    store = EventStore(store_url)
    with pytest.raises(ForgottenUserError, match="forgotten"):
        store.record_event(NewEvent(USER, "i9", "like"))
    store.close()
    out = tmp_path / "events.jsonl"
    assert "2 events written" in invoke("export-events", str(out), "--store-url", store_url)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["user_id"], r["item_id"]) for r in rows] == [("bob", "i3"), ("bob", "i4")]


def test_purge_events_deletes_events_older_than_the_retention(store_url: str) -> None:
    assert "1 events older than 30 days deleted" in invoke(
        "purge-events", "--retention-days", "30", "--store-url", store_url
    )
    output = invoke("purge-events", "--store-url", store_url, env={"FUSIONREC_EVENT_RETENTION_DAYS": "0.5"})
    assert "1 events older than 0.5 days deleted" in output
    store = EventStore(store_url)
    assert sorted(e.item_id for e in store.export_events()) == ["i1", "i2"]
    store.close()


def test_a_key_other_than_the_stores_is_refused(store_url: str) -> None:
    invoke("forget", USER, "--store-url", store_url)
    command = ["forget", USER, "--store-url", store_url]
    result = runner.invoke(app, command, env={"FUSIONREC_ID_HASH_KEY": "another key, long enough"})
    assert result.exit_code == 1
    assert "FUSIONREC_ID_HASH_KEY is not the key" in result.output
    short = runner.invoke(app, command, env={"FUSIONREC_ID_HASH_KEY": "short"})
    assert short.exit_code == 1 and "5 characters; use 16 or more" in short.output
