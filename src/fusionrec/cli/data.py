"""Data commands: ``fusionrec inspect`` and ``fusionrec split``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fusionrec.cli.app import app
from fusionrec.cli.output import console, fail_on_library_errors, print_mapping
from fusionrec.data import inspect_dataset, read_catalog, read_mmrec, write_mmrec
from fusionrec.data.splits import make_split


@app.command()
@fail_on_library_errors
def inspect(
    path: Annotated[Path, typer.Argument(help="MMRec folder, or an interactions file (CSV, Parquet, JSON Lines).")],
    name: Annotated[str | None, typer.Option(help="Stem of the .inter file in an MMRec folder.")] = None,
    items: Annotated[Path | None, typer.Option(help="Item table for an interactions file.")] = None,
    min_rating: Annotated[float | None, typer.Option(help="Keep ratings >= this as positives.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Counts, sparsity, modalities and problems found in a dataset."""
    report = inspect_dataset(load_data(path, name=name, items=items, min_rating=min_rating))
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    problems = report.pop("problems", [])
    print_mapping(f"dataset {report.get('name')}", report)
    console.print(f"[bold]problems found[/bold]: {len(problems)}")
    for line in problems:
        console.print(f"  - {line}")


@app.command()
@fail_on_library_errors
def split(
    interactions: Annotated[Path, typer.Argument(help="Interactions file (CSV, Parquet, JSON Lines).")],
    out: Annotated[Path, typer.Option(help="Folder to write <name>.inter (MMRec layout) into.")],
    items: Annotated[Path | None, typer.Option(help="Item table (text and media columns).")] = None,
    kind: Annotated[str, typer.Option(help="random, temporal, leave_one_out or cold.")] = "random",
    ratios: Annotated[str, typer.Option(help="train,valid,test shares.")] = "0.8,0.1,0.1",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same split).")] = 0,
    min_rating: Annotated[float | None, typer.Option(help="Keep ratings >= this as positives.")] = None,
    name: Annotated[str | None, typer.Option(help="Stem of the written .inter file.")] = None,
) -> None:
    """Split interactions reproducibly and write the split in MMRec layout."""
    dataset = load_data(interactions, items=items, min_rating=min_rating)
    result = make_split(dataset, kind, parse_ratios(ratios), seed)
    path = write_mmrec(result, out, name=name)
    print_mapping(f"wrote {path}", {"description": result.description, **result.statistics()})


def parse_ratios(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> (0.8, 0.1, 0.1), with a message naming the bad value."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise typer.BadParameter(f"--ratios {text!r} must be three numbers like 0.8,0.1,0.1")
    return values  # type: ignore[return-value]


def load_data(
    path: Path, *, name: str | None = None, items: Path | None = None, min_rating: float | None = None
) -> Any:
    """A Split from an MMRec folder, or a Dataset from an interactions file."""
    if path.is_dir():
        return read_mmrec(path, name)
    return read_catalog(path, items, min_rating=min_rating)
