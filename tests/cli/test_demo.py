"""``fusionrec demo`` says what it does, trains by epochs (no time budget: the same seed gives the same figures)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fusionrec.cli import app
from fusionrec.cli.demo import load_demo

runner = CliRunner()


def test_the_demo_trains_by_epochs_not_against_the_clock(tmp_path: Path) -> None:
    split, config = load_demo(tmp_path)  # no ml100k-mm there: the built-in catalog
    assert split.dataset.name and config.train.max_seconds is None
    assert "seconds" not in runner.invoke(app, ["demo", "--help"]).output


def test_the_demo_says_what_it_does_and_explains_its_table(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path), "--users", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("fusionrec demo: preparing the data")
    assert "What the table says" in result.output and "liked e.g.:" in result.output
