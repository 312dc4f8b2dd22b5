"""The event store's privacy part: forgetting users, the events export for retraining, retention, the id hash key.

:class:`PrivacyStore` is mixed into :class:`fusionrec.serve.store.EventStore`
and adds three tables (names start with the store's prefix), none holding a
raw user id:

* ``forgotten_users``: one tombstone per forgotten user, by the keyed hash
  of the id; an event for a forgotten user is refused until the user is
  reactivated.
* ``privacy_audit``: each forget, reactivation and retention purge, with
  the time and the number of events removed.
* ``meta``: a fingerprint of the id hash key (every process on one store
  must use the same key), and the key itself unless one is configured.

Example:
    >>> store = EventStore("sqlite:///events.sqlite3")  # doctest: +SKIP
    >>> store.forget_user("196").events_removed  # doctest: +SKIP
    12
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fusionrec.errors import ConfigError
from fusionrec.serve.privacy import AuditRecord, ForgetResult, IdHasher, Tombstone

HASH_LENGTH = 64  # hex digits of an HMAC-SHA256
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""The type of an autoincrementing key column of the store's tables: SQLite autoincrements INTEGER keys only."""
_KEY_CHECK = b"fusionrec: id hash key check"


def _key_check(key: bytes) -> str:
    """What the store keeps to recognise its key without keeping a configured one."""
    return hmac.new(key, _KEY_CHECK, hashlib.sha256).hexdigest()


SERVING_ARTIFACT = "serving_artifact"
"""The meta entry naming the artifact the workers on a store serve (written by a model swap)."""

_HASHER_LOCK = threading.Lock()  # the key is read or made once per store, whichever thread asks first


