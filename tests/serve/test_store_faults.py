"""The service with a failing event store: PostgreSQL behind the fault proxy, and a locked SQLite file.

Reads fall back to the model and say so, writes answer 503 with Retry-After,
/health and /ready never wait on a hung store, the circuit breaker opens and
recovers, and every acknowledged event is in the store afterwards.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from fusionrec.serve.app import create_app
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.store import EventStore
from fusionrec.testing.faults import FaultMode, FaultProxy, sqlite_write_lock
from tests.serve.conftest import API_KEY, POSTGRES_URL, postgres_available
from tests.serve.server import ServerProcess

pytestmark = pytest.mark.timeout(180)  # hang guard: a hung store must never stall the run
WRITE = {"X-API-Key": API_KEY}
FAST = {
    "store_timeout_s": 0.3,
    "store_write_timeout_s": 0.5,
    "ready_timeout_s": 0.5,
    "breaker_failures": 2,
    "breaker_cool_down_s": 0.5,
}
LIKE = {"user_id": "u1", "item_id": "i7", "type": "like"}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until ``condition()`` holds (a hang guard, not a timing check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def pg_prefix() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432 (start one with trust auth and a database 'test')")
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    yield prefix
    cleanup = EventStore(POSTGRES_URL, prefix)  # straight to the server, not through the proxy
    cleanup.drop()
    cleanup.close()


@pytest.fixture
def proxy(pg_prefix: str) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", 5432)) as started:
        yield started


def proxied(proxy: FaultProxy) -> str:
    return f"postgresql+psycopg://root@127.0.0.1:{proxy.port}/test"


def pg_client(artifact: Path, proxy: FaultProxy, prefix: str, **options: Any) -> TestClient:
    settings = ServeSettings(
        artifact=artifact,
        store_url=proxied(proxy),
        table_prefix=prefix,
        api_key=API_KEY,
        **{"sync_interval_s": 0, **FAST, **options},
    )
    return TestClient(create_app(settings))


def assert_store_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "store_unavailable" and "event store" in error["message"]


def assert_reads_fall_back(client: TestClient) -> None:
    """Every read route answers 200 from the model and flags it."""
    mine = client.get("/v1/users/u1/recommendations", params={"k": 5}).json()
    assert mine["degraded"] is True and mine["strategy"] == "model" and len(mine["items"]) == 5
    stranger = client.get("/v1/users/nobody/recommendations", params={"k": 5}).json()
    assert stranger["degraded"] is True and stranger["strategy"] == "popularity"
    history = client.post("/v1/recommendations", json={"history": ["i1", "i2"], "k": 5}).json()
    assert history["degraded"] is True and len(history["items"]) == 5
    similar = client.get("/v1/items/i3/similar", params={"k": 5}).json()
    assert similar["degraded"] is True and len(similar["items"]) == 5
    assert client.get("/v1/users/u1/explanations/i9").json()["degraded"] is True
    assert client.get("/v1/users/u1/history").json()["degraded"] is True
    assert client.get("/v1/items/i50").json()["item_id"] == "i50"


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["hang", "drop", "reset"])
def test_an_outage_degrades_reads_and_refuses_writes(
    artifact: Path, proxy: FaultProxy, pg_prefix: str, mode: FaultMode
) -> None:
    with pg_client(artifact, proxy, pg_prefix) as client:
        assert client.post("/v1/events", json=LIKE, headers=WRITE).status_code == 201
        healthy = client.get("/v1/users/u1/recommendations", params={"k": 5}).json()
        assert healthy["degraded"] is False and healthy["strategy"] == "profile"
        proxy.set_mode(mode)
        assert_reads_fall_back(client)
        assert_store_unavailable(client.post("/v1/events", json={**LIKE, "item_id": "i8"}, headers=WRITE))
        assert_store_unavailable(client.put("/v1/items/i5", json={"title": "renamed"}, headers=WRITE))
        assert_store_unavailable(client.get("/v1/items/added-elsewhere"))  # not known here; cannot ask the store
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["store"].startswith("unavailable")
        assert client.get("/health").json() == {"status": "ok"}
        proxy.set_mode("pass")
        wait_for(lambda: client.get("/ready").status_code == 200, "recovery after the outage")
        assert client.get("/ready").json()["checks"]["store_breaker"] == "closed"
        assert client.post("/v1/events", json={**LIKE, "item_id": "i8"}, headers=WRITE).status_code == 201
        again = client.get("/v1/users/u1/recommendations", params={"k": 5}).json()
        assert again["degraded"] is False and again["strategy"] == "profile"
    stored = EventStore(POSTGRES_URL, pg_prefix)
    assert [e.item_id for e in stored.user_events("u1")] == ["i7", "i8"]
    stored.close()


@pytest.mark.postgres
def test_a_failed_read_spares_the_next_reads_the_wait(artifact: Path, proxy: FaultProxy, pg_prefix: str) -> None:
    """After the store failed a request, requests within the sync interval do not wait on it again."""
    with pg_client(artifact, proxy, pg_prefix, breaker_failures=100, sync_interval_s=3600) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        proxy.set_mode("hang")
        for _ in range(3):
            assert client.get("/v1/users/u1/recommendations").json()["degraded"] is True
            assert client.post("/v1/recommendations", json={"history": ["i1"]}).json()["degraded"] is True
        assert service.guard.breaker.failures == 1  # the first user's events; every later call knew better
        assert service.sync() is False
        proxy.set_mode("pass")


@pytest.mark.postgres
def test_a_slow_store_is_waited_for_up_to_the_timeout(artifact: Path, proxy: FaultProxy, pg_prefix: str) -> None:
    with pg_client(artifact, proxy, pg_prefix, store_timeout_s=20, store_write_timeout_s=20) as client:
        proxy.set_mode("delay", delay_s=0.05)
        assert client.post("/v1/events", json=LIKE, headers=WRITE).status_code == 201
        slow = client.get("/v1/users/u1/recommendations", params={"k": 5}).json()
        assert slow["degraded"] is False and slow["strategy"] == "profile"
        proxy.set_mode("pass")
    with pg_client(artifact, proxy, pg_prefix, store_timeout_s=0.2, breaker_cool_down_s=3600) as client:
        proxy.set_mode("delay", delay_s=1.0)  # each round trip now takes longer than a read may wait
        late = client.get("/v1/users/u1/recommendations", params={"k": 5}).json()
        assert late["degraded"] is True and late["strategy"] == "model"
        proxy.set_mode("pass")


@pytest.mark.postgres
def test_the_breaker_opens_and_recovers(artifact: Path, proxy: FaultProxy, pg_prefix: str) -> None:
    with pg_client(artifact, proxy, pg_prefix, breaker_cool_down_s=1.0) as client:
        proxy.set_mode("hang")
        wait_for(lambda: client.get("/ready").json()["checks"]["store_breaker"] == "open", "the breaker opening")
        assert_store_unavailable(client.post("/v1/events", json=LIKE, headers=WRITE))
        assert client.get("/v1/users/u1/recommendations").json()["degraded"] is True
        proxy.set_mode("pass")  # held queries complete; the next trial after the cool-down closes the breaker
        wait_for(lambda: client.get("/ready").json()["checks"]["store_breaker"] == "closed", "the breaker closing")
        assert client.post("/v1/events", json=LIKE, headers=WRITE).status_code == 201


@pytest.mark.postgres
@pytest.mark.timeout(60)  # hang guard: before the fix the read below waited for the write's 600 s
def test_a_write_stuck_on_the_store_does_not_hold_reads(artifact: Path, proxy: FaultProxy, pg_prefix: str) -> None:
    with pg_client(artifact, proxy, pg_prefix, store_write_timeout_s=600, breaker_failures=100) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        proxy.set_mode("hang")
        outcome: list[int] = []
        writer = threading.Thread(
            target=lambda: outcome.append(client.put("/v1/items/i5", json={"title": "x"}, headers=WRITE).status_code)
        )
        writer.start()
        wait_for(service.updates.write_lock.locked, "the write taking the catalog lock")
        read = client.get("/v1/users/u1/recommendations", params={"k": 5}).json()
        assert read["degraded"] is True and len(read["items"]) == 5
        assert writer.is_alive()  # the write still waits on the store
        proxy.set_mode("pass")
        writer.join(timeout=60)
        assert outcome == [200]


def post_events(
    url: str, writer: int, outcomes: dict[str, int | None], lock: threading.Lock, stop: threading.Event
) -> None:
    """Post keyed events until stopped; record each key's event id when acknowledged, None when refused.

    A status other than 200, 201 or 503, or a transport error, is recorded under a key ``unexpected ...``.
    """
    with httpx.Client(base_url=url, headers=WRITE, timeout=30.0) as client:
        n = 0
        while not stop.is_set():
            key = f"w{writer}-{n}"
            body = {"user_id": f"user{writer}", "item_id": f"i{n % 120}", "type": "click", "idempotency_key": key}
            try:
                response = client.post("/v1/events", json=body)
            except httpx.TransportError as exc:
                with lock:
                    outcomes[f"unexpected {key}: {exc!r}"] = None
                continue
            with lock:
                if response.status_code not in (200, 201, 503):
                    outcomes[f"unexpected {response.status_code} {response.text}"] = None
                outcomes[key] = response.json()["id"] if response.status_code in (200, 201) else None
            n += 1


def server_log(folder: Path) -> str:
    return (folder / "server.log").read_text(errors="replace")[-3000:]


@pytest.mark.postgres
def test_no_acknowledged_event_is_lost_across_outages(
    artifact: Path, proxy: FaultProxy, pg_prefix: str, tmp_path: Path
) -> None:
    settings = {
        "artifact": str(artifact),
        "store_url": proxied(proxy),
        "table_prefix": pg_prefix,
        "api_key": API_KEY,
        **{name: str(value) for name, value in FAST.items()},
    }
    server = ServerProcess(settings, tmp_path / "server.log")
    outcomes: dict[str, int | None] = {}
    lock, stop = threading.Lock(), threading.Event()
    writers = [threading.Thread(target=post_events, args=(server.url, w, outcomes, lock, stop)) for w in range(3)]
    try:
        server.wait_ready()
        for thread in writers:
            thread.start()
        for mode in ("pass", "hang", "pass", "drop", "pass", "reset", "pass", "delay", "pass"):
            proxy.set_mode(mode, delay_s=0.05)  # type: ignore[arg-type]
            time.sleep(0.5)  # let events flow in this mode (how many does not matter)
        wait_for(lambda: httpx.get(f"{server.url}/ready").status_code == 200, "recovery")
        stop.set()
        for thread in writers:
            thread.join(timeout=60)
        unexpected = [key for key in outcomes if key.startswith("unexpected")]
        assert not unexpected, f"{unexpected[:3]}; server log: {server_log(tmp_path)}"  # never a 500
        acknowledged = {key: event_id for key, event_id in outcomes.items() if event_id is not None}
        refused = [key for key, event_id in outcomes.items() if event_id is None]
        stored = EventStore(POSTGRES_URL, pg_prefix)
        missing = set(acknowledged.values()) - stored.event_ids()
        assert acknowledged and not missing, f"{len(missing)} of {len(acknowledged)} acknowledged events were lost"
        with httpx.Client(base_url=server.url, headers=WRITE, timeout=30.0) as client:
            for key in refused:  # a retry with the same key records the event once, or finds it if it landed
                writer, n = key[1:].split("-")
                body = {"user_id": f"user{writer}", "item_id": f"i{int(n) % 120}", "type": "click"}
                retried = client.post("/v1/events", json={**body, "idempotency_key": key})
                assert retried.status_code in (200, 201), f"{retried.text}; server log: {server_log(tmp_path)}"
        assert stored.count_events() == len(outcomes)  # each key once: nothing lost, nothing doubled
        stored.close()
    finally:
        stop.set()
        proxy.set_mode("pass")
        server.stop()


@pytest.mark.postgres
def test_health_and_other_requests_answer_while_store_calls_hang(
    artifact: Path, proxy: FaultProxy, pg_prefix: str, tmp_path: Path
) -> None:
    """The issue's case: with a hung database, one /ready used to hold /health and item reads for minutes."""
    settings = {
        "artifact": str(artifact),
        "store_url": proxied(proxy),
        "table_prefix": pg_prefix,
        "store_timeout_s": "120",  # the store calls below stay hung for the whole test
        "store_write_timeout_s": "120",  # also the connect timeout
        "ready_timeout_s": "120",
        "sync_interval_s": "0",
    }
    server = ServerProcess(settings, tmp_path / "server.log")
    hung: list[threading.Thread] = []
    try:
        server.wait_ready()
        proxy.set_mode("hang")
        for path in ("/ready", "/v1/items/i50", "/v1/users/u1/recommendations"):
            thread = threading.Thread(target=lambda p=path: httpx.get(server.url + p, timeout=150), daemon=True)
            thread.start()
            hung.append(thread)
        time.sleep(0.5)  # the hung requests are in their store calls (the check below holds either way)
        with httpx.Client(base_url=server.url, timeout=10.0) as client:  # 10 s: a hang guard
            for _ in range(20):
                assert client.get("/health").json() == {"status": "ok"}
            assert client.get("/v1/model").status_code == 200
            assert client.get("/metrics").status_code == 200
        assert all(thread.is_alive() for thread in hung)  # they were still waiting on the store
    finally:
        proxy.set_mode("pass")
        for thread in hung:
            thread.join(timeout=60)
        server.stop()


