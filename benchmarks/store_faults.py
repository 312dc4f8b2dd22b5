"""How the service answers while its event store fails: figures for hang, drop, reset and delay, and locked SQLite.

It starts ``uvicorn fusionrec.serve.app:create_app_from_env`` with PostgreSQL
behind :class:`fusionrec.testing.faults.FaultProxy` (default settings:
0.5 s read timeout, 2 s write timeout, breaker after 5 failures, 5 s
cool-down), switches the proxy to each fault mode and prints, per mode:

* ``/health`` latency while store-bound requests are in flight (median, max);
* the first recommendation read after the fault and the next reads (median,
  max), with whether they came back ``degraded``;
* a write's status, latency and ``Retry-After``; ``/ready``'s status and latency;
* after the fault ends, the time until ``/ready`` answers 200 again.

Then the same for a SQLite file whose write lock another connection holds.
Figures are wall-clock on this machine (a busy one skews them); nothing is
asserted. The tests in ``tests/serve/test_store_faults.py`` check behaviour.

Example::

    python benchmarks/store_faults.py --work-dir /tmp/store-faults
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from fusionrec.models.artifact import save_artifact
from fusionrec.serve.demo import ContentFactors, synthetic_split
from fusionrec.serve.store import EventStore
from fusionrec.testing.faults import FaultMode, FaultProxy, sqlite_write_lock
from server_process import ServerProcess, free_port, uvicorn_command

API_KEY = "bench-key"
READS = 20
HEALTH_PROBES = 50


@contextmanager
def server(settings: dict[str, str], log: Path) -> Iterator[ServerProcess]:
    """The service under uvicorn with ``FUSIONREC_*`` settings, ready, until the block ends."""
    port = free_port()
    env = {**os.environ, **{f"FUSIONREC_{name.upper()}": value for name, value in settings.items()}}
    process = ServerProcess(uvicorn_command(port), env, log, port)
    try:
        process.wait_ready(120.0, poll_s=0.05, request_s=5.0)
        yield process
    finally:
        process.stop()


def timed(client: httpx.Client, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.request(method, path, **kwargs)
    return response, (time.perf_counter() - started) * 1000


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):7.1f} ms, max {max(values):7.1f} ms"


@contextmanager
def store_traffic(url: str) -> Iterator[None]:
    """Keep store-bound requests (/ready, an item, a user's recommendations) in flight from three threads."""
    stop = threading.Event()

    def loop(path: str) -> None:
        with httpx.Client(base_url=url, timeout=60.0) as client:
            while not stop.is_set():
                client.get(path)

    paths = ("/ready", "/v1/items/i50", "/v1/users/u1/recommendations")
    threads = [threading.Thread(target=loop, args=(path,), daemon=True) for path in paths]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def measure_fault(url: str) -> dict[str, str]:
    """The figures of one fault, already in effect."""
    figures = {}
    with httpx.Client(base_url=url, timeout=60.0) as client:
        first, first_ms = timed(client, "GET", "/v1/users/u1/recommendations")
        figures["first read"] = f"{first.status_code} degraded={first.json().get('degraded')} in {first_ms:.1f} ms"
        reads = [timed(client, "GET", "/v1/users/u1/recommendations") for _ in range(READS)]
        degraded = sum(bool(response.json().get("degraded")) for response, _ in reads)
        figures["next reads"] = f"{spread([ms for _, ms in reads])}; {degraded}/{READS} degraded"
        body = {"user_id": "u1", "item_id": "i9", "type": "like", "idempotency_key": uuid.uuid4().hex}
        write, write_ms = timed(client, "POST", "/v1/events", json=body, headers={"X-API-Key": API_KEY})
        figures["write"] = f"{write.status_code} in {write_ms:.1f} ms, Retry-After {write.headers.get('retry-after')}"
        ready, ready_ms = timed(client, "GET", "/ready")
        figures["ready"] = f"{ready.status_code} in {ready_ms:.1f} ms ({ready.json()['checks']['store'][:70]})"
        with store_traffic(url):
            health = [timed(client, "GET", "/health")[1] for _ in range(HEALTH_PROBES)]
        figures["/health under store traffic"] = spread(health)
    return figures


def postgres_faults(artifact: Path, work_dir: Path, postgres: tuple[str, int]) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    with FaultProxy(postgres) as proxy:
        settings = {
            "artifact": str(artifact),
            "store_url": f"postgresql+psycopg://root@127.0.0.1:{proxy.port}/test",
            "table_prefix": prefix,
            "api_key": API_KEY,
        }
        try:
            with server(settings, work_dir / "server.log") as running:
                faults: list[tuple[FaultMode, float]] = [("hang", 0), ("drop", 0), ("reset", 0), ("delay", 0.2)]
                for mode, delay in [*faults, ("delay", 1.0)]:
                    proxy.set_mode(mode, delay_s=delay)
                    title = f"PostgreSQL, proxy {mode}" + (f" {delay:g} s each way" if mode == "delay" else "")
                    report(title, measure_fault(running.url))
                    proxy.set_mode("pass")
                    ready_s = running.wait_ready(120.0, poll_s=0.05, request_s=5.0)
                    print(f"  {'ready again after':<30}{ready_s:.2f} s")
        finally:
            store = EventStore(f"postgresql+psycopg://root@{postgres[0]}:{postgres[1]}/test", prefix)
            store.drop()
            store.close()


def sqlite_lock(artifact: Path, work_dir: Path) -> None:
    path = work_dir / f"events-{uuid.uuid4().hex[:8]}.sqlite3"
    settings = {"artifact": str(artifact), "store_url": f"sqlite:///{path}", "api_key": API_KEY}
    with server(settings, work_dir / "server.log") as running, sqlite_write_lock(path):
        report("SQLite, write lock held by another connection", measure_fault(running.url))


def report(title: str, figures: dict[str, str]) -> None:
    print(title)
    for name, value in figures.items():
        print(f"  {name:<30}{value}")


def synthetic_artifact(work_dir: Path) -> Path:
    split = synthetic_split(n_users=200, n_items=120, seed=0)
    return save_artifact(ContentFactors(dim=8).fit(split), work_dir / "content-factors")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, help="artifact to serve (default: a small synthetic one)")
    parser.add_argument("--work-dir", type=Path, default=Path("store-faults"), help="logs, SQLite files, artifact")
    parser.add_argument("--postgres", default="127.0.0.1:5432", help="host:port of PostgreSQL (database test)")
    parser.add_argument("--skip-postgres", action="store_true", help="only the SQLite case")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    artifact = args.artifact or synthetic_artifact(args.work_dir)
    host, _, port = args.postgres.partition(":")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(name, None)  # loopback requests must not go through a proxy
    if not args.skip_postgres:
        postgres_faults(artifact, args.work_dir, (host, int(port)))
    sqlite_lock(artifact, args.work_dir)


if __name__ == "__main__":
    main()
