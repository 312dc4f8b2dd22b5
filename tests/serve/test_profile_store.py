"""Rebuilt user profiles in the event store (SQLite and PostgreSQL) and the queue that rebuilds them."""

from __future__ import annotations

import numpy as np

from fusionrec.serve.profile_store import UserProfileRecord
from fusionrec.serve.rebuild_queue import RebuildQueue
from fusionrec.serve.store import EventStore

USER, MODEL = "alice@example.com", "model-a"


def profile(
    last_event_id: int, text: str = "Likes Heat (1995).", events_from: float | None = 100.0
) -> UserProfileRecord:
    vector = np.arange(4, dtype=np.float32) + last_event_id
    return UserProfileRecord(text, "template", 1000.0 + last_event_id, 3, last_event_id, events_from, vector)


def test_a_newer_profile_replaces_the_stored_one_and_counts_versions(store: EventStore) -> None:
    assert store.user_profile(USER, MODEL) is None
    assert store.save_user_profile(USER, MODEL, profile(5))
    assert store.save_user_profile(USER, MODEL, profile(9, "Likes Alien (1979)."))
    stored = store.user_profile(USER, MODEL)
    assert stored is not None and (stored.version, stored.text, stored.last_event_id) == (2, "Likes Alien (1979).", 9)
    np.testing.assert_array_equal(stored.vector, profile(9).vector)
    assert not store.save_user_profile(USER, MODEL, profile(9, "same events"))  # not from newer events
    assert not store.save_user_profile(USER, MODEL, profile(7, "older"))
    assert store.user_profile(USER, MODEL).text == "Likes Alien (1979)."  # type: ignore[union-attr]
    assert store.user_profile(USER, "model-b") is None  # kept per served model
    assert store.user_profile("bob", MODEL) is None


def test_a_forgotten_user_has_no_profile_and_none_is_stored_for_them(store: EventStore) -> None:
    store.save_user_profile(USER, MODEL, profile(5))
    store.save_user_profile("bob", MODEL, profile(5))
    store.forget_user(USER)
    assert store.user_profile(USER, MODEL) is None and store.count_user_profiles() == 1
    assert not store.save_user_profile(USER, MODEL, profile(6))  # a rebuild that raced the forget
    store.reactivate_user(USER)
    assert store.save_user_profile(USER, MODEL, profile(7))


def test_retention_deletes_profiles_built_from_purged_events(store: EventStore) -> None:
    store.save_user_profile(USER, MODEL, profile(5, events_from=100.0))
    store.save_user_profile("bob", MODEL, profile(5, events_from=300.0))
    store.purge_events(before=200.0)
    assert store.user_profile(USER, MODEL) is None and store.user_profile("bob", MODEL) is not None


def test_asks_for_a_waiting_user_join_one_run() -> None:
    runs: list[str] = []
    queue = RebuildQueue(lambda user: runs.append(user) or "rebuilt", delay_s=3600.0, max_pending=10)
    assert queue.request("u1", 1) and queue.request("u1", 2) and queue.request("u2", 3)
    assert queue.pending("u1") and runs == []  # the delay has not passed: nothing ran on its own
    queue.run_pending()
    assert runs == ["u1", "u2"] and not queue.pending("u1")
    queue.stop()
    assert not queue.request("u3")


def test_a_full_queue_drops_and_reports() -> None:
    outcomes: list[str] = []
    queue = RebuildQueue(lambda user: "rebuilt", delay_s=3600.0, max_pending=1)
    queue.on_outcome = outcomes.append
    assert queue.request("u1") and not queue.request("u2")
    queue.run_pending()
    assert outcomes == ["dropped", "rebuilt"]
    queue.stop()


def test_a_failure_is_kept_until_the_next_success() -> None:
    broken = {"u1"}

    def work(user: str) -> str:
        if user in broken:
            raise RuntimeError("the encoder is down")
        return "rebuilt"

    outcomes: list[str] = []
    queue = RebuildQueue(work, delay_s=3600.0, max_pending=10)
    queue.on_outcome = outcomes.append
    queue.request("u1", 4)
    queue.run_pending()
    failure = queue.failure("u1")
    assert failure is not None and failure.message == "RuntimeError: the encoder is down" and failure.last_event_id == 4
    broken.clear()
    queue.request("u1", 5)
    queue.run_pending()
    assert queue.failure("u1") is None and outcomes == ["failed", "rebuilt"]
    queue.stop()
