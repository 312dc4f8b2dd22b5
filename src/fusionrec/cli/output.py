"""Console output shared by the commands: rich tables and library errors as clean exits."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from fusionrec.errors import FusionrecError

# Piped output (CI logs, files) gets a wide console so tables are not squeezed to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=200)
F = TypeVar("F", bound=Callable[..., Any])


def fail_on_library_errors(command: F) -> F:
    """Turn a :class:`FusionrecError` into a red message and exit code 2 instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except FusionrecError as error:
            console.print(f"[bold red]error:[/bold red] {error}", highlight=False)
            raise typer.Exit(code=2) from error

    return wrapper  # type: ignore[return-value]


def print_mapping(title: str, values: Mapping[str, Any]) -> None:
    """A two-column table of keys and values (nested mappings flattened with dots)."""
    table = Table(title=title, show_header=False, title_justify="left")
    for key, value in _flatten(values):
        table.add_row(key, _format(value))
    console.print(table)


def print_rows(title: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """A table with one row per mapping; columns are the keys of the first row."""
    if not rows:
        console.print(f"{title}: nothing to show")
        return
    table = Table(title=title, title_justify="left")
    for column in rows[0]:
        table.add_column(str(column), justify="right" if _is_number(rows[0][column]) else "left")
    for row in rows:
        table.add_row(*(_format(row.get(column)) for column in rows[0]))
    console.print(table)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    flat: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.extend(_flatten(value, f"{prefix}{key}."))
        else:
            flat.append((f"{prefix}{key}", value))
    return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
