"""``fusionrec profile items``: a language model writes a profile of each item (JSON Lines) and a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fusionrec.cli.app import app
from fusionrec.cli.output import console, fail_on_library_errors
from fusionrec.data import read_mmrec
from fusionrec.encoders.cache import default_cache_dir
from fusionrec.encoders.loading import read_items
from fusionrec.errors import ConfigError
from fusionrec.llm import (
    GenerationCache,
    LlamaCppGenerator,
    OpenAIGenerator,
    profile_items,
    profile_users,
    read_profiles,
    write_profiles,
    write_user_profiles,
)
from fusionrec.llm.http import SchemaMode

if TYPE_CHECKING:
    from fusionrec.llm import Generator

profile_app = typer.Typer(no_args_is_help=True, help="Profiles written by a language model (items, users).")
app.add_typer(profile_app, name="profile")


@profile_app.command("items")
@fail_on_library_errors
def items(
    data: Annotated[Path, typer.Argument(help="Data folder (MMRec layout with items.csv) or an item table file.")],
    out: Annotated[Path, typer.Option(help="Profiles, one JSON line per item.")] = Path("profiles.jsonl"),
    report: Annotated[Path | None, typer.Option(help="Also write the report as JSON here.")] = None,
    llm_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible server URL; its key is read from $FUSIONREC_LLM_API_KEY.")
    ] = None,
    llm_model: Annotated[str, typer.Option(help="Model name the server knows (with --llm-url).")] = "default",
    llm_gguf: Annotated[
        str, typer.Option(help="Local GGUF model when no --llm-url: 'smollm2', 'gemma3-270m' or a .gguf path.")
    ] = "smollm2",
    schema_mode: Annotated[
        str, typer.Option(help="How the server is sent the JSON schema: json_schema, json_object or none.")
    ] = "json_schema",
    limit: Annotated[int | None, typer.Option(min=1, help="Profile only the first N items.")] = None,
    field: Annotated[list[str] | None, typer.Option(help="Metadata column to describe (repeatable).")] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Generation cache (SQLite); default $FUSIONREC_CACHE/llm/generations.sqlite.")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the model for every item.")] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Ask again for items whose cached answer was unusable.")
    ] = False,
    max_tokens: Annotated[int, typer.Option(min=16, help="Most tokens per profile.")] = 200,
    workers: Annotated[int, typer.Option(min=1, help="Requests in flight at once (server only).")] = 4,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per server request.")] = 60.0,
    threads: Annotated[int | None, typer.Option(help="CPU threads of the local model.")] = None,
    name: Annotated[str | None, typer.Option(help="Stem of the .inter file in the data folder.")] = None,
) -> None:
    """Write a profile (summary, themes, mood, audience) of each item; failures are reported, never dropped."""
    dataset = read_items(data, name=name)
    store = None if no_cache else GenerationCache(cache or default_cache_dir() / "llm" / "generations.sqlite")
    if store is not None and retry_failed:
        console.print(f"dropped {store.forget_failures():,} unusable cached answers", highlight=False)
    wanted = [str(i) for i in dataset.items.ids[:limit]] if limit else None
    with (
        _generator(llm_url, llm_model, llm_gguf, schema_mode, store, workers, timeout, threads) as generator,
        _progress() as bar,
    ):
        task = bar.add_task("profiles", total=None)
        result = profile_items(
            dataset,
            generator,
            items=wanted,
            fields=field,
            max_tokens=max_tokens,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    write_profiles(result, out)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for line in result.lines():
        console.print(line, highlight=False)
    console.print(f"profiles: {out}" + (f"; report: {report}" if report else ""), highlight=False)


@profile_app.command("users")
@fail_on_library_errors
def users(
    data: Annotated[Path, typer.Argument(help="MMRec data folder: its split's TRAINING part describes each user.")],
    name: Annotated[str | None, typer.Option(help="Stem of the .inter file (e.g. ml100k-mm-cold).")] = None,
    out: Annotated[Path, typer.Option(help="Profiles, one JSON line per user.")] = Path("user-profiles.jsonl"),
    report: Annotated[Path | None, typer.Option(help="Also write the report as JSON here.")] = None,
    item_profiles: Annotated[
        Path | None, typer.Option(help="Item profiles (from 'profile items') quoted beside the titles.")
    ] = None,
    llm_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible server URL; its key is read from $FUSIONREC_LLM_API_KEY.")
    ] = None,
    llm_model: Annotated[str, typer.Option(help="Model name the server knows (with --llm-url).")] = "default",
    llm_gguf: Annotated[
        str, typer.Option(help="Local GGUF model when no --llm-url: 'smollm2', 'gemma3-270m' or a .gguf path.")
    ] = "smollm2",
    schema_mode: Annotated[
        str, typer.Option(help="How the server is sent the JSON schema: json_schema, json_object or none.")
    ] = "json_schema",
    limit: Annotated[int | None, typer.Option(min=1, help="Profile only the first N users (in asking order).")] = None,
    fewest_first: Annotated[
        bool, typer.Option("--fewest-first", help="Ask for the users with the fewest training interactions first.")
    ] = False,
    cache: Annotated[
        Path | None, typer.Option(help="Generation cache (SQLite); default $FUSIONREC_CACHE/llm/generations.sqlite.")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the model for every user.")] = False,
    max_tokens: Annotated[int, typer.Option(min=8, help="Most tokens per one-sentence profile.")] = 40,
    workers: Annotated[int, typer.Option(min=1, help="Requests in flight at once (server only).")] = 4,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per server request.")] = 60.0,
    threads: Annotated[int | None, typer.Option(help="CPU threads of the local model.")] = None,
) -> None:
    """Write a one-sentence taste summary of each user from their training history; failures are reported."""
    split = read_mmrec(data, name=name)
    items_report = read_profiles(item_profiles, split.dataset) if item_profiles is not None else None
    store = None if no_cache else GenerationCache(cache or default_cache_dir() / "llm" / "generations.sqlite")
    with (
        _generator(llm_url, llm_model, llm_gguf, schema_mode, store, workers, timeout, threads) as generator,
        _progress() as bar,
    ):
        task = bar.add_task("user profiles", total=None)
        result = profile_users(
            split,
            generator,
            item_profiles=items_report,
            max_tokens=max_tokens,
            fewest_first=fewest_first,
            limit=limit,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    write_user_profiles(result, out)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for line in result.lines():
        console.print(line, highlight=False)
    console.print(f"user profiles: {out}" + (f"; report: {report}" if report else ""), highlight=False)


def _progress() -> Progress:
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True)


def _generator(
    url: str | None,
    model: str,
    gguf: str,
    schema_mode: str,
    cache: GenerationCache | None,
    workers: int,
    timeout: float,
    threads: int | None,
) -> Generator:
    if url is None:
        return LlamaCppGenerator(gguf, n_threads=threads, cache=cache)
    if schema_mode not in ("json_schema", "json_object", "none"):
        raise ConfigError(f"--schema-mode is {schema_mode!r}; expected json_schema, json_object or none")
    mode = cast(SchemaMode, schema_mode)
    return OpenAIGenerator(url, model, timeout=timeout, workers=workers, schema_mode=mode, cache=cache)
