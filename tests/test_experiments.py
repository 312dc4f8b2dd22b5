"""Experiments are product code too: each script under experiments/ imports and answers --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENTS = sorted((Path(__file__).resolve().parent.parent / "experiments").glob("*.py"))


def test_there_are_experiments() -> None:
    assert EXPERIMENTS


@pytest.mark.parametrize("script", EXPERIMENTS, ids=lambda path: path.name)
def test_an_experiment_answers_help(script: Path) -> None:
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
