"""How much a model swap slows the requests of the worker that loads it, measured in one process without HTTP.

Builds (or reuses) ``serve_load.py``'s two synthetic artifacts and their
index, serves A in-process (a ``RecommendationService`` over a SQLite
store, behind the app that ``fusionrec serve`` builds), and sends top-k
requests for known users open-loop at ``--rate`` per second into a thread
pool, as uvicorn's threads run them. ``--swap-at`` seconds in it swaps to B
with :meth:`ModelSwitcher.switch` in another thread (as ``POST
/v1/admin/model`` does) and prints the latency of the requests sent before,
while and after the new artifact loads, per ``--window-s``. A probe thread
that sleeps 1 ms in a loop shows the longest time the loading thread held
the interpreter lock (its largest oversleep, which includes CPU contention
from other processes).

Example::

    python benchmarks/swap_stall.py --items 200000 --rate 100 --duration 30 --swap-at 8
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from fusionrec.serve.app import create_app
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.swap import LOAD_SWITCH_INTERVAL_S, RETIRE_THREAD, ModelSwitcher
from load import known_users
from serve_load import build_artifacts, prebuild_index


class Probe(threading.Thread):
    """Sleeps 1 ms in a loop and records ``(when, oversleep s)``: time spent waiting for the lock or a core."""

    def __init__(self) -> None:
        super().__init__(name="probe", daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stalls: list[tuple[float, str]] = []  # (oversleep s, where the load thread was) over STALL_S
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            started = time.perf_counter()
            time.sleep(0.001)
            late = time.perf_counter() - started - 0.001
            self.samples.append((started, late))
            if late > STALL_S:
                self.stalls.append((late, load_thread_at()))

    def worst_ms(self, first: float, last: float) -> float:
        inside = [late for at, late in self.samples if first <= at <= last]
        return 1000.0 * max(inside, default=0.0)


STALL_S = 0.02
SWAP_THREAD = "swap"


def load_thread_at() -> str:
    """Where the other busy threads are (the loading one first): one of them just let go of the lock.

    Threads waiting on a lock, a queue or a sleep are left out.
    """
    frames = sys._current_frames()
    busy = []
    for thread in sorted(threading.enumerate(), key=lambda t: t.name not in (SWAP_THREAD, RETIRE_THREAD)):
        frame = frames.get(thread.ident or -1)
        if frame is None or thread is threading.current_thread():
            continue
        stack = traceback.extract_stack(frame)[-3:]
        if Path(stack[-1].filename).name in IDLE_FILES:
            continue
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))
        busy.append(f"[{thread.name}] {where}")
    return "; ".join(busy[:3]) or "(every thread waiting)"


IDLE_FILES = {"threading.py", "queue.py", "thread.py", "selectors.py"}


def collection_timer(pauses: list[tuple[float, int, float]]) -> Any:
    """A ``gc.callbacks`` entry that appends ``(when, generation, ms)`` of every collection."""
    started = [0.0]

    def timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((started[0], info["generation"], 1000.0 * (time.perf_counter() - started[0])))

    return timer


def drive(switcher: ModelSwitcher, users: list[str], args: argparse.Namespace, swap_to: Path) -> dict[str, Any]:
    """Open-loop requests at ``args.rate`` for ``args.duration`` s with a swap at ``args.swap_at``."""
    rng, clock = random.Random(args.seed), time.perf_counter
    outcomes: list[tuple[float, float]] = []  # (planned send time, latency s)
    swap: dict[str, float] = {}

    def one(user: str, planned: float) -> None:
        switcher.service.recommend_user(user, args.k)  # the reference a request reads at its start
        outcomes.append((planned, clock() - planned))

    def swap_later(start: float) -> None:
        time.sleep(max(0.0, start + args.swap_at - clock()))
        swap["started"] = clock() - start
        switcher.switch(swap_to)
        swap["ended"] = clock() - start

    start = clock() + 0.05
    swapper = threading.Thread(target=swap_later, args=(start,), name=SWAP_THREAD)
    swapper.start()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for i in range(int(args.rate * args.duration)):
            planned = start + i / args.rate
            time.sleep(max(0.0, planned - clock()))
            pool.submit(one, rng.choice(users), planned)
    swapper.join()
    return {"outcomes": [(at - start, latency) for at, latency in outcomes], **swap}


def summary(latencies_ms: np.ndarray) -> str:
    if not len(latencies_ms):
        return "no requests"
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return f"{len(latencies_ms)} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies_ms.max():.1f} ms"


def report(result: dict[str, Any], probe: Probe, start: float, args: argparse.Namespace) -> dict[str, Any]:
    sent, latency = (np.array(column) for column in zip(*result["outcomes"], strict=True))
    latency_ms, first, last = latency * 1000.0, result["started"], result["ended"]
    parts = {
        "before": latency_ms[sent < first],
        "during": latency_ms[(sent >= first) & (sent < last)],
        "after": latency_ms[sent >= last],
    }
    lines = {name: summary(values) for name, values in parts.items()}
    windows = []
    for at in np.arange(0.0, sent.max() + 1e-9, args.window_s):
        inside = latency_ms[(sent >= at) & (sent < at + args.window_s)]
        p99 = f"{np.percentile(inside, 99):.1f} ms" if len(inside) else "-"
        windows.append(f"{at:.0f}-{at + args.window_s:.0f} s: {len(inside)} requests, p99 {p99}")
    return {
        "swap_s": round(last - first, 2),
        "swap_window": f"{first:.1f} to {last:.1f} s",
        **lines,
        "probe_worst_ms_before": round(probe.worst_ms(start, start + first), 1),
        "probe_worst_ms_during": round(probe.worst_ms(start + first, start + last), 1),
        "worst_stalls": [f"{1000 * late:.0f} ms at {where}" for late, where in sorted(probe.stalls)[::-1][:6]],
        "windows": windows,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    print(f"cpu cores {os.cpu_count()}, load average {os.getloadavg()}", flush=True)
    first, second = build_artifacts(args)
    for artifact in (first, second):
        prebuild_index(artifact, args)
    store = args.work_dir / f"stall-{os.getpid()}.sqlite3"
    settings = ServeSettings(  # type: ignore[call-arg]  # the rest comes from defaults
        artifact=first, index="hnsw", index_cache_dir=args.index_cache_dir, store_url=f"sqlite:///{store}"
    )
    interval = None if args.switch_interval_ms <= 0 else args.switch_interval_ms / 1000.0
    switcher = ModelSwitcher(create_app(settings), switch_interval_s=interval, retire_after_s=args.retire_after_s)
    users = known_users(first)
    for user in users[:200]:  # warm-up: first calls fill caches
        switcher.service.recommend_user(user, args.k)
    pauses: list[tuple[float, int, float]] = []  # (seconds since start, generation, ms) of slow collections
    timer = collection_timer(pauses)
    gc.callbacks.append(timer)
    probe = Probe()
    probe.start()
    start = time.perf_counter() + 0.05
    try:
        result = drive(switcher, users, args, second)
    finally:
        probe.done.set()
        gc.callbacks.remove(timer)
    slow = [f"{at - start:.1f} s: gen {generation} {ms:.0f} ms" for at, generation, ms in pauses if ms > 5]
    out = {**report(result, probe, start, args), "gc_over_5ms": slow, "load_average": os.getloadavg()}
    print(json.dumps(out, indent=2))
    switcher.service.close()
    store.unlink(missing_ok=True)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second (one worker's share)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--swap-at", type=float, default=8.0, help="seconds into the load to swap to B")
    parser.add_argument("--threads", type=int, default=8, help="threads that run requests")
    parser.add_argument(
        "--switch-interval-ms", type=float, default=(LOAD_SWITCH_INTERVAL_S or 0) * 1000, help="while loading; 0: 5 ms"
    )
    parser.add_argument("--retire-after-s", type=float, default=5.0, help="when the replaced model is let go of")
    parser.add_argument("--window-s", type=float, default=2.0)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/fusionrec-serve-load"))
    parser.add_argument("--index-cache-dir", type=Path, default=None, help="default: <work-dir>/index-cache")
    args = parser.parse_args(argv)
    args.index_cache_dir = args.index_cache_dir or args.work_dir / "index-cache"
    return args


if __name__ == "__main__":
    main()
