"""Seconds until a restarted server is ready after N item upserts (target: 15 s after 1,000 on ml100k-mm).

Starts ``uvicorn --factory fusionrec.serve.app:create_app_from_env`` on an
artifact with a fresh SQLite store and times ``/ready``; sends N
``PUT /v1/items/{id}`` of new items (each one's features are a catalog
item's plus noise, so the model places it); restarts and times ``/ready``
again. With ``--without-stored-vectors`` it then empties the table of
stored vectors (a store written before vectors were stored) and times two
more restarts: the first places every item once and stores its vector,
the second reads them.

Run::

    PYTHONPATH=src python benchmarks/serve_startup.py --artifact path/to/ml100k-fusiongraph
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from fusionrec.models.artifact import load_artifact
from server_process import ServerProcess, free_port, uvicorn_command

API_KEY = "benchmark"


def time_to_ready(artifact: Path, store_url: str, log: Path, timeout: float = 900.0) -> tuple[float, str]:
    """Start a server, wait for ``/ready``; returns its seconds and URL (the server keeps running)."""
    port = free_port()
    env = {**os.environ, "FUSIONREC_ARTIFACT": str(artifact), "FUSIONREC_STORE_URL": store_url}
    env["FUSIONREC_API_KEY"] = API_KEY
    server = ServerProcess(uvicorn_command(port), env, log, port)
    try:
        seconds = server.wait_ready(timeout, poll_s=0.05)
    except (RuntimeError, TimeoutError):
        server.stop()
        raise
    RUNNING[server.url] = server
    return seconds, server.url


RUNNING: dict[str, ServerProcess] = {}


def stop(url: str) -> None:
    RUNNING.pop(url).stop()


def upsert(url: str, features: dict[str, np.ndarray], n: int, seed: int = 0) -> float:
    """PUT ``n`` new items, each with a random catalog item's features plus 5% noise; returns seconds."""
    rng = np.random.default_rng(seed)
    n_items = len(next(iter(features.values())))
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
        for i in range(n):
            source = int(rng.integers(n_items))
            body = {
                "title": f"benchmark item {i}",
                "features": {
                    m: (v[source] + 0.05 * np.abs(v[source]).mean() * rng.standard_normal(v.shape[1])).tolist()
                    for m, v in features.items()
                },
            }
            response = client.put(f"/v1/items/bench-{i}", json=body)
            response.raise_for_status()
    return time.perf_counter() - started


def forget_stored_vectors(store_url: str) -> int:
    """Empty the stored-vectors table, as a store written before vectors were stored; returns rows removed."""
    engine = sa.create_engine(store_url)
    with engine.begin() as connection:
        removed = connection.execute(sa.text("DELETE FROM fusionrec_item_placements")).rowcount
    engine.dispose()
    return int(removed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", type=Path, required=True, help="a content-aware artifact, e.g. FusionGraph")
    parser.add_argument("--upserts", type=int, default=1000)
    parser.add_argument("--without-stored-vectors", action="store_true", help="also time an older store")
    args = parser.parse_args()
    features = {m: np.asarray(v, np.float32) for m, v in load_artifact(args.artifact).split.dataset.features.items()}
    with tempfile.TemporaryDirectory(prefix="serve-startup-") as tmp:
        store_url, log = f"sqlite:///{Path(tmp) / 'events.sqlite3'}", Path(tmp) / "server.log"
        empty, url = time_to_ready(args.artifact, store_url, log)
        report("ready with an empty store", empty)
        seconds = upsert(url, features, args.upserts)
        report(f"{args.upserts:,} upserts", seconds, f"{seconds / args.upserts * 1e3:.0f} ms each")
        stop(url)
        ready, url = time_to_ready(args.artifact, store_url, log)
        report(f"ready after {args.upserts:,} upserts", ready)
        stop(url)
        if args.without_stored_vectors:
            removed = forget_stored_vectors(store_url)
            ready, url = time_to_ready(args.artifact, store_url, log)
            report("ready, no stored vectors", ready, f"{removed:,} removed: each item placed once and stored")
            stop(url)
            ready, url = time_to_ready(args.artifact, store_url, log)
            report("ready again", ready)
            stop(url)


def report(label: str, seconds: float, note: str = "") -> None:
    print(f"{label:<32} {seconds:7.1f} s" + (f"  ({note})" if note else ""), flush=True)


if __name__ == "__main__":
    main()
