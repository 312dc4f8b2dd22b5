"""The event store: user events and item revisions in SQLite (default) or PostgreSQL, via SQLAlchemy Core.

Three append-only tables (names start with the configured prefix):

* ``events``: one row per recorded user event; an optional idempotency
  key is unique, so a retried request returns the original row.
* ``item_revisions``: each add or update of an item, as the JSON payload
  the client sent; the service replays them on start-up and picks up new
  ones written by other workers.
* ``item_placements``: the vector (and each modality's part of it) a
  model gave a revision's features, keyed by revision and model
  fingerprint, so start-up and other workers place an item without
  running the model again.

three for privacy, none holding a raw user id (tombstones of forgotten
users, an audit, the id hash key): see :mod:`fusionrec.serve.privacy_store`;
and users' rebuilt profiles: see :mod:`fusionrec.serve.profile_store`.

SQLite runs in WAL mode with ``synchronous=FULL``: a write that was
acknowledged is on disk and survives a killed process.

Example:
    >>> store = EventStore("sqlite:///events.sqlite3")  # doctest: +SKIP
    >>> event, replayed = store.record_event(NewEvent(user_id="u1", item_id="i9", kind="like"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fusionrec.serve.errors import ForgottenUserError
from fusionrec.serve.privacy import AuditRecord, ForgetResult, IdHasher, Tombstone
from fusionrec.serve.privacy_store import AUTO_ID, insert_unless_forgotten
from fusionrec.serve.profile_store import UserProfileRecord, UserProfileStore

logger = logging.getLogger(__name__)

ID_LENGTH = 256
KEY_LENGTH = 128
_EXPORT_BATCH = 10_000
_IN_CHUNK = 500  # seqs per IN (...) query


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


@dataclass(frozen=True)
class Placement:
    """The vector a model gave one item revision: float32 (d,) ``vector`` and ``{modality: (d,) part}``."""

    seq: int
    vector: np.ndarray
    parts: dict[str, np.ndarray]


class EventStore(UserProfileStore):
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
        timeout_s: longest wait for a new PostgreSQL connection (at least 2 s)
            or for a SQLite lock held by another connection; then the call raises.
    """

    def __init__(
        self,
        url: str,
        table_prefix: str = "fusionrec_",
        *,
        id_hash_key: str | None = None,
        hide_parameters: bool = True,
        timeout_s: float = 30.0,
    ) -> None:
        self.url = url
        self.engine = _create_engine(url, timeout_s, hide_parameters)
        self.metadata = sa.MetaData()
        self.events = _events_table(self.metadata, table_prefix)
        self.items = _items_table(self.metadata, table_prefix)
        self._add_privacy_tables(self.metadata, table_prefix, id_hash_key)
        self.placements = _placements_table(self.metadata, table_prefix)
        self._add_profile_table(self.metadata, table_prefix)
        self._user_events_query = (  # built once: the hot path of every recommendation request
            sa.select(self.events)
            .where(self.events.c.user_id == sa.bindparam("user_id"))
            .order_by(self.events.c.id.desc())
            .limit(sa.bindparam("limit"))
        )
        self._unless_forgotten_insert = insert_unless_forgotten(self.events, self.tombstones)
        _create_tables(self.metadata, self.engine)

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

    def export_events(self, after_id: int = 0) -> Iterator[StoredEvent]:
        """Events for retraining, oldest first, after ``after_id``: forgotten users' events are left out.

        A user forgotten and not reactivated has none exported (not even one
        that raced the forget); a reactivated user, those recorded since.
        """
        usable = self._training_filter()
        while True:
            query = sa.select(self.events).where(self.events.c.id > after_id).order_by(self.events.c.id)
            with self.engine.connect() as connection:
                rows = connection.execute(query.limit(_EXPORT_BATCH)).mappings().all()
            batch = [StoredEvent(**row) for row in rows]
            yield from (event for event in batch if usable(event.user_id, event.created_at))
            if len(batch) < _EXPORT_BATCH:
                return
            after_id = batch[-1].id

    def add_placed_item_revision(self, item_id: str, payload: dict[str, Any], model: str, placement: Placement) -> int:
        """Append a revision and the vector ``model`` gave it in one transaction; returns the revision's seq.

        ``placement.seq`` is ignored (the revision's seq is not known before the insert).
        """
        row = {"item_id": item_id, "payload": json.dumps(payload), "created_at": time.time()}
        with self.engine.begin() as connection:
            seq = int(connection.execute(self.items.insert().returning(self.items.c.seq), row).scalar_one())
            connection.execute(
                self.placements.insert(), _placement_row(model, Placement(seq, placement.vector, placement.parts))
            )
        return seq

    def add_item_placements(self, model: str, placements: list[Placement]) -> int:
        """Store vectors of revisions stored without one; returns how many were new (another worker may race)."""
        added = 0
        for placement in placements:
            try:
                with self.engine.begin() as connection:
                    connection.execute(self.placements.insert(), _placement_row(model, placement))
                added += 1
            except IntegrityError:
                continue  # another worker stored the same vector first
        return added

    def item_placements(self, model: str, seqs: list[int]) -> dict[int, Placement]:
        """``{seq: placement}`` of the revisions in ``seqs`` that have a vector stored for ``model``."""
        found: dict[int, Placement] = {}
        table = self.placements
        for start in range(0, len(seqs), _IN_CHUNK):
            query = sa.select(table).where(table.c.model == model, table.c.seq.in_(seqs[start : start + _IN_CHUNK]))
            with self.engine.connect() as connection:
                for row in connection.execute(query).mappings():
                    found[int(row["seq"])] = _placement_of(row)
        return found

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


