"""Metrics: one app's own registry in a single process; dead workers' live gauges dropped in multiprocess mode."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import fusionrec.serve.metrics
from fusionrec.serve.metrics import ServiceMetrics, mark_dead_workers


def test_docstring_examples_run() -> None:
    assert doctest.testmod(fusionrec.serve.metrics).failed == 0


def test_two_apps_in_one_process_count_apart() -> None:
    first, second = ServiceMetrics(lambda: 1), ServiceMetrics(lambda: 2)
    first.observe_request("GET", "/health", 200, 0.001)
    assert b'route="/health"' in first.render() and b'route="/health"' not in second.render()
    assert b"fusionrec_catalog_items 2.0" in second.render()


def test_the_live_gauges_of_dead_workers_are_dropped_and_their_counters_kept(tmp_path: Path) -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    names = [f"gauge_livemax_{finished.pid}.db", f"gauge_livemax_{os.getpid()}.db", f"counter_{finished.pid}.db"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert mark_dead_workers(tmp_path) == [finished.pid]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
