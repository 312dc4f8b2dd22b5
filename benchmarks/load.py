"""Load benchmark of the recommendation service on loopback (open-loop asyncio client).

For each target (a real artifact, and/or a synthetic catalog of N items
with random 64-d vectors and an approximate index) it starts
``uvicorn fusionrec.serve.app:create_app_from_env`` as a subprocess, then

1. sends top-k requests (``GET /v1/users/{user}/recommendations?k=20``, random
   known users) at a constant rate for a fixed time, and prints errors and
   p50 / p90 / p99 / max latency;
2. steps the rate up until p99 exceeds the bound (or errors appear) and
   prints the highest rate that kept p99 under it.

Requests are scheduled open-loop (each at its planned time, whether or not
earlier ones finished), so a stalled server cannot slow the load down;
latency is measured from the moment each request is written (the client's
own lag behind the plan is reported separately). Everything is bounded:
requests per phase = rate x seconds, per-request timeout, phase deadline.

Example::

    python benchmarks/load.py --artifact artifacts/ml100k --synthetic-items 1000000 --work-dir /tmp/load
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

from server_process import ServerProcess, free_port, uvicorn_command

REQUEST_TIMEOUT_S = 5.0
MAX_IN_FLIGHT = 2000


@dataclass
class Phase:
    """Outcome of one constant-rate phase."""

    rate: float
    seconds: float
    sent: int
    ok: int
    errors: int
    achieved_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    send_lag_p99_ms: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)
    server_cpu_cores: float = 0.0
    server_cpu_ms_per_request: float = 0.0
    load_average: float = 0.0

    def line(self) -> str:
        return (
            f"rate {self.rate:6.0f}/s x {self.seconds:.0f}s: sent {self.sent:6d} ok {self.ok:6d} "
            f"errors {self.errors:4d} "
            f"achieved {self.achieved_rps:7.1f}/s  p50 {self.p50_ms:7.2f} ms  p90 {self.p90_ms:7.2f} ms  "
            f"p99 {self.p99_ms:7.2f} ms  max {self.max_ms:7.1f} ms  (client send lag p99 {self.send_lag_p99_ms:.1f} ms)"
            + f"  server CPU {self.server_cpu_cores:.2f} cores, {self.server_cpu_ms_per_request:.2f} ms/request"
            + f"  load avg {self.load_average:.1f}"
            + (f"  failures {self.failures}" if self.failures else "")
        )


class Connections:
    """Keep-alive HTTP/1.1 connections with a minimal GET, so the load generator costs far less CPU than the server.

    (httpx spends about as much CPU per request as the service itself; on a
    2-core machine that would measure the client.) A connection idle for
    longer than the server keeps it (uvicorn: 5 s) is not reused, and a
    reused one the server has just closed is retried once on a new one, as
    any HTTP client does for a GET.
    """

    MAX_IDLE_S = 4.0

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        while self.idle:
            reader, writer, last_used = self.idle.pop()
            if time.monotonic() - last_used < self.MAX_IDLE_S:
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return reader, writer, False

    async def get(self, path: str) -> tuple[int, bytes]:
        """``(status, body)`` of ``GET path``."""
        for _attempt in range(2):
            reader, writer, reused = await self._connection()
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
                status_line = await reader.readline()
                if not status_line and reused:  # closed by the server while idle: retry on a new connection
                    writer.close()
                    continue
                status = int(status_line.split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
            except BaseException:
                writer.close()
                raise
            self.idle.append((reader, writer, time.monotonic()))
            return status, body
        raise ConnectionError("the server closed two connections in a row")

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


async def constant_rate(base_url: str, users: list[str], rate: float, seconds: float, k: int, seed: int) -> Phase:
    """Send ``rate * seconds`` requests at evenly spaced planned times; latency counts from the planned time."""
    rng = random.Random(seed)
    n = int(rate * seconds)
    latencies: list[float] = []
    host, port = base_url.removeprefix("http://").split(":")
    connections = Connections(host, int(port))
    clock = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds
    start = clock() + 0.05
    in_flight: set[asyncio.Task[None]] = set()
    expected_ranks = f'"rank":{k},'.encode()
    lags: list[float] = []
    failures: Counter[str] = Counter()

    async def one(user: str) -> None:
        sent = clock()
        try:
            path = f"/v1/users/{quote(user, safe='')}/recommendations?k={k}"
            status, body = await asyncio.wait_for(connections.get(path), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            failures[type(exc).__name__] += 1
            return
        if status == 200 and expected_ranks in body:  # a full list of k items came back
            latencies.append(clock() - sent)
        else:
            failures[f"HTTP {status}" if status != 200 else f"fewer than {k} items"] += 1

    for i in range(n):
        planned = start + i / rate
        delay = planned - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(clock() - planned)
        if len(in_flight) >= MAX_IN_FLIGHT:
            failures["client backlog full"] += 1  # the server is hopelessly behind: no pile-up
            continue
        task = asyncio.create_task(one(rng.choice(users)))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=REQUEST_TIMEOUT_S + 1)
    elapsed = clock() - start
    connections.close()
    phase = summarise(rate, seconds, n, latencies, elapsed, lags)
    phase.failures = dict(failures)
    return phase


def run(coroutine: Any) -> Any:
    """Run on uvloop when it is installed (cheaper per request), else on asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def summarise(
    rate: float, seconds: float, sent: int, latencies: list[float], elapsed: float, lags: list[float]
) -> Phase:
    """Percentiles of the successful requests; every other request (error, refused, unfinished) is an error."""
    values = np.array(latencies) * 1000.0 if latencies else np.array([np.inf])
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return Phase(
        rate=rate,
        seconds=seconds,
        sent=sent,
        ok=len(latencies),
        errors=sent - len(latencies),
        achieved_rps=len(latencies) / max(elapsed, 1e-9),
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        max_ms=float(values.max()),
        send_lag_p99_ms=float(np.percentile(np.array(lags) * 1000.0, 99)) if lags else 0.0,
    )


