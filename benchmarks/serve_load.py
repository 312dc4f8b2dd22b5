"""Serving at catalog scale: a synthetic catalog, several workers, a constant request rate and a model swap under load.

1. Two artifacts over the same synthetic items (:func:`fusionrec.data.synthetic.synthetic_factors`,
   unit-length item vectors as the flagship's); their user vectors differ, so
   their versions differ. Built once, then reused from ``--work-dir``.
2. Their approximate index is built once into the index cache, with the
   service's default index settings, so that no worker builds it.
3. ``fusionrec serve A --workers W --index hnsw`` starts; recall@k of the served
   lists is measured against the exact top-k (seen items excluded) of the
   artifact's own vectors.
4. Top-k requests for random known users are sent open-loop at ``--rate`` per
   second for ``--duration`` seconds (each at its planned time, whether or not
   earlier ones finished); ``--swap-at`` seconds in, ``POST /v1/admin/model``
   swaps to B. ``/v1/model`` is polled on fresh connections (any worker may
   answer) to show which version each worker serves over time.

It prints p50 / p99 / max latency, the failed requests (any answer that is not
a full list of k items), the versions seen over time and the workers' memory.

Example::

    python benchmarks/serve_load.py --items 1000000 --workers 2 --rate 200 --duration 60 --swap-at 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import psutil

from fusionrec.data import Dataset, Interactions, Split, Vocabulary
from fusionrec.data.synthetic import synthetic_factors
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.serve.demo import ContentFactors
from fusionrec.serve.index import ItemIndex
from fusionrec.serve.settings import ServeSettings
from load import Connections, known_users, run, served_recall
from server_process import READY_TIMEOUT_S, ServerProcess, free_port

API_KEY = "serve-load-benchmark-key"
REQUEST_TIMEOUT_S = 5.0


def build_artifacts(args: argparse.Namespace) -> tuple[Path, Path]:
    """Artifacts A and B over the same ``--items`` item vectors (B's user vectors are perturbed)."""
    paths = (args.work_dir / f"synthetic-{args.items}-a", args.work_dir / f"synthetic-{args.items}-b")
    if all((p / "manifest.json").is_file() for p in paths):
        return paths
    started = time.perf_counter()
    items, users = synthetic_factors(args.items, args.users, args.dim, unit_items=True, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    n_seen = 20  # items each user has seen, excluded from their lists
    train = Interactions(
        np.repeat(np.arange(args.users), n_seen),
        rng.integers(0, args.items, args.users * n_seen),
        args.users,
        args.items,
    )
    user_ids = Vocabulary(tuple(f"u{u}" for u in range(args.users)), "user")
    item_ids = Vocabulary(tuple(f"i{i}" for i in range(args.items)), "item")
    empty = Interactions.empty(args.users, args.items)
    split = Split(Dataset(f"synthetic-{args.items}", user_ids, item_ids, train), train, empty, empty)
    for path, user_vectors in zip(paths, (users, users + 0.05 * rng.standard_normal(users.shape)), strict=True):
        model = ContentFactors(dim=args.dim, seed=args.seed)
        model.load_state_arrays(split, {"user_vectors": user_vectors.astype(np.float32), "id_vectors": items})
        save_artifact(model, path, overwrite=True)
    print(f"built {paths[0].name} and {paths[1].name} in {time.perf_counter() - started:.1f} s", flush=True)
    return paths


def prebuild_index(artifact: Path, args: argparse.Namespace) -> None:
    """Build (or find) the artifact's index in the cache with the settings the server will use."""
    started = time.perf_counter()
    settings = ServeSettings(artifact=artifact, index="hnsw", index_cache_dir=args.index_cache_dir)
    loaded = load_artifact(artifact)
    assert loaded.item_vectors is not None, "the synthetic artifact stores its vectors"
    ItemIndex(loaded.item_vectors, settings.index_options())
    print(f"index of {artifact.name} ready in {time.perf_counter() - started:.1f} s", flush=True)


class Server(ServerProcess):
    """``fusionrec serve`` in a subprocess."""

    def __init__(self, artifact: Path, args: argparse.Namespace) -> None:
        port = free_port()
        store = args.work_dir / f"events-{os.getpid()}.sqlite3"
        env = {**os.environ, "FUSIONREC_API_KEY": API_KEY, "FUSIONREC_MODEL_CHECK_S": str(args.model_check_s)}
        command = [sys.executable, "-m", "fusionrec", "serve", str(artifact), "--port", str(port)]
        command += ["--workers", str(args.workers), "--index", "hnsw", "--store-url", f"sqlite:///{store}"]
        command += ["--index-cache-dir", str(args.index_cache_dir), "--log-level", "warning"]
        super().__init__(command, env, args.work_dir / "server.log", port)

    def wait_for_workers(self, workers: int, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Wait until ``workers`` processes each hold 90% of the largest one's memory (all loaded the model).

        ``/ready`` answers as soon as one worker is up; the others may still be loading.
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            sizes = [c.memory_info().rss for c in psutil.Process(self.process.pid).children(recursive=True)]
            if sum(size >= 0.9 * max(sizes, default=0) for size in sizes) >= workers:
                return time.monotonic() - started
            time.sleep(1.0)
        raise TimeoutError(f"{workers} workers did not all load the model in {timeout_s} s")

    def worker_rss_mib(self) -> list[float]:
        """Resident memory of each process under the server holding over 100 MiB (the workers), in MiB."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        sizes = [c.memory_info().rss / 2**20 for c in children]
        return [round(size, 1) for size in sizes if size > 100]


async def drive(url: str, users: list[str], args: argparse.Namespace, swap_to: Path | None) -> dict[str, Any]:
    """Open-loop top-k requests at ``args.rate`` for ``args.duration`` s, a swap, and version polls."""
    rng = random.Random(args.seed)
    host, port = url.removeprefix("http://").split(":")
    connections, clock = Connections(host, int(port)), time.perf_counter
    start = clock() + 0.05
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    outcomes: list[tuple[float, float]] = []  # (seconds since start when sent, latency or inf when failed)
    expected = f'"rank":{args.k},'.encode()

    async def one(user: str) -> None:
        sent = clock()
        try:
            path = f"/v1/users/{quote(user, safe='')}/recommendations?k={args.k}"
            status, body = await asyncio.wait_for(connections.get(path), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            failures[type(exc).__name__] += 1
            outcomes.append((sent - start, np.inf))
            return
        if status == 200 and expected in body:
            latencies.append(clock() - sent)
            outcomes.append((sent - start, latencies[-1]))
        else:
            failures[f"HTTP {status}" if status != 200 else f"fewer than {args.k} items"] += 1
            outcomes.append((sent - start, np.inf))

    versions: list[tuple[float, str]] = []
    finished = asyncio.Event()
    polling = asyncio.create_task(poll_versions(host, int(port), start, finished, versions))
    swap = asyncio.create_task(swap_model(url, swap_to, start + args.swap_at)) if swap_to else None
    tasks: set[asyncio.Task[None]] = set()
    for i in range(int(args.rate * args.duration)):
        delay = start + i / args.rate - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(rng.choice(users)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT_S + 1)
    elapsed = clock() - start
    connections.close()
    swap_result = await swap if swap else None
    await asyncio.sleep(args.model_check_s + 1.5)  # time for every worker to follow the swap
    finished.set()
    await polling
    sent = int(args.rate * args.duration)
    values = np.array(latencies) * 1000.0 if latencies else np.array([np.inf])
    p50, p99 = np.percentile(values, [50, 99])
    return {
        "rate": args.rate,
        "seconds": args.duration,
        "sent": sent,
        "ok": len(latencies),
        "failed": sent - len(latencies),
        "failures": dict(failures),
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "max_ms": float(values.max()),
        "swap": swap_result,
        "versions": version_segments(versions),
        "timeline": timeline(outcomes),
    }


def timeline(outcomes: list[tuple[float, float]], window_s: float = 5.0) -> list[str]:
    """Per ``window_s`` of sending time: requests, failures and p99 of the successful ones."""
    if not outcomes:
        return []
    sent_at, latency = np.array(outcomes).T
    lines = []
    for first in np.arange(0.0, sent_at.max() + 1e-9, window_s):
        inside = (sent_at >= first) & (sent_at < first + window_s)
        ok = latency[inside & np.isfinite(latency)] * 1000.0
        p99 = f"{np.percentile(ok, 99):.1f} ms" if len(ok) else "-"
        sent = int(inside.sum())
        lines.append(f"{first:.0f}-{first + window_s:.0f} s: {sent} sent, {sent - len(ok)} failed, p99 {p99}")
    return lines


async def poll_versions(
    host: str, port: int, start: float, finished: asyncio.Event, out: list[tuple[float, str]]
) -> None:
    """Append ``(seconds since start, version)`` from ``GET /v1/model`` on a fresh connection, 4 times a second."""
    while not finished.is_set():
        connection = Connections(host, port)  # a new connection: whichever worker accepts it answers
        try:
            status, body = await asyncio.wait_for(connection.get("/v1/model"), REQUEST_TIMEOUT_S)
            out.append((time.perf_counter() - start, json.loads(body)["version"][:12] if status == 200 else "error"))
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            out.append((time.perf_counter() - start, type(exc).__name__))
        finally:
            connection.close()
        await asyncio.sleep(0.25)


async def swap_model(url: str, artifact: Path, at: float) -> dict[str, Any]:
    """``POST /v1/admin/model`` at the planned time (in a thread: the event loop keeps sending)."""
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    started = time.perf_counter()
    response = await asyncio.to_thread(
        httpx.post,
        f"{url}/v1/admin/model",
        json={"artifact": str(artifact)},
        headers={"X-API-Key": API_KEY},
        timeout=600.0,
    )
    return {
        "status": response.status_code,
        "version": response.json().get("version", "")[:12],
        "seconds": time.perf_counter() - started,
    }


def version_segments(samples: list[tuple[float, str]]) -> list[str]:
    """Runs of polls that saw the same set of versions, e.g. ``'0.0 to 30.1 s: abc'``."""
    runs: list[list[Any]] = []  # [first seconds, last seconds, label]
    for at, sample in enumerate(samples):
        recent = {v for _, v in samples[max(0, at - 3) : at + 1]}  # the last second of polls: most likely both workers
        label = " + ".join(sorted(recent))
        if runs and runs[-1][2] == label:
            runs[-1][1] = sample[0]
        else:
            runs.append([sample[0], sample[0], label])
    return [f"{max(first, 0.0):.1f} to {last:.1f} s: {label}" for first, last, label in runs]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    print(f"cpu cores {os.cpu_count()}, load average {os.getloadavg()}", flush=True)
    first, second = build_artifacts(args)
    for artifact in (first, second):
        prebuild_index(artifact, args)
    server = Server(first, args)
    try:
        ready_s = server.wait_ready()
        ready_s += server.wait_for_workers(args.workers)
        model = httpx.get(f"{server.url}/v1/model").json()
        print(
            f"serving {model['n_items']:,} items ({model['index']}, version {model['version'][:12]}) "
            f"with {args.workers} workers, ready in {ready_s:.1f} s; worker RSS {server.worker_rss_mib()} MiB"
        )
        users = known_users(first)
        recall = served_recall(first, server.url, args.k, n_users=args.recall_users)
        print(f"recall@{args.k} of the served lists against exact search ({args.recall_users} users): {recall:.4f}")
        if args.warmup_s > 0:
            warmup = argparse.Namespace(**{**vars(args), "duration": args.warmup_s, "rate": min(50.0, args.rate)})
            run(drive(server.url, users, warmup, None))
        result = run(drive(server.url, users, args, second if args.swap_at < args.duration else None))
        result.update(
            recall=recall, ready_s=ready_s, load_average=os.getloadavg(), worker_rss_mib=server.worker_rss_mib()
        )
        print(json.dumps(result, indent=2))
    finally:
        server.stop()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument(
        "--swap-at", type=float, default=30.0, help="seconds into the load to swap to B (>= duration: no swap)"
    )
    parser.add_argument("--model-check-s", type=float, default=1.0, help="how often workers follow a swap")
    parser.add_argument("--warmup-s", type=float, default=5.0, help="seconds of light load before measuring")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--recall-users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/fusionrec-serve-load"))
    parser.add_argument("--index-cache-dir", type=Path, default=None, help="default: <work-dir>/index-cache")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.index_cache_dir = args.index_cache_dir or args.work_dir / "index-cache"
    return args


if __name__ == "__main__":
    main()
