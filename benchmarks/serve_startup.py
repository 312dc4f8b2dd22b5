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
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from fusionrec.models.artifact import load_artifact

API_KEY = "benchmark"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_ready(artifact: Path, store_url: str, log: Path, timeout: float = 900.0) -> tuple[float, str]:
    """Start a server, wait for ``/ready``; returns its seconds and URL (the server keeps running)."""
    port = free_port()
    env = {**os.environ, "FUSIONREC_ARTIFACT": str(artifact), "FUSIONREC_STORE_URL": store_url}
    env["FUSIONREC_API_KEY"] = API_KEY
    command = [sys.executable, "-m", "uvicorn", "--factory", "fusionrec.serve.app:create_app_from_env"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    started = time.perf_counter()
    with log.open("ab") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/ready", timeout=2.0).status_code == 200:
                RUNNING[url] = process
                return time.perf_counter() - started, url
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise TimeoutError(f"not ready after {timeout} s; see {log}")


RUNNING: dict[str, subprocess.Popen[bytes]] = {}


def stop(url: str) -> None:
    process = RUNNING.pop(url)
    process.terminate()
    process.wait(timeout=60)


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
