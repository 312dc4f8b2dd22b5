"""benchmarks/ann_sweep.py: exact top-k by chunks, every setting reported, built indexes reused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.benchmarks import benchmark_module


@pytest.fixture(scope="module")
def sweep() -> Any:
    return benchmark_module("ann_sweep")


def test_chunked_exact_top_k_is_the_brute_force_top_k(sweep: Any) -> None:
    rng = np.random.default_rng(0)
    items, queries = rng.standard_normal((1000, 8)).astype(np.float32), rng.standard_normal((5, 8)).astype(np.float32)
    found = sweep.exact_top(items, queries, k=7, chunk=64)
    expected = np.argsort(-(queries @ items.T), axis=1)[:, :7]
    assert [sorted(row) for row in found.tolist()] == [sorted(row) for row in expected.tolist()]


def test_every_setting_gets_a_row_and_a_rerun_reuses_the_built_indexes(sweep: Any, tmp_path: Path) -> None:
    argv = ["--items", "3000", "--dim", "16", "--queries", "40", "--m", "8", "--ef-construction", "40"]
    argv += ["--ef-search", "16,64", "--nprobe", "4", "--work-dir", str(tmp_path), "--json", str(tmp_path / "r.json")]
    rows = sweep.main(argv)
    assert [(r.kind, r.ef_search, r.nprobe) for r in rows] == [
        ("exact", 0, 0),
        ("hnsw", 16, 0),
        ("hnsw", 64, 0),
        ("ivf", 0, 4),
    ]
    assert rows[0].recall == 1.0
    assert all(0.0 <= r.recall <= 1.0 and r.p99_ms >= r.p50_ms > 0 for r in rows)
    assert rows[2].recall >= rows[1].recall  # a wider search finds at least as much
    assert len(json.loads((tmp_path / "r.json").read_text())) == 4
    indexes = sorted(p.name for p in tmp_path.glob("*.faiss"))
    again = sweep.main(argv)
    assert sorted(p.name for p in tmp_path.glob("*.faiss")) == indexes  # reused, not built again
    assert [r.recall for r in again] == [r.recall for r in rows]
    assert [r.build_s for r in again] == [r.build_s for r in rows]
