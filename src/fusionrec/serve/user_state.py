"""What the service knows about a user at request time, and the privacy actions on a user.

A user's query vector is rebuilt on every request from the trained vector
(or the user's profile rebuilt from events, :mod:`fusionrec.serve.rebuilt_profiles`)
and the user's stored events (see :mod:`fusionrec.serve.profiles`), so an
event recorded by any worker counts for the next request; no worker keeps
per-user state.

Forgetting a user (:meth:`UserStates.forget_user`) deletes their events and
leaves a tombstone in the store, so every worker stops using the user's
events at its next request; the tombstone hides the user's trained vector
and training items while the user stays forgotten, and after a reactivation
as long as the served artifact predates the forget. Events older than
``event_retention_days`` are purged every ``retention_check_s``.

Example:
    >>> states.state("196").strategy  # doctest: +SKIP
    'profile'
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fusionrec.serve.errors import StoreUnavailableError
from fusionrec.serve.profiles import event_weight, profile_vector
from fusionrec.serve.ranking import usable_query

if TYPE_CHECKING:
    import scipy.sparse as sp

    from fusionrec.data.vocabulary import Vocabulary
    from fusionrec.serve.catalog import ItemCatalog
    from fusionrec.serve.index import ItemIndex
    from fusionrec.serve.item_updates import ItemUpdates
    from fusionrec.serve.privacy import ForgetResult, Tombstone
    from fusionrec.serve.rebuilt_profiles import RebuiltProfiles
    from fusionrec.serve.resilience import StoreGuard
    from fusionrec.serve.settings import ServeSettings
    from fusionrec.serve.store import EventStore, StoredEvent

logger = logging.getLogger(__name__)

_DAY_SECONDS = 86_400.0


@dataclass
class UserState:
    """What the service knows about a user at request time.

    Attributes:
        user_id: the raw id.
        index: the user's trained index, or None (unknown to the model, or forgotten since training).
        events: the user's latest stored events, newest first.
        history: item indices of the user's training items and positively weighted events.
        seen: item indices never recommended to the user (training items and every event's item).
        query: float32 (d,) the user's query vector, or None (ranked by popularity, or by the model's own
            scores for a model without item vectors).
        strategy: ``profile`` (trained vector or none, plus events), ``model`` or ``popularity``.
        degraded: the store did not answer, so the events are missing.
    """

    user_id: str
    index: int | None
    events: list[StoredEvent]
    history: list[int]
    seen: set[int]
    query: np.ndarray | None
    strategy: str
    degraded: bool = False


class UserStates:
    """Builds users' states from the trained vectors and the store, and carries out privacy actions.

    Args:
        store, guard: the event store and the guard every call to it goes through.
        settings: the service settings (events per user, profile weight, retention, log ids).
        users: the trained users' vocabulary.
        train_matrix: (n_users, n_trained) training interactions.
        user_vectors: float32 (n_users, d) trained user vectors, or None for a model without vectors.
        catalog, index: the item catalog and index (None for a model without item vectors).
        updates: the catalog's updates (each state syncs them first).
        trained_at: when the served artifact was built, in seconds since the epoch.
    """

    def __init__(
        self,
        store: EventStore,
        guard: StoreGuard,
        settings: ServeSettings,
        users: Vocabulary,
        train_matrix: sp.csr_matrix,
        user_vectors: np.ndarray | None,
        catalog: ItemCatalog,
        index: ItemIndex | None,
        updates: ItemUpdates,
        trained_at: float,
    ) -> None:
        self.store, self.guard, self.settings, self.users = store, guard, settings, users
        self.train_matrix, self.user_vectors, self.catalog, self.index = train_matrix, user_vectors, catalog, index
        self.updates, self.trained_at = updates, trained_at
        self.profiles: RebuiltProfiles | None = None  # set by the service when the model reads user content
        self._next_purge = 0.0

    def state(self, user_id: str) -> UserState:
        """The user's training items, events and query vector right now (without events when the store fails)."""
        events = self._recent_events(user_id) if self.updates.sync() else None
        self.purge_if_due()
        found = int(self.users.index_or_missing([user_id])[0])
        index = found if found >= 0 and not self.forgotten_since_training([user_id]) else None
        degraded, events = events is None, events or []
        trained = [] if index is None else self.trained_items(index)
        event_items = [self.catalog.index_of(e.item_id) for e in events]
        pairs = [(e, i) for e, i in zip(events, event_items, strict=True) if i is not None]
        history = trained + [i for e, i in pairs if event_weight(e.kind, e.value) > 0]
        seen = set(trained) | {i for _, i in pairs}
        trained_user = bool(trained)  # a user in the vocabulary without training items has an untrained vector
        base = self.user_vectors[index] if trained_user and self.user_vectors is not None else None  # type: ignore[index]
        if base is not None and self.profiles is not None and events:  # a profile is only rebuilt from events
            rebuilt = self.profiles.base_vector(user_id, events)  # the profile rebuilt from events, when there is one
            base = base if rebuilt is None or rebuilt.shape != base.shape else rebuilt
        query = base
        if self.index is not None and pairs:
            weights = np.array([event_weight(e.kind, e.value) for e, _ in pairs])
            half = self.settings.profile_half_weight
            profile = profile_vector(base, self.index.vectors(np.array([i for _, i in pairs])), weights, half)
            query = usable_query(profile, base, f"user {user_id!r}")
        if query is not None:
            strategy = "profile" if pairs else "model"
        else:
            strategy = "model" if trained_user and self.index is None else "popularity"
        return UserState(user_id, index, events, history, seen, query, strategy, degraded)

    def trained_index(self, user_id: str) -> int | None:
        """The user's index when the model was trained with their interactions and they are not forgotten."""
        found = int(self.users.index_or_missing([user_id])[0])
        if found < 0 or not self.trained_items(found) or self.forgotten_since_training([user_id]):
            return None
        return found

    def trained_items(self, user: int) -> list[int]:
        """Item indices of the user's training interactions."""
        start, end = self.train_matrix.indptr[user], self.train_matrix.indptr[user + 1]
        return self.train_matrix.indices[start:end].tolist()

    def user_ids(self, offset: int, limit: int) -> tuple[int, list[str]]:
        """The number of trained users and a page of their ids (forgotten users are left out of the page)."""
        page = list(self.users.ids[offset : offset + limit])
        hidden = self.forgotten_since_training(page)
        return len(self.users), [user_id for user_id in page if user_id not in hidden]

    def forgotten_since_training(self, user_ids: list[str]) -> set[str]:
        """Those of ``user_ids`` whose training is not used: forgotten now, or after the artifact was built."""
        if not self.updates.store_fresh:  # the store just failed: this request does not wait on it again
            return set()
        try:
            tombstones = self.guard.read(self.store.tombstones_of, user_ids).items()
        except StoreUnavailableError as exc:  # availability first: an outage does not hide every trained user
            logger.warning("forgotten users cannot be checked while the store is unavailable: %s", exc.message)
            return set()
        return {user_id for user_id, t in tombstones if t.active or t.forgotten_at >= self.trained_at}

    def forget_user(self, user_id: str, source: str = "api") -> ForgetResult:
        """Delete the user's events and refuse new ones (see :meth:`EventStore.forget_user`).

        Nothing per user is cached in a worker (profiles are rebuilt from the
        store on every request), so there is no in-memory state to drop here.
        """
        result = self.guard.write(functools.partial(self.store.forget_user, user_id, source=source))
        state = "was already forgotten" if result.already_forgotten else "forgotten"
        logger.info("user %s %s: %d events removed", self.log_id(user_id), state, result.events_removed)
        return result

    def reactivate_user(self, user_id: str) -> Tombstone | None:
        """Accept events for a forgotten user again; the tombstone as it was, or None if never forgotten."""
        tombstone = self.guard.write(self.store.reactivate_user, user_id)
        if tombstone is not None and tombstone.active:
            logger.info("user %s reactivated: events are accepted again", self.log_id(user_id))
        return tombstone

    def purge_expired_events(self, now: float | None = None) -> int:
        """Delete events older than ``event_retention_days`` (none when it is unset); returns how many."""
        days = self.settings.event_retention_days
        if days is None:
            return 0
        removed = self.store.purge_events((time.time() if now is None else now) - days * _DAY_SECONDS)
        if removed:
            logger.info("deleted %d events older than %g days (event retention)", removed, days)
        return removed

    def purge_if_due(self) -> None:
        """Purge expired events when ``retention_check_s`` has passed since the last purge (a failure is logged)."""
        if self.settings.event_retention_days is None or time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + self.settings.retention_check_s
        try:
            self.guard.write(self.purge_expired_events)
        except StoreUnavailableError as exc:
            logger.warning("old events were not purged (next try in %.0f s): %s", self.settings.retention_check_s, exc)

    def log_id(self, user_id: str) -> str:
        """How ``user_id`` appears in logs: its hash label unless ``log_ids`` is ``plain``."""
        return user_id if self.settings.log_ids == "plain" else self.store.hasher.label(user_id)

    def _recent_events(self, user_id: str) -> list[StoredEvent] | None:
        """The user's latest events, or None when the store does not answer."""
        try:
            return self.guard.read(self.store.user_events, user_id, self.settings.max_user_events)
        except StoreUnavailableError as exc:
            logger.warning("answering without the user's events: %s", exc.message)
            self.updates.store_failed()  # the next sync waits its interval rather than make this request wait again
            return None


__all__ = ["UserState", "UserStates"]
