"""benchmarks/swap_stall.py and gil_convoy.py: a swap under in-process load answers every request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks import benchmark_module


@pytest.fixture(scope="module")
def swap_stall() -> Any:
    return benchmark_module("swap_stall")


def test_a_swap_in_process_answers_every_request_and_reports_each_part(swap_stall: Any, tmp_path: Path) -> None:
    argv = ["--items", "2000", "--users", "300", "--dim", "16", "--rate", "20", "--duration", "3", "--swap-at", "1"]
    result = swap_stall.main([*argv, "--retire-after-s", "0.5", "--work-dir", str(tmp_path)])
    counts = [int(result[part].split()[0]) for part in ("before", "during", "after") if result[part] != "no requests"]
    assert sum(counts) == 60  # every request sent was answered
    assert result["swap_s"] > 0 and len(result["windows"]) >= 2


def test_the_convoy_benchmark_runs_each_interval() -> None:
    benchmark_module("gil_convoy").main(["--ids", "1000", "--slice", "100", "--requests", "3", "--rounds", "1"])