class Server(ServerProcess):
    """The service in a uvicorn subprocess (one worker unless told otherwise)."""

    def __init__(self, artifact: Path, work_dir: Path, workers: int, index: str) -> None:
        port = free_port()
        store = work_dir / f"events-{artifact.name}.sqlite3"
        env = {
            **os.environ,
            "FUSIONREC_ARTIFACT": str(artifact),
            "FUSIONREC_STORE_URL": f"sqlite:///{store}",
            "FUSIONREC_INDEX": index,
            "FUSIONREC_INDEX_CACHE_DIR": str(work_dir / "index-cache"),
        }
        command = uvicorn_command(port, "--workers", str(workers), "--no-access-log")
        super().__init__(command, env, work_dir / f"server-{artifact.name}.log", port)


def synthetic_artifact(n_items: int, n_users: int, work_dir: Path) -> Path:
    """A saved random-factor model over ``n_items`` items (built once, then reused)."""
    from fusionrec.models.artifact import save_artifact
    from fusionrec.serve.demo import random_factor_model

    path = work_dir / f"synthetic-{n_items}"
    if (path / "manifest.json").is_file():
        return path
    started = time.perf_counter()
    model = random_factor_model(n_users=n_users, n_items=n_items, dim=64)
    save_artifact(model, path, overwrite=True)
    print(f"built {path} ({n_items:,} items, {n_users:,} users) in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def known_users(artifact: Path, limit: int = 5000) -> list[str]:
    vocab = json.loads((artifact / "vocab.json").read_text())
    return list(vocab["users"][:limit])


def served_recall(artifact: Path, url: str, k: int, n_users: int = 200) -> float:
    """Mean share of the exact top-k (seen items excluded) that the served top-k contains, over sampled users."""
    from safetensors.numpy import load_file

    vectors, data = load_file(str(artifact / "vectors.safetensors")), load_file(str(artifact / "data.safetensors"))
    vocab = json.loads((artifact / "vocab.json").read_text())
    item_index = {raw: i for i, raw in enumerate(vocab["items"])}
    users = np.random.default_rng(0).choice(len(vocab["users"]), size=min(n_users, len(vocab["users"])), replace=False)
    recalls = []
    for user in users:
        scores = vectors["item_vectors"] @ vectors["user_vectors"][user]  # (n_items,)
        scores[data["train/item_index"][data["train/user_index"] == user]] = -np.inf
        exact = set(np.argpartition(-scores, k)[:k].tolist())
        body = httpx.get(f"{url}/v1/users/{quote(vocab['users'][user], safe='')}/recommendations?k={k}").json()
        recalls.append(len(exact & {item_index[item["item_id"]] for item in body["items"]}) / k)
    return float(np.mean(recalls))


def benchmark_target(artifact: Path, args: argparse.Namespace, index: str) -> dict[str, object]:
    server = Server(artifact, args.work_dir, args.workers, index)
    try:
        ready_s = server.wait_ready()
        model = httpx.get(f"{server.url}/v1/model").json()
        print(f"\n== {artifact.name}: {model['n_items']:,} items, index {model['index']}, ready in {ready_s:.1f} s")
        users = known_users(artifact)
        run(constant_rate(server.url, users, min(100.0, args.rate), 5.0, args.k, seed=1))  # warm-up
        steady = measured(server, constant_rate(server.url, users, args.rate, args.duration, args.k, seed=2))
        print("constant:", steady.line(), flush=True)
        recall = served_recall(artifact, server.url, args.k) if model["index"] != "exact" else 1.0
        print(f"recall@{args.k} of the served lists against exact search: {recall:.3f}", flush=True)
        ramp = find_max_rate(server, users, args)
        best = max((p.rate for p in ramp if passes(p, args.p99_bound_ms)), default=None)
        print(f"highest constant rate with p99 < {args.p99_bound_ms:.0f} ms and no errors: {best} req/s", flush=True)
        return {
            "artifact": str(artifact),
            "index": model["index"],
            "n_items": model["n_items"],
            "ready_seconds": ready_s,
            "constant": asdict(steady),
            "recall_vs_exact": recall,
            "ramp": [asdict(p) for p in ramp],
            "max_rate_p99_under_bound": best,
        }
    finally:
        server.stop()


def passes(phase: Phase, bound_ms: float) -> bool:
    return phase.errors == 0 and phase.p99_ms < bound_ms


def find_max_rate(server: Server, users: list[str], args: argparse.Namespace) -> list[Phase]:
    """Step the rate up; stop after two failing steps in a row (one can be a neighbour's burst on a shared box)."""
    phases: list[Phase] = []
    for rate in args.ramp:
        phase = measured(server, constant_rate(server.url, users, rate, args.step_seconds, args.k, seed=int(rate)))
        print("ramp:    ", phase.line(), flush=True)
        phases.append(phase)
        if len(phases) >= 2 and not passes(phases[-1], args.p99_bound_ms) and not passes(phases[-2], args.p99_bound_ms):
            break
    return phases


def measured(server: Server, phase: Any) -> Phase:
    """Run a phase and record the CPU the server's processes used meanwhile."""
    before, started = process_tree_cpu(server.process.pid), time.perf_counter()
    result: Phase = run(phase)
    used, elapsed = process_tree_cpu(server.process.pid) - before, time.perf_counter() - started
    result.server_cpu_cores = used / elapsed
    result.server_cpu_ms_per_request = 1000.0 * used / max(result.ok, 1)
    result.load_average = os.getloadavg()[0]  # the machine is shared: how busy it was
    return result


def process_tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (uvicorn workers), from /proc."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, action="append", default=[], help="artifact folder (repeatable)")
    parser.add_argument("--synthetic-items", type=int, default=0, help="also serve a random catalog of N items")
    parser.add_argument("--synthetic-users", type=int, default=10_000)
    parser.add_argument("--synthetic-index", default="hnsw", help="index of the synthetic catalog (hnsw or ivf)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/fusionrec-load"))
    parser.add_argument("--rate", type=float, default=200.0, help="constant request rate")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds at the constant rate")
    parser.add_argument(
        "--ramp",
        type=lambda s: [float(v) for v in s.split(",")],
        default=[100, 150, 200, 250, 300, 400, 500, 600, 800, 1000, 1200, 1600, 2000],
    )
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument("--p99-bound-ms", type=float, default=100.0)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()}")
    targets = [(path.resolve(), "auto") for path in args.artifact]
    if args.synthetic_items:
        targets.append(
            (synthetic_artifact(args.synthetic_items, args.synthetic_users, args.work_dir), args.synthetic_index)
        )
    results = [benchmark_target(path, args, index) for path, index in targets]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
