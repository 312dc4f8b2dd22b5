"""Sweep of the approximate item index: recall@k against exact search, per-query latency, build time and memory.

Item vectors and queries come from :func:`fusionrec.data.synthetic.synthetic_factors`
(clustered items, unit length as the flagship's by default; queries are user
vectors, not items). The exact top-k of every query is computed once by
chunked matrix products. Each index is built through
:class:`fusionrec.serve.index.ItemIndex` (the serving code path: faiss search,
exact rescoring) and saved in ``--work-dir``, so a rerun reuses it; then
every ``efSearch`` (HNSW) or ``nprobe`` (IVF) is timed one query at a time
on one thread, as a serving worker searches.

Example::

    python benchmarks/ann_sweep.py --items 200000 --m 16,32 --ef-construction 40,100 \\
        --ef-search 64,128,256,512 --work-dir /tmp/ann
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from fusionrec.data.synthetic import synthetic_factors
from fusionrec.serve.index import IndexOptions, ItemIndex


@dataclass
class Row:
    """One index setting's figures."""

    kind: str
    m: int
    ef_construction: int
    ef_search: int
    nprobe: int
    recall: float
    p50_ms: float
    p99_ms: float
    build_s: float
    index_mib: float

    def line(self) -> str:
        setting = (
            f"hnsw M={self.m:<3d} efC={self.ef_construction:<4d} efS={self.ef_search:<5d}"
            if self.kind == "hnsw"
            else f"{self.kind:<4s} nprobe={self.nprobe:<5d}" + " " * 16
        )
        return (
            f"{setting} recall@k {self.recall:.4f}  p50 {self.p50_ms:7.3f} ms  p99 {self.p99_ms:7.3f} ms  "
            f"build {self.build_s:7.1f} s  index {self.index_mib:7.1f} MiB"
        )


def exact_top(items: np.ndarray, queries: np.ndarray, k: int, chunk: int = 131_072) -> np.ndarray:
    """int64 (n_queries, k) exact top-k items of each query by inner product (chunked over items)."""
    best_scores = np.full((len(queries), k), -np.inf, np.float32)
    best_items = np.zeros((len(queries), k), np.int64)
    for start in range(0, len(items), chunk):
        scores = queries @ items[start : start + chunk].T  # (n_queries, chunk)
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        merged_scores = np.hstack([best_scores, np.take_along_axis(scores, top, axis=1)])
        merged_items = np.hstack([best_items, top + start])
        keep = np.argpartition(-merged_scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, keep, axis=1)
        best_items = np.take_along_axis(merged_items, keep, axis=1)
    return best_items


