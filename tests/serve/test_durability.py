"""Durability: the server is SIGKILLed while events are recorded; every acknowledged event survives."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from fusionrec.serve.store import EventStore
from tests.serve.conftest import API_KEY
from tests.serve.server import ServerProcess

WRITERS = 3
KILL_AFTER_ACKS = 150


def write_events(
    url: str, writer: int, acknowledged: dict[str, int], lock: threading.Lock, stop: threading.Event
) -> None:
    """Post events until the server dies; remember the id of each acknowledged (2xx) one by its key."""
    with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=5.0) as client:
        n = 0
        while not stop.is_set():
            key = f"w{writer}-{n}"
            body = {"user_id": f"user{writer}", "item_id": f"i{n % 120}", "type": "click", "idempotency_key": key}
            try:
                response = client.post("/v1/events", json=body)
            except httpx.TransportError:
                return  # the server is gone
            if response.status_code in (200, 201):
                with lock:
                    acknowledged[key] = response.json()["id"]
            n += 1


def test_acknowledged_events_survive_sigkill(artifact: Path, tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    settings = {"artifact": str(artifact), "store_url": store_url, "api_key": API_KEY}
    server = ServerProcess(settings, tmp_path / "server.log")
    acknowledged: dict[str, int] = {}
    lock, stop = threading.Lock(), threading.Event()
    try:
        server.wait_ready()
        writers = [
            threading.Thread(target=write_events, args=(server.url, w, acknowledged, lock, stop))
            for w in range(WRITERS)
        ]
        for thread in writers:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < KILL_AFTER_ACKS and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # mid-stream: the writers are still posting
        stop.set()
        for thread in writers:
            thread.join(timeout=10)
    finally:
        stop.set()
        server.stop()
    assert len(acknowledged) >= KILL_AFTER_ACKS

    restarted = ServerProcess(settings, tmp_path / "server.log", port=server.port)
    try:
        restarted.wait_ready()
        stored = EventStore(store_url).event_ids()
        missing = {key: event_id for key, event_id in acknowledged.items() if event_id not in stored}
        assert not missing, f"{len(missing)} acknowledged events were lost: {list(missing)[:5]}"
        with httpx.Client(base_url=restarted.url, headers={"X-API-Key": API_KEY}) as client:
            for key in list(acknowledged)[:20]:  # a retry after the crash returns the original event
                writer, n = key[1:].split("-")
                body = {
                    "user_id": f"user{writer}",
                    "item_id": f"i{int(n) % 120}",
                    "type": "click",
                    "idempotency_key": key,
                }
                replay = client.post("/v1/events", json=body)
                assert replay.status_code == 200 and replay.json()["id"] == acknowledged[key]
    finally:
        restarted.stop()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
