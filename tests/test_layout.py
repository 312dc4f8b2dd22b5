"""The repository's layout rules: small modules, imports at the top, no lab notebook in the product."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "fusionrec"
MAX_LINES = 400
MAX_INNER_IMPORTS_PER_1000_LINES = 2.0
#: Words of a work diary; the web page's ``sessionStorage`` and HTTP client sessions are not about work.
DIARY = re.compile(r"\bwork(ing)? session|\bsession \d+|\bsessions? of work", re.IGNORECASE)


def _modules() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def _inner_imports(tree: ast.Module) -> int:
    """Imports inside a function body (``if TYPE_CHECKING:`` blocks at module level are not inside one)."""
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            count += sum(
                isinstance(inner, ast.Import | ast.ImportFrom) for stmt in node.body for inner in ast.walk(stmt)
            )
    return count


def test_no_module_in_the_package_is_over_400_lines() -> None:
    long = {str(p.relative_to(SOURCE)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_imports_sit_at_the_top_of_modules() -> None:
    lines = inner = 0
    for path in _modules():
        text = path.read_text()
        lines += len(text.splitlines())
        inner += _inner_imports(ast.parse(text))
    assert inner / lines * 1000 <= MAX_INNER_IMPORTS_PER_1000_LINES, f"{inner} imports inside functions"


def test_the_inner_import_count_sees_a_nested_import() -> None:
    tree = ast.parse("import os\ndef f():\n    if True:\n        import json\n    return json\n")
    assert _inner_imports(tree) == 1


def test_no_results_folder_and_no_work_diary_in_the_product() -> None:
    assert not (ROOT / "results").exists()
    documents = [ROOT / "README.md", ROOT / "CHANGELOG.md", *ROOT.joinpath("docs").rglob("*.md"), *_modules()]
    diary = [str(p.relative_to(ROOT)) for p in documents if DIARY.search(p.read_text())]
    assert not diary, f"files that read as a work diary: {diary}"