def test_a_locked_sqlite_file_refuses_writes_and_serves_reads(artifact: Path, tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    settings = ServeSettings(
        artifact=artifact, store_url=f"sqlite:///{path}", api_key=API_KEY, sync_interval_s=0, **FAST
    )
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/events", json=LIKE, headers=WRITE).status_code == 201
        with sqlite_write_lock(path):
            locked = client.post("/v1/events", json={**LIKE, "item_id": "i8", "idempotency_key": "k8"}, headers=WRITE)
            assert_store_unavailable(locked)
            reads = client.get("/v1/users/u1/recommendations", params={"k": 5}).json()
            assert reads["degraded"] is False and reads["strategy"] == "profile"  # WAL readers go on
        retried = client.post("/v1/events", json={**LIKE, "item_id": "i8", "idempotency_key": "k8"}, headers=WRITE)
        assert retried.status_code in (200, 201)
        store: EventStore = client.app.state.service.store  # type: ignore[attr-defined]
        assert [e.item_id for e in store.user_events("u1")] == ["i7", "i8"]


def test_the_schema_documents_degraded_answers_and_503(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "degraded" in schema["components"]["schemas"]["RecommendationsOut"]["properties"]
    assert "degraded" in schema["components"]["schemas"]["ExplanationOut"]["properties"]
    for path, method in (("/v1/events", "post"), ("/v1/items/{item_id}", "put")):
        unavailable = schema["paths"][path][method]["responses"]["503"]
        assert "Retry-After" in unavailable["headers"]
    assert "503" in schema["paths"]["/v1/users/{user_id}/recommendations"]["get"]["responses"]


def test_store_settings_come_from_the_environment(artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONREC_STORE_TIMEOUT_S", "0.25")
    monkeypatch.setenv("FUSIONREC_BREAKER_FAILURES", "7")
    options = ServeSettings(artifact=artifact).guard_options()
    assert (options.timeout_s, options.failure_threshold) == (0.25, 7)
    with pytest.raises(ValueError, match="store_write_timeout_s"):
        ServeSettings(artifact=artifact, store_write_timeout_s=0)
