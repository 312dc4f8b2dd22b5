"""The event store's user profiles: the profile text a worker rebuilt from a user's events, and its vector.

:class:`UserProfileStore` is mixed into :class:`fusionrec.serve.store.EventStore`
and adds one table (its name starts with the store's prefix):

* ``user_profiles``: per user (by the keyed hash of the id, as tombstones)
  and served model (its fingerprint), the latest rebuilt profile: its text,
  version, when it was built, from how many events (up to which event id),
  and the float32 user vector the model gave it, so every worker, and a
  restarted one, serves it without rebuilding.

A profile is written only while the user is not forgotten (checked in the
same transaction as the write, as events are), only when it was built from
newer events than the stored one, and is deleted when the user is forgotten
or when an event it was built from is purged by retention.

Example:
    >>> store.save_user_profile("196", "b41c...", profile)  # doctest: +SKIP
    True
    >>> store.user_profile("196", "b41c...").version  # doctest: +SKIP
    1
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fusionrec.serve.privacy_store import AUTO_ID, HASH_LENGTH, PrivacyStore

PROFILE_SOURCES = ("training", "events")
"""Where a served profile comes from: the artifact (written at training) or rebuilt from events."""


@dataclass(frozen=True)
class UserProfileRecord:
    """A profile rebuilt from a user's history and events.

    Attributes:
        text: the profile text (a generator's summary or the template's).
        generator: who wrote it (a model id, or ``template``).
        built_at: seconds since the epoch.
        n_events: the user's events it was built from.
        last_event_id: the newest of those events (a later rebuild must have a higher one to replace it).
        events_from: when the oldest of those events was recorded (retention purges the profile with it).
        vector: float32 (d,) the user's vector under the model it was built for.
        version: 1 for a user's first rebuilt profile under a model, then one more per rebuild (set on save).
    """

    text: str
    generator: str
    built_at: float
    n_events: int
    last_event_id: int
    events_from: float | None
    vector: np.ndarray
    version: int = 0


class UserProfileStore(PrivacyStore):
    """Rebuilt user profiles; needs the event store's engine and the privacy tables (tombstones, id hash)."""

    user_profiles: sa.Table

    def _add_profile_table(self, metadata: sa.MetaData, prefix: str) -> None:
        """Declare the profiles table (created with the others)."""
        self.user_profiles = _profiles_table(metadata, prefix)

    def save_user_profile(self, user_id: str, model: str, profile: UserProfileRecord) -> bool:
        """Store ``profile`` as the user's profile under ``model``; False when it was not stored.

        Not stored when the user is forgotten, or when the stored profile was built from the same or newer
        events (another worker got there first).
        """
        user_key = self.hasher.key(user_id)
        table, key = self.user_profiles, self._profile_key(user_key, model)
        values = _profile_values(profile)
        try:
            with self.engine.begin() as connection:
                self._lock_user(connection, user_key, shared=True)
                # the write comes first: on SQLite it takes the write lock before anything is read
                newer = table.c.last_event_id < profile.last_event_id
                update = table.update().where(*key, newer).values(**values, version=table.c.version + 1)
                if connection.execute(update).rowcount:
                    return True
                if self._forgotten(connection, user_key):
                    return False
                if connection.execute(sa.select(table.c.version).where(*key)).first() is not None:
                    return False  # built from the same or newer events
                connection.execute(table.insert(), {**values, "user_key": user_key, "model": model, "version": 1})
        except IntegrityError:  # another worker inserted the same user's profile at the same moment
            return False
        return True

    def user_profile(self, user_id: str, model: str) -> UserProfileRecord | None:
        """The user's rebuilt profile under ``model``, or None when there is none."""
        query = sa.select(self.user_profiles).where(*self._profile_key(self.hasher.key(user_id), model))
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _profile_of(row)

    def count_user_profiles(self) -> int:
        """Number of stored rebuilt profiles (for checks and tests)."""
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(self.user_profiles)).scalar_one())

    def _erase_user_rows(self, connection: sa.Connection, user_key: str) -> None:
        """A forgotten user's profiles go with their events."""
        connection.execute(self.user_profiles.delete().where(self.user_profiles.c.user_key == user_key))

    def _erase_rows_before(self, connection: sa.Connection, before: float) -> None:
        """Profiles built from an event that retention purges go with it."""
        connection.execute(self.user_profiles.delete().where(self.user_profiles.c.events_from < before))

    def _forgotten(self, connection: sa.Connection, user_key: str) -> bool:
        tombstone = self._tombstone(connection, user_key)
        return tombstone is not None and tombstone.active

    def _profile_key(self, user_key: str, model: str) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
        return self.user_profiles.c.user_key == user_key, self.user_profiles.c.model == model


def _profile_values(profile: UserProfileRecord) -> dict[str, object]:
    vector = np.asarray(profile.vector, dtype="<f4")
    return {
        "text": profile.text,
        "generator": profile.generator[:128],
        "built_at": profile.built_at,
        "n_events": profile.n_events,
        "last_event_id": profile.last_event_id,
        "events_from": profile.events_from,
        "dim": int(vector.shape[0]),
        "vector": vector.tobytes(),
    }


def _profile_of(row: sa.RowMapping) -> UserProfileRecord:
    vector = np.frombuffer(row["vector"], dtype="<f4").reshape(int(row["dim"])).astype(np.float32)
    return UserProfileRecord(
        text=row["text"],
        generator=row["generator"],
        built_at=float(row["built_at"]),
        n_events=int(row["n_events"]),
        last_event_id=int(row["last_event_id"]),
        events_from=None if row["events_from"] is None else float(row["events_from"]),
        vector=vector,
        version=int(row["version"]),
    )


def _profiles_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}user_profiles",
        metadata,
        sa.Column("user_key", sa.String(HASH_LENGTH), primary_key=True),
        sa.Column("model", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("generator", sa.String(128), nullable=False),
        sa.Column("built_at", sa.Float, nullable=False),
        sa.Column("n_events", sa.Integer, nullable=False),
        sa.Column("last_event_id", AUTO_ID, nullable=False),  # an event's id
        sa.Column("events_from", sa.Float, nullable=True),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )


__all__ = ["PROFILE_SOURCES", "UserProfileRecord", "UserProfileStore"]
