"""``fusionrec encode``: turn a catalog's text and media into cached modality features."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fusionrec import distributed  # its names load ray on first use (lazy_loader)
from fusionrec.cli.app import app
from fusionrec.cli.output import console, fail_on_library_errors
from fusionrec.cli.ray_options import RayActorsOption, RayAddressOption
from fusionrec.encoders import encode_dataset, resolve_specs, write_features
from fusionrec.encoders.cache import default_cache_dir
from fusionrec.encoders.loading import read_items

if TYPE_CHECKING:
    from fusionrec.encoders import EncodeReport


@app.command()
@fail_on_library_errors
def encode(
    data: Annotated[Path, typer.Argument(help="Data folder (MMRec layout with items.csv) or an item table file.")],
    config: Annotated[
        Path | None,
        typer.Option(help=r"TOML file with \[\[encoders]] tables (default: chosen from the item table's columns)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Stem of the .inter file in the data folder.")] = None,
    modality: Annotated[list[str] | None, typer.Option(help="Encode only this modality (repeatable).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Feature cache; default $FUSIONREC_CACHE/features.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Encode everything; read and write no cache.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write <modality>_feat.npy and _mask.npy here.")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ray_address: RayAddressOption = None,
    ray_actors: RayActorsOption = 2,
) -> None:
    """Encode item text, images, audio and video; report what was encoded, cached and masked (and why)."""
    if threads:
        # Deferred: torch takes seconds to load, and `fusionrec --help` imports this module.
        import torch  # noqa: PLC0415

        torch.set_num_threads(threads)
    dataset = read_items(data, name=name)
    specs = resolve_specs(dataset, config, modality)
    cache = cache_dir if cache_dir is not None else default_cache_dir() / "features"
    started = time.perf_counter()
    bars = console.is_terminal and not as_json  # elsewhere the library logs plain progress lines
    with _progress(disable=not bars) as progress:
        tracker = _tracker(progress) if bars else None
        if ray_address is None:
            report = encode_dataset(dataset, specs, cache, use_cache=not no_cache, progress=tracker)
        else:
            report = distributed.encode_dataset_on_ray(
                dataset, specs, cache, actors=ray_actors, use_cache=not no_cache, progress=tracker, address=ray_address
            )
    seconds = time.perf_counter() - started
    written = write_features(dataset, out, [s.modality for s in specs], report) if out else []
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "seconds": round(seconds, 3), "written": [str(p) for p in written]}))
        return
    _print_report(report, seconds, dataset.n_items)
    if not no_cache:
        console.print(f"feature cache: {cache}")
    if written:
        console.print(f"wrote {len(written)} files to {out}")


def _progress(disable: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
        transient=False,
    )


def _tracker(progress: Progress) -> Any:
    """A progress callback that keeps one bar per modality, with its items/second."""
    tasks: dict[str, Any] = {}
    starts: dict[str, float] = {}

    def update(modality: str, done: int, total: int) -> None:
        if modality not in tasks:
            tasks[modality] = progress.add_task(modality, total=total, rate="")
            starts[modality] = time.perf_counter()
        progress.advance(tasks[modality], done)
        completed = progress.tasks[tasks[modality]].completed
        elapsed = max(time.perf_counter() - starts[modality], 1e-9)
        progress.update(tasks[modality], rate=f"{completed / elapsed:,.0f} items/s")

    return update


def _print_report(report: EncodeReport, seconds: float, n_items: int) -> None:
    table = Table(title=f"encoded {n_items:,} items in {seconds:.1f} s", title_justify="left")
    for column in ("modality", "encoder", "dim", "usable", "encoded", "from cache", "masked", "items/s"):
        table.add_column(column, justify="left" if column in ("modality", "encoder") else "right")
    for part in report.modalities:
        table.add_row(
            part.modality,
            part.encoder,
            str(part.dim),
            f"{part.n_items - part.n_masked:,}",
            f"{part.n_encoded:,}",
            f"{part.n_cached:,}",
            f"{part.n_masked:,}",
            f"{part.items_per_second:,.0f}",
        )
    console.print(table)
    for part in report.modalities:
        for reason, ids in sorted(part.masked.items(), key=lambda kv: -len(kv[1])):
            examples = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
            console.print(f"  {part.modality}: {len(ids):,} masked, {reason} (e.g. {examples})", highlight=False)