def cached_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items, queries and their exact top-k, computed once per setting and kept in the work dir."""
    tag = f"{args.items}-{args.dim}-{'unit' if args.unit_items else 'free'}-{args.queries}-{args.seed}"
    path = args.work_dir / f"data-{tag}.npz"
    if path.is_file():
        saved = np.load(path)
        return saved["items"], saved["queries"], saved["truth"]
    started = time.perf_counter()
    items, queries = synthetic_factors(args.items, args.queries, args.dim, unit_items=args.unit_items, seed=args.seed)
    truth = exact_top(items, queries, args.k)
    print(f"vectors and exact top-{args.k} in {time.perf_counter() - started:.1f} s", flush=True)
    np.savez(path, items=items, queries=queries, truth=truth)
    return items, queries, truth


def built_index(items: np.ndarray, options: IndexOptions, args: argparse.Namespace) -> tuple[ItemIndex, float, float]:
    """The index, its build seconds (from the work dir's record when it was reused) and its size in MiB."""
    record_path = args.work_dir / "builds.json"
    records = json.loads(record_path.read_text()) if record_path.is_file() else {}
    shape = f"{len(items)}-{items.shape[1]}-{args.unit_items}"
    key = f"{shape}-{options.kind}-{options.hnsw_m}-{options.hnsw_ef_construction}"
    rss_before, started = psutil.Process().memory_info().rss, time.perf_counter()
    index = ItemIndex(items, options)
    build_s, rss_growth = time.perf_counter() - started, psutil.Process().memory_info().rss - rss_before
    if key not in records:
        files = sorted(args.work_dir.glob(f"{options.kind}-*.faiss"), key=lambda p: p.stat().st_mtime)
        size = files[-1].stat().st_size if files and options.kind != "exact" else items.nbytes
        records[key] = {
            "build_s": build_s,
            "index_mib": size / 2**20,
            "rss_growth_mib": rss_growth / 2**20,
            "load_average": os.getloadavg(),
        }
        record_path.write_text(json.dumps(records, indent=2))
    build_s, size = records[key]["build_s"], records[key]["index_mib"]
    return index, build_s, size


def timed_recall(index: ItemIndex, queries: np.ndarray, truth: np.ndarray, k: int) -> tuple[float, float, float]:
    """Mean recall@k against ``truth`` and p50 / p99 milliseconds of single-query searches."""
    for query in queries[:20]:  # warm caches
        index.search(query, k)
    latencies, hits = [], 0
    for query, expected in zip(queries, truth, strict=True):
        started = time.perf_counter()
        found = index.search(query, k)[0]
        latencies.append(time.perf_counter() - started)
        hits += len(set(found.tolist()) & set(expected.tolist()))
    p50, p99 = np.percentile(np.array(latencies) * 1000.0, [50, 99])
    return hits / truth.size, float(p50), float(p99)


def sweep(args: argparse.Namespace) -> list[Row]:
    items, queries, truth = cached_data(args)
    base = IndexOptions(cache_dir=args.work_dir, search_threads=1)
    rows = []
    if args.exact:
        index, build_s, size = built_index(items, dataclasses.replace(base, kind="exact"), args)
        rows.append(Row("exact", 0, 0, 0, 0, *timed_recall(index, queries, truth, args.k), build_s, size))
        print(rows[-1].line(), flush=True)
    for m in args.m:
        for ef_construction in args.ef_construction:
            options = dataclasses.replace(base, kind="hnsw", hnsw_m=m, hnsw_ef_construction=ef_construction)
            index, build_s, size = built_index(items, options, args)
            for ef_search in args.ef_search:
                index.options = dataclasses.replace(options, hnsw_ef_search=ef_search)
                figures = timed_recall(index, queries, truth, args.k)
                rows.append(Row("hnsw", m, ef_construction, ef_search, 0, *figures, build_s, size))
                print(rows[-1].line(), flush=True)
            del index
    if args.nprobe:
        options = dataclasses.replace(base, kind="ivf")
        index, build_s, size = built_index(items, options, args)
        for nprobe in args.nprobe:
            index.options = dataclasses.replace(options, ivf_nprobe=nprobe)
            rows.append(Row("ivf", 0, 0, 0, nprobe, *timed_recall(index, queries, truth, args.k), build_s, size))
            print(rows[-1].line(), flush=True)
    return rows


def integers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=128, help="vector size (the flagship's embedding_dim is 128)")
    parser.add_argument("--free-length", dest="unit_items", action="store_false", help="item lengths vary")
    parser.add_argument("--queries", type=int, default=1000, help="user vectors searched")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--m", type=integers, default=[16, 32])
    parser.add_argument("--ef-construction", type=integers, default=[40, 100])
    parser.add_argument("--ef-search", type=integers, default=[64, 128, 256, 512])
    parser.add_argument("--nprobe", type=integers, default=[], help="also sweep an IVF index over these nprobe")
    parser.add_argument("--no-exact", dest="exact", action="store_false", help="skip timing the exact index")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/fusionrec-ann"))
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.items:,} items, d={args.dim}, {'unit' if args.unit_items else 'free'}-length; cores {os.cpu_count()}, "
        f"load average {os.getloadavg()}",
        flush=True,
    )
    rows = sweep(args)
    print(f"load average at the end {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
    return rows


if __name__ == "__main__":
    main()