def _placement_row(model: str, placement: Placement) -> dict[str, Any]:
    """The vector and its parts as one float32 (1 + n_parts, d) block of bytes, part names in order as JSON."""
    names = list(placement.parts)
    block = np.stack([placement.vector, *(placement.parts[m] for m in names)]).astype("<f4")  # (1 + n_parts, d)
    return {
        "seq": placement.seq,
        "model": model,
        "dim": int(block.shape[1]),
        "parts": json.dumps(names),
        "vectors": block.tobytes(),
    }


def _placement_of(row: Any) -> Placement:
    block = np.frombuffer(row["vectors"], dtype="<f4").reshape(-1, int(row["dim"])).astype(np.float32)
    names = json.loads(row["parts"])
    return Placement(int(row["seq"]), block[0], {m: block[i + 1] for i, m in enumerate(names)})


def _create_engine(url: str, timeout_s: float, hide_parameters: bool = True) -> sa.Engine:
    if not url.startswith("sqlite"):
        # without a connect timeout, a server that accepts and never answers holds the caller for ever
        connect_args = {} if "connect_timeout" in sa.make_url(url).query else {"connect_timeout": _whole(timeout_s)}
        return sa.create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            connect_args=connect_args,
            hide_parameters=hide_parameters,
        )
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": timeout_s}, hide_parameters=hide_parameters
    )
    sa.event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms=round(timeout_s * 1000)))
    return engine


def _whole(seconds: float) -> int:
    """libpq takes whole seconds and treats anything under 2 as 2."""
    return max(2, math.ceil(seconds))


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


def _sqlite_pragmas(connection: Any, _record: Any, busy_timeout_ms: int) -> None:
    """WAL lets readers run beside the writer; FULL syncs every commit, so acknowledged events survive a crash."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


def _events_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}events",
        metadata,
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(ID_LENGTH), nullable=False, index=True),
        sa.Column("item_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("idempotency_key", sa.String(KEY_LENGTH), nullable=True, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def _items_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}item_revisions",
        metadata,
        sa.Column("seq", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def _placements_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}item_placements",
        metadata,
        sa.Column("seq", AUTO_ID, primary_key=True, autoincrement=False),
        sa.Column("model", sa.String(64), primary_key=True),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("parts", sa.Text, nullable=False),
        sa.Column("vectors", sa.LargeBinary, nullable=False),
    )


__all__ = [
    "AuditRecord",
    "EventStore",
    "ForgetResult",
    "IdHasher",
    "ItemRevision",
    "NewEvent",
    "Placement",
    "StoredEvent",
    "Tombstone",
    "UserProfileRecord",
]
