"""``fusionrec profile items|users``: a language model writes a profile of each item or user (JSON Lines) and a report.

Both commands take the same backend, cache and report options (the
``Annotated`` aliases below) and end the same way (:func:`_finish`); each
keeps only what is its own: what it reads and what it asks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fusionrec.cli.app import app
from fusionrec.cli.output import console, fail_on_library_errors
from fusionrec.data import read_mmrec
from fusionrec.encoders.loading import read_items
from fusionrec.errors import ConfigError
from fusionrec.llm import (
    GenerationCache,
    LlamaCppGenerator,
    OpenAIGenerator,
    profile_items,
    profile_users,
    read_profiles,
)
from fusionrec.llm.cache import default_cache_path
from fusionrec.llm.http import SchemaMode
from fusionrec.llm.profile_report import SubjectReport, write_report
from fusionrec.llm.user_profiles import MAX_HISTORY_ITEMS

if TYPE_CHECKING:
    from fusionrec.llm import Generator

R = TypeVar("R", bound="SubjectReport[Any]")
Progressed = Callable[[int, int], None]

ReportPath = Annotated[Path | None, typer.Option(help="Also write the report as JSON here.")]
LlmUrl = Annotated[
    str | None, typer.Option(help="OpenAI-compatible server URL; its key is read from $FUSIONREC_LLM_API_KEY.")
]
LlmModel = Annotated[str, typer.Option(help="Model name the server knows (with --llm-url).")]
LlmGguf = Annotated[
    str, typer.Option(help="Local GGUF model when no --llm-url: 'smollm2', 'gemma3-270m' or a .gguf path.")
]
SchemaModeOption = Annotated[
    str, typer.Option(help="How the server is sent the JSON schema: json_schema, json_object or none.")
]
CachePath = Annotated[
    Path | None, typer.Option(help="Generation cache (SQLite); default $FUSIONREC_CACHE/llm/generations.sqlite.")
]
Workers = Annotated[
    int | None,
    typer.Option(
        min=1, help="Requests in flight at once: connections to a server (default 4), copies of the local model (1)."
    ),
]
Timeout = Annotated[float, typer.Option(min=0.1, help="Seconds per server request.")]
Threads = Annotated[int | None, typer.Option(help="CPU threads of the local model.")]


@dataclass(frozen=True)
class _Backend:
    """The generator the backend options name: a server by URL, else a local GGUF model."""

    url: str | None
    model: str
    gguf: str
    schema_mode: str
    workers: int | None
    timeout: float
    threads: int | None

    def build(self, cache: GenerationCache | None) -> Generator:
        if self.url is None:
            return LlamaCppGenerator(self.gguf, n_threads=self.threads, instances=self.workers or 1, cache=cache)
        if self.schema_mode not in ("json_schema", "json_object", "none"):
            raise ConfigError(f"--schema-mode is {self.schema_mode!r}; expected json_schema, json_object or none")
        mode = cast(SchemaMode, self.schema_mode)
        return OpenAIGenerator(
            self.url, self.model, timeout=self.timeout, workers=self.workers or 4, schema_mode=mode, cache=cache
        )


profile_app = typer.Typer(no_args_is_help=True, help="Profiles written by a language model (items, users).")
app.add_typer(profile_app, name="profile")


@profile_app.command("items")
@fail_on_library_errors
def items(
    data: Annotated[Path, typer.Argument(help="Data folder (MMRec layout with items.csv) or an item table file.")],
    out: Annotated[Path, typer.Option(help="Profiles, one JSON line per item.")] = Path("profiles.jsonl"),
    report: ReportPath = None,
    llm_url: LlmUrl = None,
    llm_model: LlmModel = "default",
    llm_gguf: LlmGguf = "smollm2",
    schema_mode: SchemaModeOption = "json_schema",
    limit: Annotated[int | None, typer.Option(min=1, help="Profile only the first N items.")] = None,
    field: Annotated[list[str] | None, typer.Option(help="Metadata column to describe (repeatable).")] = None,
    cache: CachePath = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the model for every item.")] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Ask again for items whose cached answer was unusable.")
    ] = False,
    max_tokens: Annotated[int, typer.Option(min=16, help="Most tokens per profile.")] = 200,
    workers: Workers = None,
    timeout: Timeout = 60.0,
    threads: Threads = None,
    name: Annotated[str | None, typer.Option(help="Stem of the .inter file in the data folder.")] = None,
) -> None:
    """Write a profile (summary, themes, mood, audience) of each item; failures are reported, never dropped."""
    dataset = read_items(data, name=name)
    store = _store(cache, no_cache)
    if store is not None and retry_failed:
        console.print(f"dropped {store.forget_failures():,} unusable cached answers", highlight=False)
    wanted = [str(i) for i in dataset.items.ids[:limit]] if limit else None
    backend = _Backend(llm_url, llm_model, llm_gguf, schema_mode, workers, timeout, threads)
    result = _profile(
        backend.build(store),
        "profiles",
        lambda generator, progress: profile_items(
            dataset, generator, items=wanted, fields=field, max_tokens=max_tokens, progress=progress
        ),
    )
    _finish(result, out, report)


@profile_app.command("users")
@fail_on_library_errors
def users(
    data: Annotated[Path, typer.Argument(help="MMRec data folder: its split's TRAINING part describes each user.")],
    name: Annotated[str | None, typer.Option(help="Stem of the .inter file (e.g. ml100k-mm-cold).")] = None,
    out: Annotated[Path, typer.Option(help="Profiles, one JSON line per user.")] = Path("user-profiles.jsonl"),
    report: ReportPath = None,
    item_profiles: Annotated[
        Path | None, typer.Option(help="Item profiles (from 'profile items') quoted beside the titles.")
    ] = None,
    llm_url: LlmUrl = None,
    llm_model: LlmModel = "default",
    llm_gguf: LlmGguf = "smollm2",
    schema_mode: SchemaModeOption = "json_schema",
    limit: Annotated[int | None, typer.Option(min=1, help="Profile only the first N users (in asking order).")] = None,
    fewest_first: Annotated[
        bool, typer.Option("--fewest-first", help="Ask for the users with the fewest training interactions first.")
    ] = False,
    cache: CachePath = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the model for every user.")] = False,
    max_tokens: Annotated[int, typer.Option(min=8, help="Most tokens per one-sentence profile.")] = 40,
    max_items: Annotated[int, typer.Option(min=1, help="Most training items quoted per user.")] = MAX_HISTORY_ITEMS,
    workers: Workers = None,
    timeout: Timeout = 60.0,
    threads: Threads = None,
) -> None:
    """Write a one-sentence taste summary of each user from their training history; failures are reported."""
    split = read_mmrec(data, name=name)
    items_report = read_profiles(item_profiles, split.dataset) if item_profiles is not None else None
    backend = _Backend(llm_url, llm_model, llm_gguf, schema_mode, workers, timeout, threads)
    result = _profile(
        backend.build(_store(cache, no_cache)),
        "user profiles",
        lambda generator, progress: profile_users(
            split,
            generator,
            item_profiles=items_report,
            max_items=max_items,
            max_tokens=max_tokens,
            fewest_first=fewest_first,
            limit=limit,
            progress=progress,
        ),
    )
    _finish(result, out, report)


def _store(cache: Path | None, no_cache: bool) -> GenerationCache | None:
    """The generation cache the options name, or None with ``--no-cache``."""
    return None if no_cache else GenerationCache(cache or default_cache_path())


def _profile(generator: Generator, description: str, run: Callable[[Generator, Progressed], R]) -> R:
    """``run`` with the generator open and a progress bar that its ``progress`` callback moves.

    Off a terminal (a log file, CI) each chunk prints a plain line instead: done, total, rate, time left.
    """
    if not console.is_terminal:
        started = time.perf_counter()

        def report(done: int, total: int) -> None:
            elapsed = time.perf_counter() - started
            rate = done / elapsed * 60 if elapsed > 0 else 0.0
            left = (total - done) / rate if rate > 0 else 0.0
            line = f"{description}: {done:,} of {total:,} ({rate:,.1f}/min, {left:,.0f} min left)"
            console.print(line, highlight=False)

        with generator:
            return run(generator, report)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with generator, Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)
        return run(generator, lambda done, total: bar.update(task, completed=done, total=total))


def _finish(result: SubjectReport[Any], out: Path, report: Path | None) -> None:
    """Write the profiles (and the report, when asked) and print the report lines and where they went."""
    write_report(result, out)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for line in result.lines():
        console.print(line, highlight=False)
    where = f"{result.subject.title}: {out}" + (f"; report: {report}" if report else "")
    console.print(where, highlight=False)
