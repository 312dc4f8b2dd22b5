"""benchmarks/serve_load.py: two workers under open-loop load, a swap in the middle, no request lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks import benchmark_module


@pytest.fixture(scope="module")
def serve_load() -> Any:
    return benchmark_module("serve_load")


def test_version_segments_show_when_each_version_was_seen(serve_load: Any) -> None:
    samples = [(-0.01, "a"), (0.25, "a"), (0.5, "b"), (0.75, "a"), (1.0, "b"), (1.25, "b"), (1.5, "b"), (1.75, "b")]
    assert serve_load.version_segments(samples) == ["0.0 to 0.2 s: a", "0.5 to 1.5 s: a + b", "1.8 to 1.8 s: b"]


def test_a_swap_under_load_loses_no_request_and_every_worker_follows(serve_load: Any, tmp_path: Path) -> None:
    argv = ["--items", "2000", "--users", "300", "--dim", "16", "--workers", "2", "--rate", "20", "--duration", "4"]
    argv += ["--swap-at", "1", "--model-check-s", "0.5", "--warmup-s", "0", "--recall-users", "20"]
    result = serve_load.main([*argv, "--work-dir", str(tmp_path)])
    assert result["failed"] == 0, result["failures"]
    assert result["ok"] == 80
    assert result["swap"]["status"] == 200
    assert result["versions"][-1].endswith(f": {result['swap']['version']}")  # in the end every worker serves B
    assert 0.0 <= result["recall"] <= 1.0
    assert len(result["worker_rss_mib"]) == 2


def test_the_timeline_counts_failures_per_window(serve_load: Any) -> None:
    outcomes = [(0.5, 0.010), (1.0, float("inf")), (5.5, 0.020), (6.0, 0.030)]
    lines = serve_load.timeline(outcomes, window_s=5.0)
    assert lines[0].startswith("0-5 s: 2 sent, 1 failed, p99 10.0 ms")
    assert lines[1].startswith("5-10 s: 2 sent, 0 failed, p99 29.9 ms")
