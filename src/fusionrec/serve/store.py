"""The event store: user events and item revisions in SQLite (default) or PostgreSQL, via SQLAlchemy Core.

Two append-only tables (names start with the configured prefix):

* ``events``: one row per recorded user event; an optional idempotency
  key is unique, so a retried request returns the original row.
* ``item_revisions``: each add or update of an item, as the JSON payload
  the client sent; the service replays them on start-up and picks up new
  ones written by other workers.

and three for privacy (see ``docs/serving-privacy.md``), none holding a raw
user id: ``forgotten_users`` (tombstones by keyed hash of the id; an event
for a forgotten user is refused until the user is reactivated),
``privacy_audit`` (what was removed, when, with counts) and ``meta`` (the
hash key's fingerprint, and the key itself unless one is configured).

SQLite runs in WAL mode with ``synchronous=FULL``: a write that was
acknowledged is on disk and survives a killed process.

Example:
    >>> store = EventStore("sqlite:///events.sqlite3")  # doctest: +SKIP
    >>> event, replayed = store.record_event(NewEvent(user_id="u1", item_id="i9", kind="like"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fusionrec.errors import ConfigError
from fusionrec.serve.errors import ForgottenUserError
from fusionrec.serve.privacy import AuditRecord, ForgetResult, IdHasher, Tombstone

logger = logging.getLogger(__name__)

ID_LENGTH = 256
KEY_LENGTH = 128
HASH_LENGTH = 64  # hex digits of an HMAC-SHA256
_KEY_CHECK = b"fusionrec: id hash key check"
_EXPORT_BATCH = 10_000


@dataclass(frozen=True)
class NewEvent:
    """An event as received (before it has an id)."""

    user_id: str
    item_id: str
    kind: str
    value: float | None = None
    idempotency_key: str | None = None

    def same_as(self, other: StoredEvent) -> bool:
        """True when ``other`` records the same user, item, kind and value (a genuine retry)."""
        return (self.user_id, self.item_id, self.kind, self.value) == (
            other.user_id,
            other.item_id,
            other.kind,
            other.value,
        )


@dataclass(frozen=True)
class StoredEvent:
    """An event row."""

    id: int
    user_id: str
    item_id: str
    kind: str
    value: float | None
    idempotency_key: str | None
    created_at: float


@dataclass(frozen=True)
class ItemRevision:
    """One add or update of an item: ``payload`` is the request body as JSON-ready dict."""

    seq: int
    item_id: str
    payload: dict[str, Any]


class EventStore:
    """Events and item revisions behind one SQLAlchemy engine.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///events.sqlite3`` or
            ``postgresql+psycopg://root@127.0.0.1:5432/test``.
        table_prefix: prefix of the table names (lets several services or
            test runs share one database).
        id_hash_key: key of the hash of user ids; None uses a random key
            kept in the store's ``meta`` table (made on first use). Every
            process on one store must use the same key, which is checked.
        hide_parameters: keep SQL parameters (user ids) out of error messages.
    """

    def __init__(
        self,
        url: str,
        table_prefix: str = "fusionrec_",
        *,
        id_hash_key: str | None = None,
        hide_parameters: bool = True,
    ) -> None:
        self.url = url
        self.engine = _create_engine(url, hide_parameters)
        self.metadata = sa.MetaData()
        self.events = _events_table(self.metadata, table_prefix)
        self.items = _items_table(self.metadata, table_prefix)
        self.tombstones = _tombstones_table(self.metadata, table_prefix)
        self.audit = _audit_table(self.metadata, table_prefix)
        self.meta = _meta_table(self.metadata, table_prefix)
        self._user_events_query = (  # built once: the hot path of every recommendation request
            sa.select(self.events)
            .where(self.events.c.user_id == sa.bindparam("user_id"))
            .order_by(self.events.c.id.desc())
            .limit(sa.bindparam("limit"))
        )
        self._unless_forgotten_insert = _insert_unless_forgotten(self.events, self.tombstones)
        _create_tables(self.metadata, self.engine)
        self._id_hash_key = id_hash_key
        self._hasher: IdHasher | None = None

    @property
    def hasher(self) -> IdHasher:
        """The keyed hash of user ids; its key is read (or made) and checked against the store on first use.

        Raises:
            ConfigError: the key is not the one the store was used with.
        """
        if self._hasher is None:
            self._hasher = IdHasher(self._hash_key(self._id_hash_key))
        return self._hasher

    def record_event(self, event: NewEvent) -> tuple[StoredEvent, bool]:
        """Store ``event``; returns ``(row, replayed)`` where ``replayed`` means the key was seen before.

        Raises:
            ForgottenUserError: the user was forgotten and not reactivated since.
        """
        row = {**event.__dict__, "created_at": time.time()}
        user_key = self.hasher.key(event.user_id)
        try:
            with self.engine.begin() as connection:
                self._lock_user(connection, user_key, shared=True)
                new_id = connection.execute(self._unless_forgotten_insert, {**row, "user_key": user_key}).scalar()
        except IntegrityError:
            if event.idempotency_key is None:
                raise
            existing = self.event_by_key(event.idempotency_key)
            if existing is None:
                raise
            return existing, True
        if new_id is None:
            raise ForgottenUserError(
                f"user {event.user_id!r} was forgotten (DELETE /v1/users/{{id}}), so events for this id are refused: "
                "a client still holding old events must not bring the profile back. If the person is active "
                "again, POST /v1/users/{id}/reactivate first"
            )
        return StoredEvent(id=int(new_id), **row), False

    def event_by_key(self, key: str) -> StoredEvent | None:
        """The event recorded with idempotency key ``key``, or None."""
        query = sa.select(self.events).where(self.events.c.idempotency_key == key)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else StoredEvent(**row)

    def user_events(self, user_id: str, limit: int = 500) -> list[StoredEvent]:
        """The ``limit`` most recent events of ``user_id``, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(self._user_events_query, {"user_id": user_id, "limit": limit}).mappings().all()
        return [StoredEvent(**row) for row in reversed(rows)]

    def count_events(self) -> int:
        """Number of stored events."""
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(self.events)).scalar_one())

    def event_ids(self) -> set[int]:
        """Ids of every stored event (for checks and tests)."""
        with self.engine.connect() as connection:
            return {int(v) for v in connection.execute(sa.select(self.events.c.id)).scalars()}

    def add_item_revision(self, item_id: str, payload: dict[str, Any]) -> ItemRevision:
        """Append a revision of ``item_id``; later revisions win."""
        row = {"item_id": item_id, "payload": json.dumps(payload), "created_at": time.time()}
        with self.engine.begin() as connection:
            seq = connection.execute(self.items.insert().returning(self.items.c.seq), row).scalar_one()
        return ItemRevision(int(seq), item_id, payload)

    def item_revisions(self, after_seq: int = 0) -> list[ItemRevision]:
        """Revisions with ``seq > after_seq``, in order."""
        query = sa.select(self.items).where(self.items.c.seq > after_seq).order_by(self.items.c.seq)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [ItemRevision(int(r["seq"]), r["item_id"], json.loads(r["payload"])) for r in rows]

    # --- privacy: forgetting users, exporting for training, retention --------------------------------

    def forget_user(self, user_id: str, source: str = "api", now: float | None = None) -> ForgetResult:
        """Delete every event of ``user_id``, leave a tombstone (events for the id are refused) and audit it.

        Idempotent: forgetting a forgotten user removes what is left (nothing,
        unless an event raced the first call) and keeps the first time.

        Args:
            user_id: raw user id.
            source: who asked (``api`` or ``cli``), kept in the audit.
            now: the time to record, seconds since the epoch (default: now).
        """
        user_key, now = self.hasher.key(user_id), time.time() if now is None else now
        with self.engine.begin() as connection:
            self._lock_user(connection, user_key, shared=False)
            # the write comes first: on SQLite it takes the write lock before anything is read
            removed = connection.execute(self.events.delete().where(self.events.c.user_id == user_id)).rowcount
            existing = self._tombstone(connection, user_key)
            already = existing is not None and existing.active
            forgotten_at = existing.forgotten_at if already and existing is not None else now
            values = {"forgotten_at": forgotten_at, "reactivated_at": None}
            if existing is None:
                connection.execute(self.tombstones.insert(), {"user_key": user_key, **values})
            elif not already:
                connection.execute(self.tombstones.update().where(self._is_key(user_key)).values(**values))
            self._write_audit(connection, "forget", user_key, now, removed, source)
        return ForgetResult(user_key, int(removed), forgotten_at, already)

    def reactivate_user(self, user_id: str, source: str = "api", now: float | None = None) -> Tombstone | None:
        """Accept events for a forgotten user again; returns the tombstone as it was (None: not forgotten).

        Events removed by the forget stay removed; a retraining export keeps
        leaving out everything recorded before the reactivation.
        """
        user_key, now = self.hasher.key(user_id), time.time() if now is None else now
        with self.engine.begin() as connection:
            self._lock_user(connection, user_key, shared=False)
            update = self.tombstones.update().where(self._is_key(user_key), self.tombstones.c.reactivated_at.is_(None))
            if connection.execute(update.values(reactivated_at=now)).rowcount:
                self._write_audit(connection, "reactivate", user_key, now, 0, source)
                forgotten_at = self._tombstone(connection, user_key).forgotten_at  # type: ignore[union-attr]
                return Tombstone(user_key, forgotten_at, None)
            return self._tombstone(connection, user_key)

    def tombstones_of(self, user_ids: Iterable[str]) -> dict[str, Tombstone]:
        """The tombstones of those of ``user_ids`` that were ever forgotten (reactivated or not)."""
        keys = {self.hasher.key(user_id): user_id for user_id in user_ids}
        if not keys:
            return {}
        query = sa.select(self.tombstones).where(self.tombstones.c.user_key.in_(list(keys)))
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return {keys[row["user_key"]]: Tombstone(**row) for row in rows}

    def export_events(self, after_id: int = 0) -> Iterator[StoredEvent]:
        """Events for retraining, oldest first: those of forgotten users are left out.

        For a user forgotten and not reactivated, every event is left out
        (including one that raced the forget); for a reactivated user, the
        events recorded before the reactivation.
        """
        with self.engine.connect() as connection:
            tombstones = {
                row["user_key"]: Tombstone(**row) for row in connection.execute(sa.select(self.tombstones)).mappings()
            }
        user_keys: dict[str, str] = {}
        while True:
            query = (
                sa.select(self.events)
                .where(self.events.c.id > after_id)
                .order_by(self.events.c.id)
                .limit(_EXPORT_BATCH)
            )
            with self.engine.connect() as connection:
                batch = [StoredEvent(**row) for row in connection.execute(query).mappings()]
            for event in batch:
                user_key = user_keys.get(event.user_id) or user_keys.setdefault(
                    event.user_id, self.hasher.key(event.user_id)
                )
                tombstone = tombstones.get(user_key)
                if tombstone is None or (
                    tombstone.reactivated_at is not None and event.created_at >= tombstone.reactivated_at
                ):
                    yield event
            if len(batch) < _EXPORT_BATCH:
                return
            after_id = batch[-1].id

    def purge_events(self, before: float, source: str = "retention") -> int:
        """Delete the events recorded before ``before`` (seconds since the epoch); returns how many, audited."""
        with self.engine.begin() as connection:
            removed = int(connection.execute(self.events.delete().where(self.events.c.created_at < before)).rowcount)
            if removed:
                self._write_audit(connection, "retention", None, time.time(), removed, source)
        return removed

    def audit_records(self) -> list[AuditRecord]:
        """Every privacy action, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(self.audit).order_by(self.audit.c.id)).mappings().all()
        return [AuditRecord(**row) for row in rows]

    def _tombstone(self, connection: sa.Connection, user_key: str) -> Tombstone | None:
        row = connection.execute(sa.select(self.tombstones).where(self._is_key(user_key))).mappings().first()
        return None if row is None else Tombstone(**row)

    def _is_key(self, user_key: str) -> sa.ColumnElement[bool]:
        return self.tombstones.c.user_key == user_key

    def _write_audit(
        self, connection: sa.Connection, action: str, user_key: str | None, at: float, removed: int, source: str
    ) -> None:
        row = {"action": action, "user_key": user_key, "at": at, "events_removed": removed, "source": source}
        connection.execute(self.audit.insert(), row)

    def _lock_user(self, connection: sa.Connection, user_key: str, *, shared: bool) -> None:
        """Serialise a forget against events for the same user, so none lands between the delete and the tombstone.

        SQLite needs nothing: it runs one write transaction at a time, and the
        guarded insert reads and writes in one statement.
        """
        if self.engine.dialect.name != "postgresql":
            return
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        lock = int.from_bytes(bytes.fromhex(user_key[:16]), "big", signed=True)
        connection.execute(sa.text(f"SELECT {function}(:lock)"), {"lock": lock})

    def _hash_key(self, configured: str | None) -> bytes:
        """The key of user id hashes: the configured one, else the store's own; checked against the store."""
        stored_key = self._meta_value("id_hash_key")
        if configured:
            key = configured.encode()
        elif stored_key is None and self._meta_value("id_hash_key_check") is not None:
            raise ConfigError(
                "this store's tombstones were hashed with a configured key but FUSIONREC_ID_HASH_KEY is not set; "
                "set it to that key, or forgotten users would no longer be recognised"
            )
        else:
            key = bytes.fromhex(stored_key or self._meta_value("id_hash_key", secrets.token_hex(32)) or "")
        check = hmac.new(key, _KEY_CHECK, hashlib.sha256).hexdigest()
        if self._meta_value("id_hash_key_check", check) != check:
            fix = "unset it to use the store's own key" if stored_key else "set it to the key used before"
            raise ConfigError(
                "FUSIONREC_ID_HASH_KEY is not the key this store's tombstones were hashed with, so forgotten "
                f"users would no longer be recognised; {fix}"
            )
        return key

    def _meta_value(self, name: str, default: str | None = None) -> str | None:
        """The stored value of ``name``; ``default`` is stored first when there is none (first writer wins)."""
        query = sa.select(self.meta.c.value).where(self.meta.c.name == name)
        with self.engine.connect() as connection:
            value = connection.execute(query).scalar()
        if value is not None or default is None:
            return value
        try:
            with self.engine.begin() as connection:
                connection.execute(self.meta.insert(), {"name": name, "value": default})
            return default
        except IntegrityError:  # another worker stored it first
            with self.engine.connect() as connection:
                return str(connection.execute(query).scalar_one())

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def drop(self) -> None:
        """Drop this store's tables (used by tests that share a database)."""
        self.metadata.drop_all(self.engine)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def _create_engine(url: str, hide_parameters: bool = True) -> sa.Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=hide_parameters)
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=hide_parameters
    )
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _create_tables(metadata: sa.MetaData, engine: sa.Engine, attempts: int = 3) -> None:
    """Create missing tables; retried because several workers may race to create them at start-up."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except sa.exc.DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; FULL syncs every commit, so acknowledged events survive a crash."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _events_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only
    return sa.Table(
        f"{prefix}events",
        metadata,
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(ID_LENGTH), nullable=False, index=True),
        sa.Column("item_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("idempotency_key", sa.String(KEY_LENGTH), nullable=True, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def _items_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Table(
        f"{prefix}item_revisions",
        metadata,
        sa.Column("seq", big_id, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def _tombstones_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}forgotten_users",
        metadata,
        sa.Column("user_key", sa.String(HASH_LENGTH), primary_key=True),
        sa.Column("forgotten_at", sa.Float, nullable=False),
        sa.Column("reactivated_at", sa.Float, nullable=True),
    )


def _audit_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Table(
        f"{prefix}privacy_audit",
        metadata,
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("user_key", sa.String(HASH_LENGTH), nullable=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("events_removed", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )


def _meta_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}meta",
        metadata,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def _insert_unless_forgotten(events: sa.Table, tombstones: sa.Table) -> sa.Insert:
    """``INSERT INTO events SELECT :values WHERE NOT EXISTS (a tombstone in force)``, returning the new id.

    One statement reads the tombstone and writes the row, so on SQLite no
    forget can come between; on PostgreSQL an advisory lock per user does that.
    """
    columns = ["user_id", "item_id", "kind", "value", "idempotency_key", "created_at"]
    forgotten = sa.exists().where(
        tombstones.c.user_key == sa.bindparam("user_key", type_=sa.String(HASH_LENGTH)),
        tombstones.c.reactivated_at.is_(None),
    )
    values = sa.select(*[sa.bindparam(name, type_=events.c[name].type) for name in columns]).where(~forgotten)
    return events.insert().from_select(columns, values).returning(events.c.id)


__all__ = [
    "AuditRecord",
    "EventStore",
    "ForgetResult",
    "IdHasher",
    "ItemRevision",
    "NewEvent",
    "StoredEvent",
    "Tombstone",
]
