"""benchmarks/scale.py: every stage runs in its own process on a tiny synthetic catalog and reports its figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks import benchmark_module


@pytest.fixture(scope="module")
def scale() -> Any:
    return benchmark_module("scale")


def test_the_first_stages_report_seconds_and_memory(scale: Any, tmp_path: Path) -> None:
    argv = ["--items", "300", "--users", "200", "--interactions", "3000", "--work-dir", str(tmp_path)]
    rows = scale.main([*argv, "--stages", "generate,load,graph-user-item"])
    assert [r["stage"] for r in rows] == ["generate", "load", "graph-user-item"], rows[-1].get("error")
    assert all(r["seconds"] > 0 and r["peak_mib"] >= r["inputs_mib"] > 0 for r in rows)


@pytest.mark.slow
def test_every_stage_reports_seconds_and_memory(scale: Any, tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    argv = ["--items", "300", "--users", "200", "--interactions", "3000", "--epochs", "1", "--work-dir", str(tmp_path)]
    rows = scale.main([*argv, "--json", str(out)])
    assert [r["stage"] for r in rows] == list(scale.STAGES), rows[-1].get("error")
    for row in rows:
        assert row["seconds"] > 0 and row["peak_mib"] >= row["inputs_mib"] > 0 and row["stage_mib"] >= 0
    assert len(out.read_text().splitlines()) == len(scale.STAGES)
    assert (tmp_path / "artifact-fusiongraph-300" / "manifest.json").is_file()
    assert json.loads(out.read_text().splitlines()[0])["items"] == 300


def test_a_failing_stage_is_reported_and_ends_the_run(scale: Any, tmp_path: Path) -> None:
    rows = scale.main(["--items", "300", "--stages", "load,graph-user-item", "--work-dir", str(tmp_path)])
    assert len(rows) == 1 and rows[0]["stage"] == "load"
    assert "does not exist" in rows[0]["error"]