class PrivacyStore:
    """Forgetting users, exporting events for retraining, retention; needs the event store's engine and tables."""

    engine: sa.Engine
    events: sa.Table
    tombstones: sa.Table
    audit: sa.Table
    meta: sa.Table
    _id_hash_key: str | None
    _hasher: IdHasher | None
    _tombstones_query: sa.Select[Any]

    def _add_privacy_tables(self, metadata: sa.MetaData, prefix: str, id_hash_key: str | None) -> None:
        """Declare the privacy tables (created with the others); the key is read on first use of :attr:`hasher`."""
        self.tombstones = _tombstones_table(metadata, prefix)
        self.audit = _audit_table(metadata, prefix)
        self.meta = _meta_table(metadata, prefix)
        self._id_hash_key, self._hasher = id_hash_key, None
        keys: sa.BindParameter[list[str]] = sa.bindparam(
            "keys", expanding=True
        )  # built once: read for every request of a trained user
        self._tombstones_query = sa.select(self.tombstones).where(self.tombstones.c.user_key.in_(keys))

    @property
    def hasher(self) -> IdHasher:
        """The keyed hash of user ids; its key is read (or made) and checked against the store on first use.

        Raises:
            ConfigError: the key is not the one the store was used with.
        """
        with _HASHER_LOCK:
            if self._hasher is None:
                self._hasher = IdHasher(self._hash_key(self._id_hash_key))
            return self._hasher

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
            self._erase_user_rows(connection, user_key)
            existing = self._tombstone(connection, user_key)
            already = existing is not None and existing.active
            forgotten_at = existing.forgotten_at if existing is not None and already else now
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
            updated = connection.execute(
                update.values(reactivated_at=now)
            ).rowcount  # the write first (see forget_user)
            tombstone = self._tombstone(connection, user_key)
            if not updated or tombstone is None:
                return tombstone
            self._write_audit(connection, "reactivate", user_key, now, 0, source)
        return Tombstone(user_key, tombstone.forgotten_at, None)

    def tombstones_of(self, user_ids: Iterable[str]) -> dict[str, Tombstone]:
        """The tombstones of those of ``user_ids`` that were ever forgotten (reactivated or not)."""
        keys = {self.hasher.key(user_id): user_id for user_id in user_ids}
        if not keys:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(self._tombstones_query, {"keys": list(keys)}).mappings().all()
        return {keys[row["user_key"]]: Tombstone(**row) for row in rows}

    def _training_filter(self) -> Callable[[str, float], bool]:
        """A test of ``(user_id, created_at)``: may the event be used for retraining? (tombstones read now)

        Not for a user forgotten and not reactivated (not even an event that
        raced the forget); for a reactivated user, only events recorded since.
        """
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(self.tombstones)).mappings().all()
        tombstones = {row["user_key"]: Tombstone(**row) for row in rows}
        user_keys: dict[str, str] = {}

        def usable(user_id: str, created_at: float) -> bool:
            user_key = user_keys.get(user_id)
            if user_key is None:
                user_key = user_keys[user_id] = self.hasher.key(user_id)
            tombstone = tombstones.get(user_key)
            return tombstone is None or (
                tombstone.reactivated_at is not None and created_at >= tombstone.reactivated_at
            )

        return usable

    def purge_events(self, before: float, source: str = "retention") -> int:
        """Delete the events recorded before ``before`` (seconds since the epoch); returns how many, audited."""
        with self.engine.begin() as connection:
            removed = int(connection.execute(self.events.delete().where(self.events.c.created_at < before)).rowcount)
            self._erase_rows_before(connection, before)
            if removed:
                self._write_audit(connection, "retention", None, time.time(), removed, source)
        return removed

    def audit_records(self) -> list[AuditRecord]:
        """Every privacy action, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(self.audit).order_by(self.audit.c.id)).mappings().all()
        return [AuditRecord(**row) for row in rows]

    def _erase_user_rows(self, connection: sa.Connection, user_key: str) -> None:
        """Delete what else the store keeps about a user being forgotten (none here; see the profile store)."""

    def _erase_rows_before(self, connection: sa.Connection, before: float) -> None:
        """Delete what else the store derived from events recorded before ``before`` (none here)."""

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
        """The key of user id hashes: the configured one, else the store's own; checked against the store.

        The store's own key is inserted if absent and read back (first writer wins), so processes and threads
        that open a new store at once agree on it.
        """
        own, stored_check = self._meta_value("id_hash_key"), self._meta_value("id_hash_key_check")
        uses_own = own is not None and stored_check == _key_check(bytes.fromhex(own))
        if not configured and stored_check is not None and not uses_own:
            raise ConfigError(
                "this store's tombstones were hashed with a configured key but FUSIONREC_ID_HASH_KEY is not set; "
                "set it to that key, or forgotten users would no longer be recognised"
            )
        key = (
            configured.encode()
            if configured
            else bytes.fromhex(self._meta_value("id_hash_key", secrets.token_hex(32)) or "")
        )
        if self._meta_value("id_hash_key_check", _key_check(key)) != _key_check(key):
            fix = "unset it to use the store's own key" if uses_own else "set it to the key used before"
            raise ConfigError(
                "FUSIONREC_ID_HASH_KEY is not the key this store's tombstones were hashed with, so forgotten "
                f"users would no longer be recognised; {fix}"
            )
        return key

    def serving_artifact(self) -> str | None:
        """The artifact every worker on this store should serve (set by a swap), or None when none was set."""
        return self._meta_value(SERVING_ARTIFACT)

    def set_serving_artifact(self, path: str) -> None:
        """Record the artifact every worker on this store should serve (workers switch at their next check)."""
        with self.engine.begin() as connection:
            updated = connection.execute(
                self.meta.update().where(self.meta.c.name == SERVING_ARTIFACT).values(value=path)
            ).rowcount
            if not updated:
                connection.execute(self.meta.insert(), {"name": SERVING_ARTIFACT, "value": path})

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


def _tombstones_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}forgotten_users",
        metadata,
        sa.Column("user_key", sa.String(HASH_LENGTH), primary_key=True),
        sa.Column("forgotten_at", sa.Float, nullable=False),
        sa.Column("reactivated_at", sa.Float, nullable=True),
    )


def _audit_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}privacy_audit",
        metadata,
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
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


def insert_unless_forgotten(events: sa.Table, tombstones: sa.Table) -> sa.Insert:
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


__all__ = ["AUTO_ID", "HASH_LENGTH", "PrivacyStore", "insert_unless_forgotten"]
