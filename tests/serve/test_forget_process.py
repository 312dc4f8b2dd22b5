"""Forgetting users of a running server process (by the route and by the command), then restarting it."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from fusionrec.cli import app as cli
from fusionrec.serve.store import EventStore
from tests.serve.conftest import API_KEY
from tests.serve.server import ServerProcess

VISITOR, TRAINED = "alice@example.com", "u3"


def assert_forgotten(client: httpx.Client, user: str) -> None:
    expected = {"user_id": user, "known": False, "items": [], "degraded": False}
    assert client.get(f"/v1/users/{user}/history").json() == expected
    refused = client.post("/v1/events", json={"user_id": user, "item_id": "i1", "type": "like"})
    assert refused.status_code == 410, refused.text


def test_forget_by_route_and_command_holds_across_a_restart(
    artifact: Path, tmp_path: Path, any_store_url: tuple[str, str]
) -> None:
    url, prefix = any_store_url
    settings = {"artifact": str(artifact), "store_url": url, "table_prefix": prefix, "api_key": API_KEY}
    log = tmp_path / "server.log"
    server = ServerProcess(settings, log, log_level="info")
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=30) as client:
            for user in (VISITOR, TRAINED):
                for item in ("i1", "i2"):
                    body = {"user_id": user, "item_id": item, "type": "like"}
                    assert client.post("/v1/events", json=body).status_code == 201
                assert client.get(f"/v1/users/{user}/recommendations").json()["strategy"] == "profile"
            assert client.delete(f"/v1/users/{VISITOR}").json()["events_removed"] == 2
            command = ["forget", TRAINED, "--store-url", url, "--table-prefix", prefix]
            result = CliRunner().invoke(cli, command)
            assert result.exit_code == 0 and "2 events removed" in result.output, result.output
            assert TRAINED not in result.output
            for user in (VISITOR, TRAINED):
                assert_forgotten(client, user)
    finally:
        server.stop()
    restarted = ServerProcess(settings, log, port=server.port, log_level="info")
    try:
        restarted.wait_ready()
        with httpx.Client(base_url=restarted.url, headers={"X-API-Key": API_KEY}, timeout=30) as client:
            for user in (VISITOR, TRAINED):
                assert_forgotten(client, user)
            assert client.get("/v1/users/u4/history").json()["known"]
    finally:
        restarted.stop()
    store = EventStore(url, prefix)
    labels = [store.hasher.label(user) for user in (VISITOR, TRAINED)]
    assert [a.source for a in store.audit_records()] == ["api", "cli"]
    store.close()
    text = log.read_text()
    assert all(label in text for label in labels), text[-2000:]  # the access log names the users by hash
    assert "alice" not in text and "alice%40example.com" not in text and f"/v1/users/{TRAINED}/" not in text
