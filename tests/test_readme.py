"""The README's figures come from commands a user runs: recipes shipped in the package or automatic settings."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from fusionrec.config import load_config
from fusionrec.recipes import recipe_names

README = Path(__file__).resolve().parent.parent / "README.md"


def result_commands() -> list[str]:
    """The command cell of every row of the README's results table."""
    section = README.read_text(encoding="utf-8").split("## Results", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\|[^\n]*\| `([^`]+)` \|$", section, flags=re.MULTILINE)


def test_the_results_table_has_rows() -> None:
    assert len(result_commands()) >= 10


@pytest.mark.parametrize("command", result_commands())
def test_every_figure_is_reproduced_by_a_recipe_or_automatic_settings(command: str) -> None:
    words = shlex.split(command)
    assert words[:2] == ["fusionrec", "benchmark"], f"{command!r} is not a fusionrec command"
    options = dict(zip(words[2::2], words[3::2], strict=False))
    if "--recipe" in options:
        assert options["--recipe"] in recipe_names()
        sets = [words[i + 1] for i, word in enumerate(words) if word == "--set"]
        load_config(None, dict(s.split("=", 1) for s in sets), recipe=options["--recipe"])  # the keys exist
    else:
        assert "--auto" in words or "--model" not in words, f"{command!r} names neither a recipe nor auto"
