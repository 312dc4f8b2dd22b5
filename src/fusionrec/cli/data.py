"""Data commands: ``fusionrec inspect``, ``fusionrec split`` and ``fusionrec synth``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from fusionrec.cli.app import app
from fusionrec.cli.output import console, fail_on_library_errors, print_mapping
from fusionrec.data import inspect_dataset, read_catalog, read_mmrec, write_mmrec
from fusionrec.data.splits import make_split
from fusionrec.data.synthetic import SyntheticConfig, write_synthetic


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


@app.command()
@fail_on_library_errors
def synth(
    out: Annotated[Path, typer.Option(help="Folder to write; its name is the dataset name (<out>/<name>.inter).")],
    n_items: Annotated[int, typer.Option("--items", help="Number of items.")],
    n_users: Annotated[int, typer.Option("--users", help="Number of users.")],
    n_interactions: Annotated[int, typer.Option("--interactions", help="Distinct user-item interactions.")],
    image_dim: Annotated[int, typer.Option(help="Dim of the image features.")] = 128,
    text_dim: Annotated[int, typer.Option(help="Dim of the text features.")] = 384,
    popularity_exponent: Annotated[float, typer.Option(help="Zipf exponent of item popularity.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same catalog).")] = 0,
) -> None:
    """Write a synthetic catalog (skewed popularity, two informative modalities) in MMRec layout, split 80/10/10."""
    try:
        config = SyntheticConfig(
            n_items=n_items,
            n_users=n_users,
            n_interactions=n_interactions,
            modalities={"image": image_dim, "text": text_dim},
            popularity_exponent=popularity_exponent,
            seed=seed,
        )
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(error["msg"] for error in exc.errors())) from None
    path = write_synthetic(config, out)
    console.print(f"wrote {path}; train with: fusionrec train --data-dir {out.parent} --dataset {out.name}")


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
