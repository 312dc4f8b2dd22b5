"""How long a request waits for the interpreter lock while another thread builds id lookups, by switch interval.

A stand-in request lets go of the lock ten times (as at each store query and
index search) with a little Python work between; a second thread meanwhile
builds ``{id: index}`` lookups over ``--ids`` ids in slices of ``--slice``
(what loading a new artifact does). Prints the requests' p50 / p99 alone and
beside the builder, for each switch interval, ``--rounds`` times.

Example::

    python benchmarks/gil_convoy.py --ids 1000000 --slice 5000 --intervals-ms 5,1,0.5
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import numpy as np


def build_lookups(ids: tuple[str, ...], block: int, stop: threading.Event) -> None:
    while not stop.is_set():
        lookup: dict[str, int] = {}
        for first in range(0, len(ids), block):
            lookup.update(zip(ids[first : first + block], range(first, first + block), strict=False))
            if stop.is_set():
                return


def request() -> float:
    started = time.perf_counter()
    for _ in range(10):
        time.sleep(0.0001)  # a blocking call: the lock is let go
        sum(range(2000))  # Python work with the lock held (tens of microseconds)
    return time.perf_counter() - started


def percentiles(seconds: list[float]) -> str:
    p50, p99 = np.percentile(np.array(seconds) * 1000.0, [50, 99])
    return f"p50 {p50:6.1f} ms, p99 {p99:6.1f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=5_000)
    parser.add_argument("--intervals-ms", default="5,1,0.5")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    ids, saved = tuple(f"i{i}" for i in range(args.ids)), sys.getswitchinterval()
    try:
        measure(ids, args)
    finally:
        sys.setswitchinterval(saved)


def measure(ids: tuple[str, ...], args: argparse.Namespace) -> None:
    for _ in range(args.rounds):
        for interval_ms in (float(value) for value in args.intervals_ms.split(",")):
            sys.setswitchinterval(interval_ms / 1000.0)
            stop = threading.Event()
            builder = threading.Thread(target=build_lookups, args=(ids, args.slice, stop))
            builder.start()
            time.sleep(0.2)
            beside = [request() for _ in range(args.requests)]
            stop.set()
            builder.join()
            alone = [request() for _ in range(args.requests)]
            print(f"interval {interval_ms:g} ms: beside the builder {percentiles(beside)}; alone {percentiles(alone)}")


if __name__ == "__main__":
    main()
