"""``fusionrec forget USER_ID``, ``fusionrec purge-events`` and ``fusionrec export-events``: privacy on the event store.

They work on the store directly (no server needed); a running service sees
the result at its next request. The id hash key comes only from the
``FUSIONREC_ID_HASH_KEY`` environment variable, never the command line,
where ``ps`` would show it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import lazy_loader
import typer

from fusionrec.cli.app import app
from fusionrec.errors import ConfigError

if TYPE_CHECKING:
    from fusionrec.serve import retrain as serve_retrain
    from fusionrec.serve import store as serve_store
else:  # SQLAlchemy loads when a command runs, not for `fusionrec --help`
    serve_store = lazy_loader.load("fusionrec.serve.store", suppress_warning=True)
    serve_retrain = lazy_loader.load("fusionrec.serve.retrain", suppress_warning=True)

_DAY_SECONDS = 86_400.0
_MIN_KEY_LENGTH = 16  # as ServeSettings.id_hash_key

StoreUrl = Annotated[str, typer.Option(envvar="FUSIONREC_STORE_URL", help="SQLAlchemy URL of the event store")]
TablePrefix = Annotated[str, typer.Option(envvar="FUSIONREC_TABLE_PREFIX", help="prefix of the store's tables")]


def _open_store(store_url: str, table_prefix: str) -> serve_store.EventStore:
    key = os.environ.get("FUSIONREC_ID_HASH_KEY") or None
    if key is not None and len(key) < _MIN_KEY_LENGTH:
        typer.echo(f"error: FUSIONREC_ID_HASH_KEY has {len(key)} characters; use {_MIN_KEY_LENGTH} or more", err=True)
        raise typer.Exit(code=1)
    store = serve_store.EventStore(store_url, table_prefix, id_hash_key=key)
    try:
        store.hasher.key("")  # checks the key against the store before anything is changed
    except ConfigError as exc:
        store.close()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    return store


@app.command()
def forget(
    user_id: Annotated[str, typer.Argument(help="raw id of the user to forget")],
    store_url: StoreUrl = "sqlite:///fusionrec-events.sqlite3",
    table_prefix: TablePrefix = "fusionrec_",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Forget USER_ID: delete their events, refuse new ones, leave them out of retraining; audited without the id.

    Running it again is harmless (0 events removed). Example: fusionrec forget 196 --store-url sqlite:///events.sqlite3
    """
    store = _open_store(store_url, table_prefix)
    try:
        result = store.forget_user(user_id, source="cli")
        label = store.hasher.label(user_id)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps({"user_key": label, **{k: v for k, v in result.__dict__.items() if k != "user_key"}}))
        return
    state = "was already forgotten" if result.already_forgotten else "forgotten"
    typer.echo(f"{label} {state}: {result.events_removed} events removed")


@app.command("purge-events")
def purge_events(
    retention_days: Annotated[
        float, typer.Option(envvar="FUSIONREC_EVENT_RETENTION_DAYS", min=0.0, help="keep events this many days")
    ],
    store_url: StoreUrl = "sqlite:///fusionrec-events.sqlite3",
    table_prefix: TablePrefix = "fusionrec_",
) -> None:
    """Delete events older than --retention-days (the service does the same with FUSIONREC_EVENT_RETENTION_DAYS).

    Example: fusionrec purge-events --retention-days 365 --store-url sqlite:///events.sqlite3
    """
    store = _open_store(store_url, table_prefix)
    try:
        removed = store.purge_events(time.time() - retention_days * _DAY_SECONDS, source="cli")
    finally:
        store.close()
    typer.echo(f"{removed} events older than {retention_days:g} days deleted")


@app.command("export-events")
def export_events(
    out: Annotated[Path, typer.Argument(help="JSON-lines file to write (one event a line)")],
    store_url: StoreUrl = "sqlite:///fusionrec-events.sqlite3",
    table_prefix: TablePrefix = "fusionrec_",
) -> None:
    """Write the stored events for retraining, leaving out forgotten users (see docs/serving-privacy.md).

    Example: fusionrec export-events events.jsonl --store-url sqlite:///events.sqlite3
    """
    store = _open_store(store_url, table_prefix)
    count = 0
    try:
        with out.open("w", encoding="utf-8") as handle:
            for event in store.export_events():
                handle.write(json.dumps(event.__dict__) + "\n")
                count += 1
    finally:
        store.close()
    typer.echo(f"{count} events written to {out}")


@app.command()
def retrain(
    artifact: Annotated[Path, typer.Argument(help="The served artifact (its model, settings and training data).")],
    out: Annotated[Path, typer.Option(help="Folder of the new artifact.")],
    store_url: StoreUrl,
    table_prefix: TablePrefix = "fusionrec_",
    valid_share: Annotated[float, typer.Option(help="Share of each user's interactions held out as valid.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the valid hold-out and of training.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing folder at --out.")] = False,
    swap_url: Annotated[
        str | None, typer.Option(help="A running service to hand the new artifact to (POST /v1/admin/model).")
    ] = None,
) -> None:
    """Train the artifact's model again on its data plus the store's positive events; optionally swap it in.

    Forgotten users' events are never read and their training interactions are dropped. The key for
    --swap-url comes from FUSIONREC_API_KEY or FUSIONREC_API_KEY_FILE.
    """
    store = _open_store(store_url, table_prefix)
    try:
        report = serve_retrain.retrain(artifact, store, out, valid_share=valid_share, seed=seed, overwrite=overwrite)
    finally:
        store.close()
    typer.echo(
        f"retrained into {report.artifact}: +{report.added_events} events, {report.new_users} new users, "
        f"{report.unknown_items} events on unknown items left out, {report.forgotten_users} forgotten users dropped"
    )
    if swap_url:
        _swap(swap_url, report.artifact)


def _swap(url: str, artifact: Path) -> None:
    key_file = os.environ.get("FUSIONREC_API_KEY_FILE")
    key = Path(key_file).read_text(encoding="utf-8").strip() if key_file else os.environ.get("FUSIONREC_API_KEY", "")
    answer = httpx.post(
        f"{url.rstrip('/')}/v1/admin/model",
        json={"artifact": str(artifact.resolve())},
        headers={"X-API-Key": key},
        timeout=600,
    )
    if answer.status_code != 200:
        typer.echo(f"error: the service refused the swap ({answer.status_code}): {answer.text}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"the service now serves version {answer.json()['version']}")
