"""Users' written profiles in the service: the one from training, then the ones rebuilt from their events.

When the served model reads user content, :class:`RebuiltProfiles` keeps
each trained user's profile in step with their events:

* after an event is stored, the user is queued for a rebuild
  (:class:`~fusionrec.serve.rebuild_queue.RebuildQueue`: a background
  thread, debounced per user, bounded); the request does not wait;
* the rebuild (:class:`~fusionrec.serve.user_rebuild.UserProfileBuilder`)
  writes the text from the training history plus the events, embeds it and
  asks the model for the user's vector; the result is stored in the event
  store (``user_profiles``, per served model), so every worker and a
  restarted one serve it;
* until it is stored, the previous profile (the last rebuilt one, else the
  training one) is served; a failed rebuild is logged, counted in
  ``fusionrec_user_profile_rebuilds{outcome="failed"}`` and shown by
  ``GET /v1/users/{id}/profile``, and the previous profile stays;
* a request for a user whose stored profile predates their newest event
  (a restart lost the queue, or the queue was full) asks for the rebuild again.

The rebuilt vector replaces the trained vector as the base that the user's
events are blended with (:mod:`fusionrec.serve.profiles`). With a model that
reads no user content nothing is queued and the trained vector is served.

Example:
    >>> profiles.view("196").source  # doctest: +SKIP
    'events'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fusionrec.serve.errors import StoreUnavailableError
from fusionrec.serve.rebuild_queue import RebuildQueue

if TYPE_CHECKING:
    from fusionrec.data.dataset import UserContent
    from fusionrec.serve.profile_store import UserProfileRecord
    from fusionrec.serve.resilience import StoreGuard
    from fusionrec.serve.settings import ServeSettings
    from fusionrec.serve.store import EventStore, StoredEvent
    from fusionrec.serve.user_rebuild import UserProfileBuilder
    from fusionrec.serve.user_state import UserStates

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileView:
    """What the service serves as a user's written profile right now.

    Attributes:
        source: ``events`` (rebuilt since training), ``training`` (the artifact's), or ``none`` (the model
            reads no profile for this user).
        record: the rebuilt profile (source ``events``), else None.
        text: the training profile's text (source ``training``, when the artifact keeps it), else None.
        rebuild: ``idle``, ``pending`` (a rebuild waits or runs), ``failed`` (the last one failed; the
            profile shown is the previous one) or ``unavailable`` (the service cannot rebuild profiles).
        error: why the last rebuild failed, or why rebuilding is unavailable.
        degraded: the store did not answer, so a rebuilt profile may be missing.
    """

    source: str
    record: UserProfileRecord | None
    rebuild: str
    error: str = ""
    degraded: bool = False
    text: str | None = None


class RebuiltProfiles:
    """Rebuilds, stores and serves users' written profiles (see the module docstring).

    Args:
        store, guard: the event store and the guard every call to it goes through.
        settings: the service settings (rebuild delay and bound, events per user).
        states: the users' states (trained index, forgotten users).
        builder: rebuilds one profile; None when the served model cannot rebuild them.
        model_key: the served model's fingerprint (profiles are stored per model).
        reason: why ``builder`` is None (shown by the profile route).
        trained_content: the user content the served model was trained with (trained users have a training
            profile, whose text is shown where the artifact keeps it); None when the model reads none.
    """

    def __init__(
        self,
        store: EventStore,
        guard: StoreGuard,
        settings: ServeSettings,
        states: UserStates,
        builder: UserProfileBuilder | None,
        model_key: str,
        reason: str = "",
        trained_content: UserContent | None = None,
    ) -> None:
        self.store, self.guard, self.settings, self.states = store, guard, settings, states
        self.builder, self.model_key, self.reason = builder, model_key, reason
        self.trained_content = trained_content
        self.enabled = builder is not None and settings.profile_rebuild
        delay, bound = settings.profile_rebuild_delay_s, settings.profile_rebuild_max_pending
        self.queue = RebuildQueue(self.rebuild, delay, bound, log_id=states.log_id)

    def after_event(self, event: StoredEvent) -> None:
        """Queue the user's rebuild (the caller has acknowledged the event; this does not wait).

        A user the model was not trained with has no written profile to rebuild: nothing is queued.
        """
        if self.enabled and int(self.states.users.index_or_missing([event.user_id])[0]) >= 0:
            self.queue.request(event.user_id, event.id)

    def stored(self, user_id: str) -> UserProfileRecord | None:
        """The user's rebuilt profile under the served model (None: none, or the store did not answer)."""
        if not self.enabled:
            return None
        try:
            return self.guard.read(self.store.user_profile, user_id, self.model_key)
        except StoreUnavailableError as exc:
            logger.warning("answering with the user's previous profile: %s", exc.message)
            return None

    def base_vector(self, user_id: str, events: list[StoredEvent]) -> np.ndarray | None:
        """float32 (d,) the user's rebuilt vector, or None (serve the trained one); asks for a rebuild when the
        stored profile predates the user's newest event."""
        record = self.stored(user_id)
        newest = events[-1].id if events else 0
        if self.enabled and newest and (record is None or record.last_event_id < newest):
            failure = self.queue.failure(user_id)
            if failure is None or failure.last_event_id < newest:  # a failed rebuild waits for a new event
                self.queue.request(user_id, newest)
        return None if record is None else record.vector

    def rebuild(self, user_id: str) -> str:
        """Rebuild and store the user's profile now; the outcome (``rebuilt``, ``unchanged`` or ``skipped``).

        Raises:
            RebuildError, StoreUnavailableError: the profile was not rebuilt (the previous one stays).
        """
        assert self.builder is not None
        index = self.states.trained_index(user_id)
        if index is None:  # unknown to the model, or forgotten: no profile of theirs is served
            return "skipped"
        events = self.guard.read(self.store.user_events, user_id, self.settings.max_user_events)
        record = self.guard.read(self.store.user_profile, user_id, self.model_key)
        if not events or (record is not None and record.last_event_id >= events[-1].id):
            return "unchanged"
        profile = self.builder.build(user_id, index, events)
        saved = self.guard.write(self.store.save_user_profile, user_id, self.model_key, profile)
        if saved:
            logger.info("rebuilt the profile of user %s from %d events", self.states.log_id(user_id), len(events))
        return "rebuilt" if saved else "skipped"

    def view(self, user_id: str) -> ProfileView:
        """The user's current profile and the state of its rebuild (for ``GET /v1/users/{id}/profile``)."""
        index = self.states.trained_index(user_id) if self.trained_content is not None else None
        if self.trained_content is None or index is None:
            return ProfileView("none", None, "unavailable" if not self.enabled else "idle", self.reason)
        text = self.trained_content.text(index)
        if not self.enabled:
            return ProfileView("training", None, "unavailable", self.reason or "profile_rebuild is off", text=text)
        degraded = False
        try:
            record = self.guard.read(self.store.user_profile, user_id, self.model_key)
        except StoreUnavailableError:
            record, degraded = None, True
        failure = self.queue.failure(user_id)
        state = "pending" if self.queue.pending(user_id) else "failed" if failure else "idle"
        source = "training" if record is None else "events"
        return ProfileView(source, record, state, failure.message if failure else "", degraded, text)

    def close(self) -> None:
        """Stop the rebuild thread (waiting rebuilds are dropped; a restart asks for them again)."""
        self.queue.stop()


__all__ = ["ProfileView", "RebuiltProfiles"]
